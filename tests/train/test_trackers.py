"""train.report_to (TensorBoard offline, W&B offline) and train.gradient_checkpointing on the tiny model."""

from __future__ import annotations

import pytest
import torch

from cera.adapters.api import adapter_state_dict
from cera.config import ConfigError, check_train
from cera.runs.execute import _prepare
from cera.train import fit


def _fit(cfg, run_dir):
    model, _, data, collator = _prepare(cfg)
    stats = fit(model, data["train"][0], data["val"][0], collator, cfg.train, cfg.lr, cfg.seed, run_dir)
    return model, stats


def test_tensorboard_writes_event_files_into_the_run(compose, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _, stats = _fit(compose("method=cera", "train.report_to=[tensorboard]"), tmp_path / "run")
    events = list((tmp_path / "run" / "tensorboard").glob("events.out.tfevents.*"))
    assert stats["steps"] == 2 and events
    scalars = EventAccumulator(str(events[0].parent)).Reload().Tags()["scalars"]
    assert "train/loss" in scalars and "eval/loss" in scalars
    assert not list((tmp_path / "run" / "checkpoints").glob("runs"))  # nothing among the checkpoints


def test_gradient_checkpointing_trains_the_same_adapter(compose, tmp_path):
    """Recomputing activations changes memory, not the arithmetic: same adapter after 2 steps (no dropout)."""
    plain, _ = _fit(compose("method=cera", "dropout=0"), tmp_path / "plain")
    ckpt, stats = _fit(compose("method=cera", "dropout=0", "train.gradient_checkpointing=true"), tmp_path / "gc")
    assert stats["steps"] == 2
    a, b = adapter_state_dict(plain), adapter_state_dict(ckpt)
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-5, atol=1e-6)
    assert ckpt.base_model.model.is_gradient_checkpointing


@pytest.mark.parametrize("train, message", [
    ({"report_to": ["mlflow"]}, "train.report_to: 'mlflow' is not a tracker: choose from tensorboard, wandb"),
    ({"gradient_checkpointing": "yes"}, "train.gradient_checkpointing='yes' is invalid: true or false"),
])
def test_bad_tracker_settings_are_one_line_errors(compose, train, message):
    cfg = dict(compose().train)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        check_train({**cfg, **train})
