"""Did a cell's step budget converge? The 2x-budget rule, recorded in every run's ``results.json``.

Under a cosine schedule every loss curve flattens as the learning rate decays, converged or not, so
a flat tail proves nothing. The rule: a budget of B steps *passes* when the same cell (same config
and seed, everything but ``train.max_steps``) trained for 2B steps, with the same schedule shape,
lowers test perplexity by less than 1% relative:

    gain = (PPL_B - PPL_2B) / PPL_B  < 0.01

A check run is launched with ``budget_factor=2`` (README: "Convergence"). Every run records
``convergence = {passed, gain, budget, check_run, rule}``: ``passed`` is null until its check exists.
The record is refreshed for the whole cell whenever a run of that cell finishes, so the order in
which a budget and its check finish does not matter. The seed-matched check is used when there is
one, else the check of the lowest seed (the budget is a property of the cell, checked once).

Concurrency: refreshes of one runs directory take turns (a lock of their own, ``REFRESH_LOCK``), so two
runs of a cell finishing together cannot each write a record computed before the other's result
existed. Another run's ``results.json`` is re-read and rewritten only under that run's own lock
(``cera.runs.lock``, the one its job and ``cera.evaluate`` hold); a run whose lock is held is left
alone after a short wait, because every holder that writes ``results.json`` refreshes the cell
itself afterwards.
"""

from __future__ import annotations

import contextlib
import logging
import math
import sys
import time
from pathlib import Path

from cera.io import atomic_write_json, read_json
from cera.runs.lock import RunBusy, RunLock

log = logging.getLogger(__name__)
REFRESH_LOCK = ".convergence"  # RunLock name (<runs_dir>/.locks/.convergence.lock) that refreshes take in turn
REFRESH_WAIT = 300.0  # seconds a refresh waits for the one before it (a refresh reads a few hundred small files)
RUN_WAIT = 2.0        # seconds it waits for another run's lock (a relaunch that skips a done run holds it briefly)

THRESHOLD = 0.01
RULE = ("budget B passes when the same cell and seed trained for 2B steps (same schedule shape) "
        f"lowers test PPL by < {THRESHOLD:.0%} relative")


def _done_results(runs_dir: Path) -> list[tuple[Path, dict]]:
    out = []
    for run_dir in sorted(p for p in Path(runs_dir).iterdir() if p.is_dir() and not p.name.startswith(".")):
        results = read_json(run_dir / "results.json")
        if isinstance(results, dict) and results.get("cell_id") and isinstance(results.get("budget"), int):
            out.append((run_dir, results))
    return out


def gain(ppl_budget: float, ppl_check: float) -> float:
    """Relative improvement of the 2x run over the budget run (positive = the 2x run is better)."""
    return (ppl_budget - ppl_check) / ppl_budget


def verdicts(runs: list[tuple[Path, dict]]) -> dict[Path, dict]:
    """The convergence record of every run in ``runs`` (pairs within a cell: budget B and 2B)."""
    by_cell: dict[tuple[str, int], list[tuple[Path, dict]]] = {}
    for run_dir, res in runs:
        by_cell.setdefault((res["cell_id"], res["budget"]), []).append((run_dir, res))
    records = {}
    for (cell, budget), members in by_cell.items():
        checks = sorted(by_cell.get((cell, 2 * budget), []), key=lambda m: (m[1].get("seed", 0), m[0].name))
        for run_dir, res in members:
            record = {"passed": None, "gain": None, "budget": budget, "check_run": None, "rule": RULE}
            same_seed = [c for c in checks if c[1].get("seed") == res.get("seed")]
            check = (same_seed or checks or [None])[0]
            if check is not None:
                ppl, ppl2 = res.get("test_ppl"), check[1].get("test_ppl")
                record["check_run"] = check[0].name
                if _finite(ppl) and _finite(ppl2):
                    g = gain(ppl, ppl2)
                    record.update(gain=round(g, 6), passed=bool(g < THRESHOLD))
            records[run_dir] = record
    return records


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and x > 0


def _acquire(lock: RunLock, timeout: float) -> RunLock:
    """Take `lock`, retrying for up to `timeout` seconds (RunLock itself never waits); RunBusy after."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return lock.acquire()
        except RunBusy:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@contextlib.contextmanager
def _held(lock: RunLock, timeout: float):
    _acquire(lock, timeout)
    try:
        yield
    finally:
        lock.release()


def _write_record(run_dir: Path, record: dict) -> None:
    results = read_json(run_dir / "results.json")  # re-read under the lock: never write back a stale copy
    if isinstance(results, dict) and results.get("convergence") != record:
        atomic_write_json(run_dir / "results.json", {**results, "convergence": record})


def refresh(runs_dir: str | Path, cell: str | None = None, held: str | Path | None = None) -> dict[Path, dict]:
    """Recompute the records (of one cell, or all) and write those that changed into results.json.

    `held`: the run directory whose lock the caller already holds (a job refreshing its own cell).
    """
    runs_dir = Path(runs_dir)
    with _held(RunLock(runs_dir / REFRESH_LOCK), timeout=REFRESH_WAIT):
        runs = _done_results(runs_dir)
        if cell is not None:
            runs = [r for r in runs if r[1]["cell_id"] == cell]
        records = verdicts(runs)
        for run_dir, res in runs:
            if res.get("convergence") == records[run_dir]:
                continue
            if held is not None and run_dir.name == Path(held).name:
                _write_record(run_dir, records[run_dir])
                continue
            try:
                with _held(RunLock(run_dir), timeout=RUN_WAIT):
                    _write_record(run_dir, records[run_dir])
            except RunBusy:  # a job or evaluation holds it; both refresh the cell after they write
                log.info("convergence record of %s left to the process holding it", run_dir.name)
    return records


def main(argv: list[str] | None = None) -> int:
    """``python -m cera.runs.convergence [runs_dir]``: refresh every record and print the cells."""
    argv = sys.argv[1:] if argv is None else argv
    runs_dir = Path(argv[0] if argv else "outputs/runs")
    if not runs_dir.is_dir():
        print(f"cera: error: {runs_dir} is not a directory of runs (give outputs/runs or $CERA_OUTPUTS/runs)",
              file=sys.stderr)
        return 2
    records = refresh(runs_dir)
    checked = {d: r for d, r in records.items() if r["check_run"]}
    print(f"{len(records)} finished runs, {len(checked)} with a 2x-budget check ({RULE})")
    for run_dir, r in sorted(checked.items()):
        verdict = "passed" if r["passed"] else ("FAILED" if r["passed"] is False else "no PPL")
        gain_s = f"{r['gain']:+.2%}" if r["gain"] is not None else "—"
        print(f"  {run_dir.name}: budget {r['budget']} steps, gain at 2x {gain_s} → {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
