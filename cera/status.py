"""``python -m cera.status <sweep dir | outputs dir | run dir>``: every run's state, progress and
last metric, read from the run directories only.

So it works for any launcher (basic, local, SLURM), for a sweep still in flight (a detached one
included: ``python -m cera.submit``) and for one that ended long ago. Jobs submitted but not yet
started have no run directory; they are listed as ``pending`` from submitit's job folders
(``<sweep>/.submitit/<job id>/``: a job that has started has a log file there).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
from omegaconf import OmegaConf

from cera.integrity import CorruptFile, read_jsonl_checked
from cera.runs.record import read_run
from cera.runs.summary import sweep_jobs


def _curve_tail(run_dir: Path) -> dict:
    """The newest step, loss and validation PPL in curve.jsonl (the last line of each kind);
    ``CorruptFile`` if a line is not a JSON object."""
    tail: dict = {}
    for row in read_jsonl_checked(run_dir / "curve.jsonl") or []:
        tail.update({k: row[k] for k in ("step", "loss", "val_ppl") if k in row})
    return tail


def _max_steps(run_dir: Path):
    try:
        return OmegaConf.load(run_dir / "config.yaml").train.max_steps
    except Exception:  # noqa: BLE001 - absent or unreadable config.yaml: progress shows '?'
        return None


def _ago(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds}s" if seconds < 120 else f"{seconds // 60}m" if seconds < 7200 else f"{seconds // 3600}h"


def active_slurm_jobs() -> set[str] | None:
    """Ids of the jobs SLURM still knows (pending, running, requeued); None without SLURM."""
    if shutil.which("squeue") is None:
        return None
    out = subprocess.run(["squeue", "-h", "-o", "%A"], capture_output=True, text=True, timeout=30)
    return set(out.stdout.split()) if out.returncode == 0 else None


def run_row(run_dir: Path, now: float | None = None, active: set[str] | None = None) -> dict:
    status, results, problem = read_run(run_dir)
    try:
        tail = _curve_tail(run_dir)
    except CorruptFile as exc:
        tail, problem = {}, problem or str(exc)
    steps = tail.get("step", 0)
    if problem:
        metric = problem
    elif results.get("test_ppl") is not None:
        metric = f"test_ppl {results['test_ppl']:.3f}"
    elif "val_ppl" in tail or "loss" in tail:
        metric = f"val_ppl {tail['val_ppl']:.3f}" if "val_ppl" in tail else f"loss {tail['loss']:.4f}"
    else:
        metric = status.get("error", "-")
    files = [p for p in (run_dir / "status.json", run_dir / "curve.jsonl") if p.exists()]
    updated = max((p.stat().st_mtime for p in files), default=None)
    job = (status.get("hardware") or {}).get("slurm", {}).get("SLURM_JOB_ID")
    state = "corrupt" if problem else status.get("state", "not started")
    if state == "running" and job and active is not None and job not in active:
        state = "interrupted"  # its SLURM job is gone without recording an end (OOM kill, node failure, ...)
    return {
        "run": run_dir.name,
        "state": state,
        "progress": f"{steps}/{_max_steps(run_dir) or '?'}",
        "last metric": metric,
        "updated": f"{_ago((now or time.time()) - updated)} ago" if updated else "-",
        "job": job or "-",
    }


def _job_folders(folder: Path) -> list[tuple[str, str]]:
    """(job id, pending | started | finished) for every submitit job folder under ``folder``."""
    jobs = []
    for job in sorted(p for p in folder.glob("*") if p.is_dir() and any(p.glob("*_submitted.pkl"))):
        if any(job.glob("*_result.pkl")):
            jobs.append((job.name, "finished"))
        else:
            jobs.append((job.name, "started" if any(job.glob("*_log.out")) else "pending"))
    return jobs


def collect(path: Path, active: set[str] | None = None) -> tuple[list[dict], list[str]]:
    """Rows for the runs under ``path`` and notes (driver and pending-job lines). ``active``: the
    SLURM jobs still queued or running; a ``running`` run whose job is not among them is shown
    as ``interrupted``."""
    notes: list[str] = []
    if (path / "status.json").is_file():
        return [run_row(path, active=active)], notes
    if (path / "runs").is_dir():
        return [run_row(p, active=active) for p in sorted((path / "runs").iterdir()) if p.is_dir() and not p.name.startswith(".")], notes
    if not (path / ".submitit").is_dir() and not (path / ".driver").is_dir() and not any(path.glob("*/run.json")):
        raise ValueError(f"{path} is not a sweep, outputs or run directory "
                         "(expected <sweep>/<job>/run.json, <outputs>/runs/ or <run>/status.json)")
    for job, state in _job_folders(path / ".driver"):
        notes.append(f"driver job {job}: {state}")
    rows = [run_row(Path(job.get("run_dir", "")), active=active) if not job.get("skipped") else
            {"run": Path(job.get("run_dir", "")).name, "state": "skipped", "progress": "-",
             "last metric": job["skipped"], "updated": "-", "job": "-"} for job in sweep_jobs(path)]
    pending = [job for job, state in _job_folders(path / ".submitit") if state == "pending"]
    rows += [{"run": f"(job {job})", "state": "pending", "progress": "-", "last metric": "-", "updated": "-",
              "job": job} for job in pending]
    if not rows and (path / ".driver").is_dir():
        notes.append("no job submitted yet (the driver submits them when it starts)")
    return rows, notes


def format_status(rows: list[dict]) -> str:
    counts = pd.Series([r["state"] for r in rows], dtype=object).value_counts()
    head = f"{len(rows)} runs: " + ", ".join(f"{n} {s}" for s, n in counts.items())
    return head if not rows else head + "\n" + pd.DataFrame(rows).to_string(index=False)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0].startswith("-"):
        print("usage: python -m cera.status <sweep dir | outputs dir | run dir>", file=sys.stderr)
        return 2
    try:
        rows, notes = collect(Path(argv[0]), active_slurm_jobs())
    except ValueError as exc:
        print(f"cera: error: {exc}", file=sys.stderr)
        return 2
    print("\n".join([*notes, format_status(rows)]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
