"""Sweep summary: one line per run (state, PPL, trainable params, time, greedy pass@1 with its 95% CI
per downstream task), from run directories only.

It reads what jobs wrote, never in-memory results, so it works the same for the local, submitit
and SLURM launchers and for a sweep inspected long after it ran.
"""

from __future__ import annotations

import logging
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from cera.io import read_json
from cera.runs.record import read_run

log = logging.getLogger(__name__)
COLUMNS = ("run", "state", "test_ppl", "trainable_params", "wall_seconds")


def sweep_jobs(sweep_dir: str | Path) -> list[dict]:
    """Every started job's run.json pointer, in job order: ``run_dir`` and, for a job that found its
    run directory locked by another live job, ``skipped`` (why)."""
    pointers = sorted(Path(sweep_dir).glob("*/run.json"), key=lambda p: int(p.parent.name)
                      if p.parent.name.isdigit() else 0)
    return [read_json(p) or {"run_dir": ""} for p in pointers]


def sweep_run_dirs(sweep_dir: str | Path) -> list[Path]:
    """The run directory of every started job of a sweep, in job order (each job's run.json pointer)."""
    return [Path(job.get("run_dir", "")) for job in sweep_jobs(sweep_dir)]


def sweep_rows(sweep_dir: str | Path) -> list[dict]:
    rows = []
    for job in sweep_jobs(sweep_dir):
        run_dir = Path(job.get("run_dir", ""))
        if job.get("skipped"):
            rows.append({"run": run_dir.name, "state": "skipped"})
            continue
        status, results, problem = read_run(run_dir)
        if problem:
            log.warning(problem)
            rows.append({"run": run_dir.name, "state": "corrupt"})
            continue
        rows.append({"run": run_dir.name, "state": status.get("state", "not started"), **results})
    return rows


def _fmt(value, column: str) -> str:
    if value is None:
        return "-"
    if column == "test_ppl":
        return f"{value:.3f}"
    if column == "trainable_params":
        return f"{value:,}"
    if column == "wall_seconds":
        return f"{value:.0f}s"
    return str(value)


def _task_columns(rows: list[dict]) -> list[str]:
    """One greedy pass@1 column per downstream task that any run measured."""
    tasks = {t for r in rows for t in ((r.get("downstream") or {}).get("tasks") or {})}
    return [f"{t} pass@1" for t in sorted(tasks)]


def _task_cell(row: dict, column: str) -> str:
    task = column.rsplit(" ", 1)[0]
    m = ((row.get("downstream") or {}).get("tasks") or {}).get(task, {}).get("pass@1_greedy")
    return f"{m['value']:.2f} [{m['lo']:.2f}, {m['hi']:.2f}]" if m else "-"


def format_table(rows: list[dict]) -> str:
    tasks = _task_columns(rows)
    columns = [*COLUMNS, *tasks]
    cells = [[_fmt(r.get(c), c) for c in COLUMNS] + [_task_cell(r, c) for c in tasks] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    line = lambda vals: "  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(vals, widths)))  # noqa: E731
    return "\n".join([line(columns), line(["-" * w for w in widths])] + [line(r) for r in cells])


class SweepSummary(Callback):
    """Hydra callback: print the summary table when a multirun ends."""

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        rows = sweep_rows(config.hydra.sweep.dir)
        counts = {s: sum(r["state"] == s for r in rows) for s in sorted({r["state"] for r in rows})}
        print(f"\nSweep summary ({config.hydra.sweep.dir}): {len(rows)} runs, "
              + ", ".join(f"{n} {s}" for s, n in counts.items()))
        print(format_table(rows), flush=True)
