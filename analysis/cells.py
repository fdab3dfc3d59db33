"""Cells: every config value except the seed. A cell's number is the mean over its finished seeds
with a 95% CI — Student-t over seeds when there are ≥ 2, else that one run's bootstrap CI over test
sequences / problems (labelled, so a reader knows which spread it is)."""

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


def select(runs: pd.DataFrame, **where) -> pd.DataFrame:
    """The rows of one cell: every `where` key equal (floats: numerically close), at the paper lr unless asked."""
    rows = runs
    factor = where.pop("lr_factor", None)
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


def cell_stats(runs: pd.DataFrame, metric: str, **where) -> dict:
    """{value, lo, hi, n, ci, not_done} of `metric` over the done runs matching `where` (see `select`)."""
    rows = select(runs, **where)
    total = len(rows)
    done = rows[(rows["state"] == "done")] if "state" in rows else rows
    values = done[metric].dropna() if metric in done else pd.Series(dtype=float)
    out = {"value": math.nan, "lo": math.nan, "hi": math.nan, "n": len(values), "ci": "",
           "not_done": total - len(done)}
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
    """'3.81 [3.76, 3.86]' (value and 95% CI), '3.81' when no CI, '—' for a gap. `clip` bounds the
    interval to the metric's range (a t-interval of a rate can cross 0)."""
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
