"""SIGTERM and Ctrl-C on a local run (a real ``python -m cera.run`` process): a checkpoint at the end
of the current step, the state ``interrupted``, exit 128 + signal, and a relaunch that resumes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, TINY

pytestmark = pytest.mark.slow
# long enough that the signal lands mid-training; no periodic checkpoint, so any checkpoint is the signal's
LONG = ["rank=4", "train.max_steps=400", "train.save_every=1000", "train.eval_every=1000", "train.log_every=1"]


def _launch(env: dict) -> subprocess.Popen:
    # as from a terminal: a shell's background job would start with SIGINT ignored, and Python keeps that
    return subprocess.Popen([sys.executable, "-m", "cera.run", *TINY, *LONG], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _wait_for_training(proc: subprocess.Popen, run_dir: Path, timeout: float = 600) -> None:
    """Until the curve holds a training-loss point (the Trainer is inside its step loop)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        curve = run_dir / "curve.jsonl"
        if curve.exists() and any("loss" in json.loads(line) for line in curve.read_text().splitlines()):
            return
        time.sleep(0.2)
    raise AssertionError("training never started")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_checkpoints_records_interrupted_and_relaunch_resumes(cli_env, compose, sig):
    from cera.runs.naming import run_dir_for

    run_dir = run_dir_for(compose(*LONG))
    proc = _launch(cli_env)
    _wait_for_training(proc, run_dir)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 128 + sig, err[-3000:]
    assert err.strip().splitlines()[-1].startswith(f"cera: run {run_dir.name} interrupted: stopped by {sig.name}")
    status = json.loads((run_dir / "status.json").read_text())
    ckpts = [p.name for p in (run_dir / "checkpoints").glob("checkpoint-*")]
    assert status["state"] == "interrupted" and status["signal"] == sig.name, status
    assert ckpts == [f"checkpoint-{status['step']}"] and 0 < status["step"] < 400  # the step it was at
    assert not (run_dir / "results.json").exists()

    again = _launch(cli_env)
    _, err = again.communicate(timeout=900)
    assert again.returncode == 0, err[-3000:]
    results = json.loads((run_dir / "results.json").read_text())
    assert results["resumed_from"] == ckpts[0] and results["steps"] == 400
    final = json.loads((run_dir / "status.json").read_text())
    assert final["state"] == "done" and "signal" not in final
    assert [h["state"] for h in final["history"]] == ["running", "interrupted", "running", "done"]
