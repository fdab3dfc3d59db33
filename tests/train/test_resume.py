"""Resuming from a checkpoint gives exactly the run that was never interrupted (CPU, fp32)."""

from __future__ import annotations

import json

import torch
from transformers import TrainerCallback

from cera.adapters.api import adapter_state_dict
from cera.runs.execute import _prepare
from cera.train import fit


class StopAt(TrainerCallback):
    """Ends training after ``step`` (after that step's checkpoint is written), like a preemption."""

    def __init__(self, step: int):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            control.should_training_stop = True
        return control


def _fit(cfg, run_dir, callbacks=()):
    model, _, data, collator = _prepare(cfg)
    stats = fit(model, data["train"][0], data["val"][0], collator, cfg.train, cfg.lr, cfg.seed, run_dir, callbacks)
    return model, stats


def test_resume_matches_uninterrupted(compose, tmp_path):
    cfg = compose("method=cera", "dropout=0.3", "train.max_steps=6", "train.save_every=3", "train.eval_every=3")
    straight, _ = _fit(cfg, tmp_path / "straight")

    _, first = _fit(cfg, tmp_path / "resumed", callbacks=(StopAt(3),))
    assert first["steps"] == 3
    assert (tmp_path / "resumed" / "checkpoints" / "checkpoint-3" / "adapter_model.safetensors").is_file()
    resumed, second = _fit(cfg, tmp_path / "resumed")
    assert second["resumed_from"] == "checkpoint-3" and second["steps"] == 6

    a, b = adapter_state_dict(straight), adapter_state_dict(resumed)
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name

    def losses(path):
        return [(r["step"], r["loss"]) for r in map(json.loads, path.read_text().splitlines()) if "loss" in r]

    assert losses(tmp_path / "straight" / "curve.jsonl") == losses(tmp_path / "resumed" / "curve.jsonl")
