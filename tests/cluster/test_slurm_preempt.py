"""A SLURM job signalled mid-training (as on preemption) checkpoints at once, requeues itself and
resumes in the same run directory, ending exactly where an uninterrupted run ends (CPU, fp32)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from tests.cluster.conftest import SLURM, TINY, run_dirs, status_of
from tests.conftest import REPO

pytestmark = pytest.mark.slow

# 80 steps of the tiny model take ~10 s: room to signal mid-training; save_every=1000 means no
# periodic checkpoint, so the one the run resumes from can only be the one the signal made
RUN = [*TINY, "method=cera", "rank=4", "dropout=0.3", "train.max_steps=80", "train.save_every=1000",
       "train.eval_every=40"]


def _curve(run_dir):
    path = run_dir / "curve.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def _popen(args, env, outputs):
    return subprocess.Popen([sys.executable, "-m", "cera.run", *args], cwd=REPO, env={**env, "CERA_OUTPUTS": str(outputs)},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _job_ids(outputs):
    return [p.name for p in outputs.glob("sweeps/*/.submitit/*") if p.name[0].isdigit()]


def _release_when_requeued(job: str, timeout: float = 120) -> None:
    """SLURM holds a requeued job back ~2 min (BeginTime); let it start at once to keep the test short."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        state = subprocess.run(["squeue", "-h", "-j", job, "-o", "%T"], capture_output=True, text=True).stdout.strip()
        if state in ("PENDING", "COMPLETING", "REQUEUED", "REQUEUE_HOLD") and subprocess.run(
                ["scontrol", "update", f"jobid={job}", "starttime=now"], capture_output=True).returncode == 0:
            return
        time.sleep(0.2)
    pytest.fail(f"job {job} was not requeued within {timeout:.0f}s")


def test_signalled_job_checkpoints_requeues_and_resumes_exactly(slurm, cli_env, tmp_path):
    reference = _popen(RUN, cli_env, tmp_path / "reference")  # same seed, never interrupted, in-process
    sweep = _popen(["-m", *RUN, *SLURM], cli_env, tmp_path / "slurm")

    deadline = time.time() + 180
    while time.time() < deadline:  # wait until the job is training (a few loss points in the curve)
        runs = list((tmp_path / "slurm" / "runs").glob("*"))
        if runs and sum("loss" in r for r in _curve(runs[0])) >= 3:
            break
        time.sleep(0.2)
    else:
        pytest.fail("the SLURM job never started training")
    (job,) = _job_ids(tmp_path / "slurm")
    subprocess.run(["scancel", "--signal=USR2", job], check=True)  # what SLURM sends before preemption/time-out
    _release_when_requeued(job)

    out, _ = sweep.communicate(timeout=300)
    assert sweep.returncode == 0 and "1 runs, 1 done" in out, out[-3000:]
    assert reference.wait(timeout=300) == 0, reference.stdout.read()[-3000:]

    resumed = run_dirs(tmp_path / "slurm")["cera"]
    straight = run_dirs(tmp_path / "reference")["cera"]
    assert resumed.name == straight.name  # same config, same run directory name
    results = json.loads((resumed / "results.json").read_text())
    assert results["resumed_from"] and 0 < int(results["resumed_from"].split("-")[1]) < 80, results
    assert status_of(resumed)["hardware"]["slurm"].get("SLURM_RESTART_COUNT") == "1"  # the requeued job finished it
    expected = json.loads((straight / "results.json").read_text())
    assert results["test_ppl"] == expected["test_ppl"] and results["test_nll"] == expected["test_nll"]
    assert [(r["step"], r.get("loss"), r.get("eval_loss")) for r in _curve(resumed)] == \
           [(r["step"], r.get("loss"), r.get("eval_loss")) for r in _curve(straight)]
