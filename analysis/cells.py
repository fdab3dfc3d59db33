"""Cells: every config value except the seed. A cell's number is the mean over its finished seeds
with a 95% CI — Student-t over seeds when there are ≥ 2, else that one run's bootstrap CI over test
sequences / problems (labelled, so a reader knows which spread it is).

A cell is named by a few columns (`CELL`), but it is the runs' whole training identity without the seed
(analysis.load's `cell_key`) that makes them seeds of one condition: when the runs a cell's columns
match differ in any other key (e.g. model.target_modules, the synthetic generators), they are never
pooled; the cell reads "mixed configs (<keys>)" and `mixed_cells` names the keys and their values.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from cera.eval.stats import across_seeds

PAPER_LR = {"dora": 1e-4}  # every other method: 3e-4 (SPEC §1)
CELL = ["variant", "method", "rank", "dropout", "lr", "data"]


def default_lr(rows: pd.DataFrame) -> pd.Series:
    """Each row's default learning rate: its config's method.lr (the protocol's value for its method and rank,
    conf/protocol/), else the paper's for its method."""
    paper = rows["method"].map(PAPER_LR).fillna(3e-4)
    if "method_lr" not in rows:
        return paper
    return pd.to_numeric(rows["method_lr"], errors="coerce").astype(float).fillna(paper)


def at_paper_lr(rows: pd.DataFrame, factor: float = 1.0) -> pd.DataFrame:
    """The rows trained at `factor` × their default learning rate (`default_lr`: the protocol's; Fig 2's lr
    sweep is not a cell of the others)."""
    if rows.empty:
        return rows
    return rows[np.isclose(rows["lr"].astype(float), default_lr(rows) * factor)]


def paper_lr(variant: str) -> float:
    """The paper's learning rate of a method (variant 'cera_relu' → method 'cera')."""
    return PAPER_LR.get(str(variant).split("_")[0], 3e-4)


def without_checks(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows that are not 2x-budget convergence checks (analysis.load's `is_check`)."""
    return rows[~rows["is_check"].eq(True)] if "is_check" in rows and not rows.empty else rows


def select(runs: pd.DataFrame, **where) -> pd.DataFrame:
    """The rows of one cell: every `where` key equal (floats: numerically close), at the paper lr unless asked,
    without the 2x-budget convergence checks (`is_check`) unless asked (`checks=True`). The rows may still
    span several configs: `one_config` tells."""
    rows = runs
    factor = where.pop("lr_factor", None)
    if not where.pop("checks", False):
        rows = without_checks(rows)
    if where.pop("default_dropout", False) and not rows.empty:  # the protocol's dropout for each row's method
        default = rows["default_dropout"] if "default_dropout" in rows else pd.Series(0.1, index=rows.index)
        rows = rows[np.isclose(pd.to_numeric(rows["dropout"], errors="coerce").astype(float), default.astype(float))]
    if "lr" not in where:  # a cell is at the method's default (protocol) lr, or a factor of it, unless asked
        rows = at_paper_lr(rows, 1.0 if factor is None else factor)
    for key, value in where.items():
        if rows.empty:
            break
        if isinstance(value, (set, list, tuple)):
            rows = rows[rows[key].isin(value)]
        elif isinstance(value, float):
            rows = rows[np.isclose(pd.to_numeric(rows[key], errors="coerce").astype(float), value)]
        else:
            rows = rows[rows[key] == value]
    return rows


def _flat(config, prefix: str = "") -> dict:
    """{'model.target_modules': [...], ...}: a nested config as dotted keys."""
    if not isinstance(config, dict):
        return {prefix: config}
    out = {}
    for key, value in config.items():
        out.update(_flat(value, f"{prefix}{key}.") if isinstance(value, dict) and value else {f"{prefix}{key}": value})
    return out


def differences(rows: pd.DataFrame) -> dict[str, list]:
    """{dotted key: its distinct values} for every config key on which the rows' `cell_config`s differ; keys
    every run has first (a changed value), then keys some runs lack (one cera version added them)."""
    flats = [_flat(c) if isinstance(c, dict) else {} for c in rows.get("cell_config", [])]
    out = {}
    for key in sorted(set().union(*flats)) if flats else []:
        values = []
        for flat in flats:
            if flat.get(key, "(absent)") not in values:
                values.append(flat.get(key, "(absent)"))
        if len(values) > 1:
            out[key] = values
    return dict(sorted(out.items(), key=lambda kv: "(absent)" in kv[1]))  # stable: by key within each group


def one_config(rows: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """(rows, {}) when the rows are runs of one config (one `cell_key`: seeds of one condition), else
    (no rows, `differences`): a cell never pools runs of different configs, nor counts a seed twice."""
    if rows.empty or "cell_key" not in rows or rows["cell_key"].nunique(dropna=False) <= 1:
        return rows, {}
    return rows.iloc[0:0], differences(rows) or {"cell_key": sorted(rows["cell_key"].astype(str).unique())}


def _show(value) -> str:
    if isinstance(value, (list, tuple)) and len(value) > 4:
        return f"[{_show(value[0])}, ..., {_show(value[-1])}] ({len(value)})"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)


def describe(diff: dict, most: int = 4) -> str:
    """'model.target_modules: [q_proj, v_proj] vs [q_proj, ..., down_proj] (7)': what differs, with values."""
    parts = [f"{k}: {' vs '.join(_show(v) for v in values)}" for k, values in list(diff.items())[:most]]
    return "; ".join(parts) + (f"; and {len(diff) - most} more keys" if len(diff) > most else "")


def mixed_marker(diff: dict) -> str:
    """The table cell of a cell whose runs differ in config: 'mixed configs (model.target_modules)'."""
    keys = list(diff)
    return f"mixed configs ({', '.join(keys[:3])}{', ...' if len(keys) > 3 else ''})"


def mixed_cells(runs: pd.DataFrame, columns: tuple[str, ...] = tuple(CELL)) -> list[str]:
    """One line per cell (same `columns`, checks left out) whose runs differ in another config key."""
    if runs.empty or "cell_key" not in runs:
        return []
    rows = without_checks(runs)
    keys = [c for c in columns if c in rows]
    lines = []
    for values, group in rows.groupby(keys, dropna=False, sort=True):
        if group["cell_key"].nunique(dropna=False) > 1:
            name = " ".join(f"{k}={v}" for k, v in zip(keys, values) if k not in ("method",))
            lines.append(f"{name}: {len(group)} runs of {group['cell_key'].nunique()} configs, not pooled "
                         f"(shown as 'mixed configs'): {describe(differences(group))}")
    return lines


def cell_stats(runs: pd.DataFrame, metric: str, **where) -> dict:
    """{value, lo, hi, n, ci, not_done, mixed} of `metric` over the done runs matching `where` (see `select`);
    `mixed` (the `differences`) and no value when those runs are not of one config (`one_config`)."""
    rows, mixed = one_config(select(runs, **where))
    total = len(rows)
    done = rows[(rows["state"] == "done")] if "state" in rows else rows
    values = done[metric].dropna() if metric in done else pd.Series(dtype=float)
    out = {"value": math.nan, "lo": math.nan, "hi": math.nan, "n": len(values), "ci": "",
           "not_done": total - len(done), "mixed": mixed}
    if values.empty:
        return out
    if len(values) >= 2:
        out["value"], out["lo"], out["hi"] = across_seeds(values.tolist())
        out["ci"] = f"t over {len(values)} seeds"
    else:
        only = done.loc[values.index[0]]
        out["value"] = float(values.iloc[0])
        out["lo"], out["hi"] = only.get(f"{metric}_lo", math.nan), only.get(f"{metric}_hi", math.nan)
        if not isinstance(out["lo"], float) or math.isnan(out["lo"]):
            out["lo"], out["hi"] = only.get(f"{metric} lo", math.nan), only.get(f"{metric} hi", math.nan)
        out["ci"] = "bootstrap, 1 seed"
    return out


def fmt(stats: dict, digits: int = 2, scale: float = 1.0, clip: tuple[float, float] | None = None) -> str:
    """'3.81 [3.76, 3.86]' (value and 95% CI), '3.81' when no CI, '—' for a gap, the `mixed_marker` for
    runs of different configs. `clip` bounds the
    interval to the metric's range (a t-interval of a rate can cross 0)."""
    if stats.get("mixed"):
        return mixed_marker(stats["mixed"])
    value = stats.get("value", math.nan)
    if value is None or math.isnan(value):
        return "—"
    lo, hi = stats.get("lo", math.nan), stats.get("hi", math.nan)
    if clip and not (math.isnan(lo) or math.isnan(hi)):
        lo, hi = max(clip[0], lo), min(clip[1], hi)
    text = f"{value * scale:.{digits}f}"
    if lo is not None and hi is not None and not (math.isnan(lo) or math.isnan(hi)):
        text += f" [{lo * scale:.{digits}f}, {hi * scale:.{digits}f}]"
    return text
