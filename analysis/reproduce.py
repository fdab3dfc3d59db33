"""`make reproduce`'s run plan, derived from the claims, and its executor.

Seeds cost where they buy something: a cell that a claim compares (analysis/claims.yaml, resolved on
the grid the experiments sweep, exactly as the report resolves it) gets ``seeds`` seeds and, in the
budget-checked experiments, a 2x-budget convergence check of seed 0; every other cell (shown in a table
or figure, compared by no claim) gets seed 0 only. One cell reached by two experiments is one run.

The executor runs the plan on ``jobs`` workers (one CPU thread each: on the tiny model two 1-thread
runs train ~1.6x faster than one 2-thread run), longest first so the workers end together, and stops
handing out runs after the first failure. Every run is an ordinary ``python -m cera.run`` of its
experiment, so a relaunch skips what is done and resumes what is not.

    python -m analysis.reproduce               # print the plan
    python -m analysis.reproduce --run         # run it (make reproduce)
"""

from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from analysis.cells import select
from analysis.claims import _pool, cell_where, claim_grid
from analysis.load import _full_row, _variant
from analysis.spec import load_claims, resolve_rank
from cera.config import CONF_DIR

# Every experiment of the embedded reproduction; the ones after table1_downstream add no cell (their
# cells are cells of fig1 / table1), the plan finds that itself.
EXPERIMENTS = ("fig1_scaling_law", "table3_ablation", "fig2_lr_robustness", "table1_downstream",
               "table2_case_study", "fig3_spectra", "fig4_spectra")
# Experiments whose compared cells get the 2x-budget check (README "Convergence"). Fig 2 compares a
# deliberately low learning rate's end point: its cells are not expected to converge in the budget.
CHECKED = ("fig1_scaling_law", "table3_ablation", "table1_downstream")


@dataclass(frozen=True)
class Run:
    experiment: str
    overrides: tuple[str, ...]  # the sweep point, e.g. ("method=lora", "paper_rank=512")
    seed: int
    budget_factor: int
    cost: float  # relative training cost (steps x mean example length): the executor's order

    def argv(self) -> list[str]:
        extra = [f"budget_factor={self.budget_factor}"] if self.budget_factor != 1 else []
        return [f"experiment={self.experiment}", *self.overrides, f"seed={self.seed}", *extra]


def _sweep_points(experiment: str) -> list[tuple[str, ...]]:
    """The experiment's sweep points without the seed (a product of its hydra.sweeper.params)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    raw = yaml.safe_load((CONF_DIR / "experiment" / f"{experiment}.yaml").read_text())
    params = ((raw.get("hydra") or {}).get("sweeper") or {}).get("params") or {}
    parser = OverridesParser.create()
    axes = []
    for key, value in params.items():
        if key == "seed":
            continue
        override = parser.parse_override(f"{key}={value}")
        values = list(override.sweep_string_iterator()) if override.is_sweep_override() else [str(value)]
        axes.append([f"{key}={v}" for v in values])
    return [tuple(point) for point in itertools.product(*axes)]


def _compose(experiment: str, point: tuple[str, ...], extra: tuple[str, ...]) -> dict:
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from cera.config import given_keys, register_resolvers, resolve_rank as resolve_config

    register_resolvers()
    overrides = [f"experiment={experiment}", *point, "seed=0", *extra]
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=overrides)
    given = given_keys(overrides)
    resolve_config(cfg, rank_given="rank" in given, lr_given="lr" in given)
    return OmegaConf.to_container(cfg, resolve=True)


def _mean_length(data: dict, cache: dict) -> float:
    """Mean example length in bytes (the embedded tokenizer's tokens) of a data config's training split."""
    key = yaml.safe_dump(data, sort_keys=True)
    if key not in cache:
        from cera.data.loading import load_splits
        from cera.data.sft import format_prompt

        train = load_splits(data).train
        cache[key] = sum(len((format_prompt(e) + e.response).encode()) for e in train) / max(1, len(train))
    return cache[key]


def planned_cells(experiments=EXPERIMENTS, extra: tuple[str, ...] = ()) -> pd.DataFrame:
    """One row per distinct cell the experiments sweep (the analysis columns of its seed-0 run), with the
    experiment and sweep point that make it and its training cost."""
    rows, lengths = [], {}
    for experiment in experiments:
        for point in _sweep_points(experiment):
            cfg = _compose(experiment, point, extra)
            row = _full_row(Path(f"{experiment}:{','.join(point)}"), cfg, {}, {}, identity_only=True)
            row.update(experiment=experiment, point=point, state="done", is_check=False,
                       cost=cfg["train"]["max_steps"] * _mean_length(cfg["data"], lengths))
            rows.append(row)
    frame = pd.DataFrame(rows)
    frame["variant"] = frame.apply(_variant, axis=1)
    return frame.drop_duplicates("cell_key", keep="first").reset_index(drop=True)


def compared(cells: pd.DataFrame) -> dict[str, list[str]]:
    """cell_key -> the ids of the run claims that compare it (resolved as analysis.claims resolves them)."""
    out: dict[str, list[str]] = {}
    for claim in load_claims():
        if claim.source != "runs":
            continue
        pool = _pool(claim, cells, None)
        grid = claim_grid(claim, pool)
        for cell in claim.cells:
            rank, _ = resolve_rank(cell.rank, grid)
            if rank is None:
                continue
            for key in select(pool, **cell_where(claim, cell, rank))["cell_key"]:
                out.setdefault(key, []).append(claim.id)
    return out


def plan(seeds: int = 3, experiments=EXPERIMENTS, extra: tuple[str, ...] = ()) -> list[Run]:
    """Every run of the reproduction, longest first."""
    cells = planned_cells(experiments, extra)
    claimed = compared(cells)
    runs = []
    for row in cells.itertuples():
        n = seeds if row.cell_key in claimed else 1
        runs += [Run(row.experiment, row.point, s, 1, row.cost) for s in range(n)]
        if row.cell_key in claimed and row.experiment in CHECKED:
            runs.append(Run(row.experiment, row.point, 0, 2, 2 * row.cost))
    return sorted(runs, key=lambda r: -r.cost)


def execute(runs: list[Run], jobs: int, outputs: Path, extra: tuple[str, ...] = ()) -> int:
    """Run the plan on `jobs` 1-thread workers (logs: <outputs>/logs/reproduce-<worker>.log); 0 when all
    finished, else 1 (no new run starts after a failure)."""
    logs = outputs / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "CERA_OUTPUTS": str(outputs)}
    todo, failed, start = list(runs), [], time.time()
    lock = threading.Lock()

    def worker(i: int) -> None:
        while True:
            with lock:
                if failed or not todo:
                    return
                run, n = todo.pop(0), len(runs) - len(todo)
            argv = [sys.executable, "-m", "cera.run", *run.argv(), "train.progress_bar=false", *extra]
            print(f"[{time.time() - start:6.0f}s] worker {i}: run {n}/{len(runs)}: {' '.join(run.argv())}", flush=True)
            with open(logs / f"reproduce-{i}.log", "a") as log:
                rc = subprocess.call(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
            if rc != 0:
                with lock:
                    failed.append(f"{' '.join(run.argv())} (exit {rc}; see {logs / f'reproduce-{i}.log'})")

    with ThreadPoolExecutor(jobs) as pool:
        list(pool.map(worker, range(jobs)))
    for line in failed:
        print(f"reproduce: failed: {line}", file=sys.stderr)
    print(f"reproduce: {len(runs) - len(todo) - len(failed)} of {len(runs)} runs finished in "
          f"{time.time() - start:.0f} s", flush=True)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analysis.reproduce", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="seeds of every cell a claim compares (default 3)")
    parser.add_argument("--jobs", type=int, default=2, help="runs trained at once, one CPU thread each (default 2)")
    parser.add_argument("--outputs", default=os.environ.get("CERA_OUTPUTS", "outputs"), help="outputs directory (logs/)")
    parser.add_argument("--run", action="store_true", help="run the plan (default: print it)")
    parser.add_argument("overrides", nargs="*", help="extra config overrides for every run (e.g. model=...)")
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.jobs < 1:
        parser.error(f"--seeds={args.seeds} and --jobs={args.jobs} must be >= 1")
    runs = plan(args.seeds, extra=tuple(args.overrides))
    total = sum(r.cost for r in runs)
    if not args.run:
        for r in runs:
            print(f"{r.cost / total:6.1%}  {' '.join(r.argv())}")
        print(f"{len(runs)} runs ({sum(r.budget_factor == 2 for r in runs)} of them 2x-budget checks)")
        return 0
    return execute(runs, args.jobs, Path(args.outputs), tuple(args.overrides))


if __name__ == "__main__":
    sys.exit(main())
