"""Detached submission: `python -m cera.submit` returns while the sweep has not run yet, and
`python -m cera.status` then follows it from pending/running to done."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.cluster.conftest import SLURM, TINY, cera_run

pytestmark = pytest.mark.slow


def test_submit_returns_at_once_and_status_follows_the_sweep(slurm, cli_env, tmp_path):
    launcher = [a for a in SLURM if a != "hydra/launcher=slurm"]  # cera.submit picks the slurm launcher itself
    out = cera_run(["method=lora,cera", "rank=4", *TINY, "train.max_steps=20", *launcher, "--driver-time", "15"],
                   cli_env, module="cera.submit")
    assert out.returncode == 0, out.stderr[-3000:]
    sweep_dir = Path(re.search(r"sweep dir: (\S+)", out.stdout).group(1))
    assert sweep_dir.parent == tmp_path / "outputs" / "sweeps"
    assert not list((tmp_path / "outputs").glob("runs/*/results.json"))  # returned before any job finished

    seen, deadline = [], time.time() + 240
    while time.time() < deadline:
        status = cera_run([str(sweep_dir)], cli_env, module="cera.status")
        assert status.returncode == 0, status.stderr
        seen.append(status.stdout)
        if "2 runs: 2 done" in status.stdout:
            break
        time.sleep(2)
    assert "2 runs: 2 done" in seen[-1], seen[-1]
    assert any("pending" in s or "running" in s or "no job submitted yet" in s for s in seen[:-1]), seen
    assert "lora-r4" in seen[-1] and "cera-r4" in seen[-1] and "test_ppl" in seen[-1]


def test_submit_bad_input_fails_before_submitting(slurm, cli_env, tmp_path):
    out = cera_run(["method=lora,foo", *TINY], cli_env, module="cera.submit")
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[-1].startswith("cera: error: method=foo is not a known method")
    assert not (tmp_path / "outputs").exists()
