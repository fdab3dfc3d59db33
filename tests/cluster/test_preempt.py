"""Preemption without SLURM: the signal to our own process makes training checkpoint at once, hand
the signal on to the handler that was there before (submitit's, in a SLURM job), and a re-launch
resumes from that checkpoint to exactly the result of an uninterrupted run (CPU, fp32)."""

from __future__ import annotations

import json
import os
import signal

import pytest
import torch
from transformers import TrainerCallback

from cera.adapters.api import adapter_state_dict
from cera.runs.execute import _prepare
from cera.train import fit
from cera.train.preempt import Preempted, PreemptionGuard


class SignalAt(TrainerCallback):
    """Sends the preemption signal to this process at the end of ``step`` (like ``scancel --signal``)."""

    def __init__(self, step: int):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            os.kill(os.getpid(), signal.SIGUSR2)


@pytest.fixture
def recorder():
    """Stands in for submitit's handler (which would requeue and exit): records, then returns."""
    calls = []
    previous = signal.signal(signal.SIGUSR2, lambda signum, frame: calls.append(signum))
    yield calls
    signal.signal(signal.SIGUSR2, previous)


def _fit(cfg, run_dir, callbacks=()):
    model, _, data, collator = _prepare(cfg)
    stats = fit(model, data["train"][0], data["val"][0], collator, cfg.train, cfg.lr, cfg.seed, run_dir, callbacks)
    return model, stats


def _losses(path):
    return [(r["step"], r["loss"]) for r in map(json.loads, path.read_text().splitlines()) if "loss" in r]


def test_signal_checkpoints_at_once_hands_over_and_resumes_exactly(compose, tmp_path, recorder):
    # save_every=100: no periodic checkpoint exists, so any checkpoint is the one the signal made
    cfg = compose("method=cera", "dropout=0.3", "train.max_steps=6", "train.save_every=100", "train.eval_every=3")
    straight, _ = _fit(cfg, tmp_path / "straight")

    with pytest.raises(Preempted):
        _fit(cfg, tmp_path / "run", callbacks=(SignalAt(2),))
    assert recorder == [signal.SIGUSR2]  # the displaced handler got the signal, after the checkpoint
    ckpts = sorted(p.name for p in (tmp_path / "run" / "checkpoints").glob("checkpoint-*"))
    assert len(ckpts) == 1 and ckpts[0] in ("checkpoint-2", "checkpoint-3"), ckpts  # the very next step end
    assert signal.getsignal(signal.SIGUSR2) is not signal.SIG_DFL  # our handler is gone, the old one back

    resumed, stats = _fit(cfg, tmp_path / "run")
    assert stats["resumed_from"] == ckpts[0] and stats["steps"] == 6
    a, b = adapter_state_dict(straight), adapter_state_dict(resumed)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert _losses(tmp_path / "straight" / "curve.jsonl") == _losses(tmp_path / "run" / "curve.jsonl")


def test_guard_only_while_active(recorder):
    guard = PreemptionGuard(signal.SIGUSR2)
    with guard:
        os.kill(os.getpid(), signal.SIGUSR2)
        assert guard.signalled and recorder == []  # held back while training
    os.kill(os.getpid(), signal.SIGUSR2)  # outside training: straight to the previous handler
    assert recorder == [signal.SIGUSR2]


def test_ignored_signal_stays_ignored():
    previous = signal.signal(signal.SIGUSR2, signal.SIG_IGN)
    try:
        with PreemptionGuard(signal.SIGUSR2) as guard:
            assert not guard.active and signal.getsignal(signal.SIGUSR2) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGUSR2, previous)


def test_signal_name_from_submitit_env(monkeypatch):
    from cera.train.preempt import preemption_signal

    monkeypatch.setenv("SUBMITIT_PREEMPT_SIGNAL", "USR1")
    assert preemption_signal() == signal.SIGUSR1
    monkeypatch.delenv("SUBMITIT_PREEMPT_SIGNAL")
    assert preemption_signal() == signal.SIGUSR2
