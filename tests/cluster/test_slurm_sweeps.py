"""Sweeps through `hydra/launcher=slurm` on a real (local) SLURM cluster: results, fault isolation,
re-launch of only what is not done."""

from __future__ import annotations

import pytest

from tests.cluster.conftest import SLURM, TINY, cera_run, run_dirs, status_of

pytestmark = pytest.mark.slow


def test_three_run_sweep_completes_with_results(slurm, cli_env, tmp_path):
    out = cera_run(["-m", "method=lora,cera,pera", "rank=4", *TINY, *SLURM], cli_env)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "3 runs, 3 done" in out.stdout, out.stdout[-2000:]
    runs = run_dirs(tmp_path / "outputs")
    assert sorted(runs) == ["cera", "lora", "pera"]
    job_ids = set()
    for run in runs.values():
        status = status_of(run)
        assert status["state"] == "done" and (run / "results.json").is_file()
        job_ids.add(status["hardware"]["slurm"]["SLURM_JOB_ID"])  # each ran inside its own SLURM job
    assert len(job_ids) == 3


def test_failing_job_is_isolated_recorded_and_alone_relaunched(slurm, cli_env, tmp_path, compose):
    from cera.runs.naming import run_dir_for

    sweep = ["-m", "method=lora,cera,pera", "rank=4", *TINY, *SLURM]
    # make the CeRA job fail inside training: its checkpoint folder is taken by a file
    blocker = run_dir_for(compose("method=cera", "rank=4")) / "checkpoints"
    blocker.parent.mkdir(parents=True)
    blocker.write_text("not a folder")

    out = cera_run(sweep, cli_env)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "3 runs, 2 done, 1 failed" in out.stdout, out.stdout[-2000:]
    runs = run_dirs(tmp_path / "outputs")
    failed = status_of(runs["cera"])
    assert failed["state"] == "failed" and "checkpoints" in failed["error"]
    assert "Traceback (most recent call last)" in (runs["cera"] / "error.txt").read_text()
    before = {m: status_of(runs[m])["history"] for m in ("lora", "pera")}

    blocker.unlink()  # the cause is fixed; the same sweep again re-runs the failed job only
    again = cera_run(sweep, cli_env)
    assert again.returncode == 0 and "3 runs, 3 done" in again.stdout, again.stdout[-2000:]
    assert {m: status_of(runs[m])["history"] for m in ("lora", "pera")} == before  # untouched
    history = [h["state"] for h in status_of(runs["cera"])["history"]]
    assert history == ["running", "failed", "running", "done"]
