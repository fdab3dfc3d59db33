"""The claims report: every claim of analysis/claims.yaml judged on the runs of one tier (model and
protocol), with our numbers, 95% CIs, the minimum detectable effect (MDE, analysis.power) beside the
paper's effect size, and a verdict.

Verdicts. "<" / ">": *reproduced* when the comparison separates in the claimed direction, *not
reproduced* when it separates the other way, *inside noise* when it does not separate — then
"underpowered" when the MDE exceeds the paper's effect (the test is too small to see it) or "the test
could see the paper's effect" when it does not; "not run" when a cell has no finished run. PPL
comparisons use the paired per-sequence bootstrap over seed-matched runs (analysis.paired); pass@k
comparisons the normal interval of the difference whose SE is at least the binomial floor for the
number of problems (every seed answers the same problems, so a seed-level CI alone is too narrow);
the rest (and PPL cells without a matched seed) compare the cells' 95% CIs. "≈" (a plateau, or
"matches"): never called on a cell that is not shown converged; *reproduced* when the comparison's CI
lies inside ±margin, *not reproduced* when it separates. A chain (ablation order) holds when every neighbour pair holds.
Every row names the cells it used that did not pass the convergence check (or were not checked).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from analysis.cells import cell_stats, fmt, mixed_marker, one_config, paper_lr, select
from analysis.load import INSTRUCT_DATA, MATH_DATA, rank_label
from analysis.paired import paired_rows
from analysis.power import Z_MDE, binomial_mde, cells_df, cells_se, fmt_effect, mde
from analysis.spec import METRICS, Cell, Claim, load_claims, resolve_rank
from cera.eval.stats import t_quantile

DATA_SETS = {"instruct": INSTRUCT_DATA, "math": MATH_DATA}
COLUMNS = ["claim", "cells", "paper", "ours (95% CI)", "effect: ours / paper", "MDE (80%, 5%)", "verdict", "caveats"]


def _variant(method, activation) -> str:
    return f"{method}_{activation}" if isinstance(activation, str) and activation not in ("silu", "") else str(method)


def _pool(claim: Claim, runs: pd.DataFrame, mechanism: pd.DataFrame | None) -> pd.DataFrame:
    """The rows a claim draws its cells from: the runs of its data kind, or the mechanism fits."""
    if claim.source == "mechanism":
        if mechanism is None or mechanism.empty:
            return pd.DataFrame(columns=["variant", "rank", "dropout", "lr", "state", "method", "target"])
        mech = mechanism.copy()
        if "variant" not in mech:  # the documented minimum: method + activation name the variant
            mech["variant"] = [_variant(m, a) for m, a in zip(mech["method"], mech.get("activation", [None] * len(mech)))]
        if "target" not in mech:
            mech["target"] = "nonlinear"
        mech["lr"], mech["state"] = mech["method"].map(paper_lr), "done"
        return mech
    if runs.empty:
        return runs
    return runs[runs["data"].isin(DATA_SETS[claim.data])]


def claim_grid(claim: Claim, pool: pd.DataFrame) -> list[int]:
    """The ranks a claim's rank-relative cells resolve against: every rank its variants have in its pool."""
    variants = {c.variant for c in claim.cells}
    return sorted({int(r) for r in pool.loc[pool["variant"].isin(variants), "rank"].dropna()}) if len(pool) else []


def cell_where(claim: Claim, cell: Cell, rank: int | None) -> dict:
    """The `select` arguments of one claim cell at its resolved rank: which rows are that cell."""
    mech = claim.source == "mechanism"
    lr_where = {"lr_factor": cell.lr_value(1.0)} if cell.relative_lr and not mech else {"lr": cell.lr_value(paper_lr(cell.variant))}
    where = {"variant": cell.variant, "rank": rank, **lr_where}
    if cell.dropout is None and not mech:
        where["default_dropout"] = True
    elif cell.dropout is not None:
        where["dropout"] = cell.dropout
    if mech:
        where["target"] = cell.target or "nonlinear"
    return where


def _flag(value) -> bool | None:
    """converged as True / False / None (not checked): the column mixes bools and NaN."""
    return bool(value) if isinstance(value, (bool, np.bool_)) else None


class _Resolved:
    """One cell of a claim on one tier: its rows, statistics, label and convergence."""

    def __init__(self, claim: Claim, cell: Cell, pool: pd.DataFrame, grid: list[int]):
        self.rank, why = resolve_rank(cell.rank, grid)
        mech = claim.source == "mechanism"
        self.dropout = cell.dropout if cell.dropout is not None or mech else 0.1  # runs: the protocol's (paper 0.1)
        self.lr = cell.lr_value(paper_lr(cell.variant))
        where = cell_where(claim, cell, self.rank)
        lr_where = {k: where[k] for k in ("lr", "lr_factor") if k in where}
        selected = select(pool, **where) if self.rank is not None else pool.iloc[0:0]
        self.rows, self.mixed = one_config(selected)  # runs of different configs: no rows, never pooled
        done = self.rows[self.rows["state"] == "done"] if len(self.rows) else self.rows
        self.stats = cell_stats(done, claim.metric, **lr_where) if len(done) else {
            "value": math.nan, "lo": math.nan, "hi": math.nan, "n": 0, "ci": "", "not_done": len(self.rows),
            "mixed": self.mixed}
        named = done if len(done) else selected  # a mixed cell is still labelled with its paper rank
        paper_ranks = set(named["paper_rank"].dropna()) if "paper_rank" in named else set()
        rank_text = rank_label(self.rank, paper_ranks.pop() if len(paper_ranks) == 1 else math.nan) \
            if self.rank is not None else f"{'r' * cell.rank.isdigit()}{cell.rank} ({why})"
        extra = "" if self.dropout in (None, 0.1) or mech else f" p={self.dropout:g}"
        extra += f" ({cell.target} target)" if cell.target else ""
        extra += "" if cell.lr == "paper" else f" lr={cell.lr}" if cell.relative_lr else f" lr={self.lr:.0e}"
        self.label = f"{cell.variant} {rank_text}{extra}"
        flags = [_flag(v) for v in (done["converged"] if "converged" in done else [None] * len(done))]
        self.unconverged, self.unchecked = flags.count(False), flags.count(None)
        self.missing = math.isnan(self.stats["value"])


def _fmt_value(claim: Claim, stats: dict) -> str:
    if claim.percent:
        return fmt(stats, 1, 100, clip=(0, 1))
    if claim.scale == "diff":
        return fmt(stats, 3, clip=(0, 1))
    return fmt(stats, 3)


def _pair(claim: Claim, a: _Resolved, b: _Resolved, i: int) -> dict:
    """Effect (claim scale), its CI, MDE and the direction it separates in (+1: a > b, −1: a < b, 0: none)."""
    out = {"effect": math.nan, "lo": math.nan, "hi": math.nan, "mde": math.nan, "sep": 0, "paired": None,
           "paper": claim.paper_effect(i)}
    if a.missing or b.missing:
        return out
    va, vb = a.stats["value"], b.stats["value"]
    if claim.metric == "test_ppl":
        paired = paired_rows(a.rows, b.rows)
        if paired:
            out.update(effect=math.log(paired["ratio"]), lo=math.log(paired["lo"]), hi=math.log(paired["hi"]),
                       mde=mde(paired["se_log"], paired["df"]), paired=paired)
            out["sep"] = 1 if out["lo"] > 0 else -1 if out["hi"] < 0 else 0
            return out
    log = claim.scale == "ratio"
    if log and (va <= 0 or vb <= 0):
        log = False
    out["effect"] = math.log(va / vb) if log else va - vb
    se, df = cells_se(a.stats, b.stats, log=log), cells_df(a.stats, b.stats, log=log)
    out["mde"] = mde(se, df)
    lo = lambda s: s["lo"] if not math.isnan(s["lo"]) else s["value"]  # noqa: E731
    hi = lambda s: s["hi"] if not math.isnan(s["hi"]) else s["value"]  # noqa: E731
    out["sep"] = 1 if lo(a.stats) > hi(b.stats) else -1 if hi(a.stats) < lo(b.stats) else 0
    binom = METRICS.get(claim.metric, {}).get("binomial")
    counted = binom and binom in a.rows and binom in b.rows and a.rows[binom].notna().any() \
        and b.rows[binom].notna().any()
    if counted:
        # every seed answers the same problems, so a seed-level CI misses the problem sampling noise: the
        # SE is at least the binomial floor's (power.binomial_mde), and the verdict uses the effect's interval
        floor = binomial_mde(vb, int(a.rows[binom].min()), int(b.rows[binom].min()), increase=claim.relation != "<")
        if math.isnan(out["mde"]) or floor > out["mde"]:
            out["mde"], se, df = floor, floor / Z_MDE, math.inf
    if not math.isnan(se):  # t interval of the effect with the MDE's ν (the ≈ verdict needs one)
        half = (t_quantile(0.95, df) if math.isfinite(df) else 1.959964) * se
        out["lo"], out["hi"] = out["effect"] - half, out["effect"] + half
        if counted:
            out["sep"] = 1 if out["lo"] > 0 else -1 if out["hi"] < 0 else 0
    return out


def _pair_verdict(claim: Claim, p: dict) -> str:
    want = -1 if claim.relation == "<" else 1
    if p["sep"] == want:
        return "reproduced"
    if p["sep"] == -want:
        return "not reproduced"
    return "inside noise"


def _underpowered(claim: Claim, pairs: list[dict]) -> bool | None:
    """True when some pair's MDE exceeds the paper's effect (or the plateau margin); None if unknown."""
    if claim.relation == "≈":
        return any(p["mde"] > _bound(claim) for p in pairs if not math.isnan(p["mde"]))
    known = [(p["mde"], abs(p["paper"])) for p in pairs if p["paper"] is not None and not math.isnan(p["mde"])]
    return any(m > e for m, e in known) if known else None


def judge(claim: Claim, runs: pd.DataFrame, mechanism: pd.DataFrame | None = None) -> dict:
    """One row of the claims table: the claim judged on one tier's runs (or the mechanism fits)."""
    pool = _pool(claim, runs, mechanism)
    grid = claim_grid(claim, pool)
    cells = [_Resolved(claim, c, pool, grid) for c in claim.cells]
    pairs = [_pair(claim, a, b, i) for i, (a, b) in enumerate(zip(cells, cells[1:]))]
    rel = f" {claim.relation} "
    row = {"claim": f"{claim.artifact}: {claim.claim}",
           "cells": rel.join(c.label for c in cells),
           "paper": rel.join(f"{v:g}" for v in claim.paper) if claim.paper else "shown in a figure, not quantified",
           "ours (95% CI)": rel.join(_fmt_value(claim, c.stats) for c in cells)}
    effects = [f"{fmt_effect(p['effect'], claim.scale)} [{fmt_effect(p['lo'], claim.scale)}, "
               f"{fmt_effect(p['hi'], claim.scale)}]" if p["paired"] else fmt_effect(p["effect"], claim.scale)
               for p in pairs]
    paper_eff = [fmt_effect(p["paper"], claim.scale) if p["paper"] is not None else "—" for p in pairs]
    row["effect: ours / paper"] = "; ".join(f"{o} / {e}" for o, e in zip(effects, paper_eff))
    row["MDE (80%, 5%)"] = "; ".join(fmt_effect(p["mde"], claim.scale, signed=False) for p in pairs)
    caveats = []
    if any(p["paired"] for p in pairs):
        n = [p["paired"] for p in pairs if p["paired"]][0]
        caveats.append(f"paired over {n['n']} sequences, {n['seeds']} seed{'s' * (n['seeds'] != 1)}")
    seeds = sorted({c.stats["n"] for c in cells if not c.missing})
    if seeds:
        caveats.append(f"seeds per cell {'/'.join(map(str, seeds))}")
    bad = [c.label for c in cells if c.unconverged]
    unchecked = [c.label for c in cells if c.unchecked and not c.unconverged]
    if bad:
        caveats.append("NOT CONVERGED: " + ", ".join(bad))
    if unchecked:
        caveats.append("convergence not checked: " + ", ".join(unchecked))
    row["caveats"] = "; ".join(caveats)
    missing = [c.label for c in cells if c.missing]
    mixed = [f"{c.label}: {mixed_marker(c.mixed)}" for c in cells if c.mixed]
    if mixed:  # never a verdict on pooled configs (analysis.cells.one_config)
        row["verdict"] = "not judged (" + "; ".join(mixed) + ")"
    elif missing:
        row["verdict"] = "not run (" + ", ".join(missing) + ")"
    elif claim.relation == "≈":
        row["verdict"] = _plateau(claim, pairs[0], bad or unchecked)
    else:
        steps = [_pair_verdict(claim, p) for p in pairs]
        verdict = ("reproduced" if all(s == "reproduced" for s in steps) else
                   "not reproduced" if "not reproduced" in steps else "inside noise")
        if verdict == "inside noise":
            if claim.scale == "diff" and all(c.stats["value"] == 0 for c in cells):
                verdict += " (all at 0: floor)"
            under = _underpowered(claim, pairs)
            verdict += {True: ", underpowered (MDE > paper effect)",
                        False: " (the test could see the paper's effect)"}.get(under, "")
        row["verdict"] = verdict
    row["control"], row["id"] = claim.control, claim.id
    return row


def _bound(claim: Claim) -> float:
    """The ≈ margin on the comparison scale: relative (log ratio) or points (difference of fractions)."""
    return math.log1p(claim.margin) if claim.scale == "ratio" else claim.margin


def _margin_text(claim: Claim) -> str:
    return f"±{claim.margin:.0%}" if claim.scale == "ratio" else f"±{claim.margin * 100:.1f} pts"


def _plateau(claim: Claim, p: dict, not_converged: list[str]) -> str:
    """≈ (a plateau, or "matches"): only on converged cells; reproduced when the CI lies within ±margin."""
    if not_converged:
        return "no plateau call: cells not shown converged"
    if p["sep"] != 0:
        return "not reproduced (the cells differ)"
    bound = _bound(claim)
    if not math.isnan(p["lo"]) and -bound <= p["lo"] and p["hi"] <= bound:
        return f"reproduced (within {_margin_text(claim)})"
    if not math.isnan(p["mde"]) and p["mde"] > bound:
        return f"inside noise, underpowered (MDE > {_margin_text(claim)} margin)"
    return "inside noise"


def tier_claims(runs: pd.DataFrame, claims: list[Claim] | None = None) -> pd.DataFrame:
    """Every run-based claim on one tier's (already selected) runs."""
    claims = load_claims() if claims is None else claims
    return pd.DataFrame([judge(c, runs) for c in claims if c.source == "runs"])


def mechanism_claims(mechanism: pd.DataFrame | None, claims: list[Claim] | None = None) -> pd.DataFrame:
    claims = load_claims() if claims is None else claims
    return pd.DataFrame([judge(c, pd.DataFrame(), mechanism) for c in claims if c.source == "mechanism"])


def control_banner(tables: dict[str, pd.DataFrame]) -> list[str]:
    """Loud lines for every positive control that ran and was not detected (and those that did not run)."""
    lines = []
    for tier, frame in tables.items():
        if frame.empty or "control" not in frame:
            continue
        for row in frame[frame["control"]].itertuples():
            if row.verdict.startswith(("not run", "not judged")):
                lines.append(f"Positive control `{row.id}` {row.verdict.split(' (')[0]} on {tier}: {row.verdict}.")
            elif row.verdict != "reproduced":
                lines.append(f"**WARNING — POSITIVE CONTROL FAILED on {tier}: the testbed did not detect a known "
                             f"large effect ({row.cells}: {row.verdict}). Its 'inside noise' verdicts say "
                             f"nothing about the paper.**" + _same_cells_plateau(frame, row.cells))
    return lines


def _same_cells_plateau(frame: pd.DataFrame, cells: str) -> str:
    """A note when a reproduced plateau compares the same cells: then the control cannot tell a real
    plateau from a blind testbed (the paper's own claim predicts no difference there)."""
    for row in frame.itertuples():
        if isinstance(row.cells, str) and row.verdict.startswith("reproduced") and " ≈ " in row.cells \
                and row.cells.replace(" ≈ ", " > ") == cells.replace(" < ", " > "):
            return (f" (The same cells reproduce the plateau '{row.claim}': on this tier this control cannot "
                    "separate a real plateau from a blind testbed; see the other controls.)")
    return ""


def claims(runs: pd.DataFrame, bench: dict | None = None) -> pd.DataFrame:
    """Backwards-compatible single table: the run-based claims on `runs` plus the §4.5 rows."""
    from analysis.bench_claims import bench_claims

    frame = tier_claims(runs)
    return pd.concat([frame, bench_claims(bench)], ignore_index=True) if bench else frame

