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

# 400 steps of the tiny model take ~10 s (80 took ~1 s: the signal landed after training had ended):
# room to signal mid-training; save_every=1000 means no periodic checkpoint, so the one the run
# resumes from can only be the one the signal made
STEPS = 400
RUN = [*TINY, "method=cera", "rank=4", "dropout=0.3", f"train.max_steps={STEPS}", "train.save_every=1000",
       "train.eval_every=100"]


def _curve(run_dir):
    path = run_dir / "curve.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def _popen(args, env, outputs):
    """Output goes to a file, not a pipe: a pipe nobody reads fills up and blocks a long run."""
    outputs.mkdir(parents=True)
    with open(outputs / "console.log", "w") as log:
        return subprocess.Popen([sys.executable, "-m", "cera.run", *args], cwd=REPO,
                                env={**env, "CERA_OUTPUTS": str(outputs)}, stdout=log, stderr=subprocess.STDOUT)


def _console(outputs) -> str:
    return (outputs / "console.log").read_text()


def _job_ids(outputs):
    return [p.name for p in outputs.glob("sweeps/*/.submitit/*") if p.name[0].isdigit()]


def _release_when_requeued(job: str, timeout: float = 120) -> None:
    """SLURM holds a requeued job back ~2 min (BeginTime); let it start at once to keep the test short."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        state = subprocess.run(["squeue", "-h", "-j", job, "-o", "%T"], capture_output=True, text=True).stdout.strip()
        if state == "PENDING" and subprocess.run(  # not while COMPLETING: the requeue resets BeginTime
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

    assert sweep.wait(timeout=300) == 0 and "1 runs, 1 done" in _console(tmp_path / "slurm"), \
        _console(tmp_path / "slurm")[-3000:]
    assert reference.wait(timeout=300) == 0, _console(tmp_path / "reference")[-3000:]

    resumed = run_dirs(tmp_path / "slurm")["cera"]
    straight = run_dirs(tmp_path / "reference")["cera"]
    assert resumed.name == straight.name  # same config, same run directory name
    results = json.loads((resumed / "results.json").read_text())
    assert results["resumed_from"] and 0 < int(results["resumed_from"].split("-")[1]) < STEPS, results
    assert status_of(resumed)["hardware"]["slurm"].get("SLURM_RESTART_COUNT") == "1"  # the requeued job finished it
    expected = json.loads((straight / "results.json").read_text())
    assert results["test_ppl"] == expected["test_ppl"] and results["test_nll"] == expected["test_nll"]
    assert [(r["step"], r.get("loss"), r.get("eval_loss")) for r in _curve(resumed)] == \
           [(r["step"], r.get("loss"), r.get("eval_loss")) for r in _curve(straight)]
