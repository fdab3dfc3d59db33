"""Paired PPL comparison of two cells: same seed, same test sequences, so sequence-level noise
cancels (a tighter test than comparing two seed-level CIs).

Per matched seed, d_i = nll_a,i − nll_b,i over the shared sequences (pooled across seeds) goes to
`cera.eval.stats.paired_bootstrap`. Since PPL = exp(Σ nll / Σ tokens) and the token counts are
equal, the PPL ratio a/b = exp(mean(d) / mean(tokens)); the interval maps the same way. The
result also carries the SE of the log ratio (sequence and seed noise, analysis.power.paired_se) for
the comparison's minimum detectable effect.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.cells import at_paper_lr
from analysis.power import paired_df, paired_se
from cera.eval.stats import paired_bootstrap


def _by_seed(rows: pd.DataFrame) -> dict:
    if rows.empty or "run_dir" not in rows:
        return {}
    rows = rows[rows["state"] == "done"]
    return {seed: Path(d) for seed, d in zip(rows["seed"], rows["run_dir"])}


def _done_by_seed(runs: pd.DataFrame, where: dict) -> dict:
    if runs.empty or "run_dir" not in runs:
        return {}
    rows = at_paper_lr(runs)
    for key, value in where.items():
        rows = rows[rows[key] == value]
    return _by_seed(rows)


def _sequences(run_dir: Path) -> tuple[list, list] | None:
    try:
        seqs = json.loads((run_dir / "ppl_sequences.json").read_text())
        return seqs["nll_sum"], seqs["tokens"]
    except (OSError, ValueError, KeyError):
        return None


def paired_ppl_ratio(runs: pd.DataFrame, a: dict, b: dict) -> dict | None:
    """{ratio, lo, hi, p_value, seeds, n, se_log, df} for PPL(a)/PPL(b) of the cells `a`, `b` (column: value),
    or None when no seed pairs up."""
    return compare(_done_by_seed(runs, a), _done_by_seed(runs, b))


def paired_rows(rows_a: pd.DataFrame, rows_b: pd.DataFrame) -> dict | None:
    """`paired_ppl_ratio` of two already selected cells (their run rows)."""
    return compare(_by_seed(rows_a), _by_seed(rows_b))


def compare(runs_a: dict, runs_b: dict) -> dict | None:
    nll_a, nll_b, tokens, seeds, seed_logs = [], [], [], [], []
    for seed in sorted(set(runs_a) & set(runs_b)):
        sa, sb = _sequences(runs_a[seed]), _sequences(runs_b[seed])
        if not sa or not sb or sa[1] != sb[1]:  # not the same sequences: no pairing
            continue
        nll_a += sa[0]
        nll_b += sb[0]
        tokens += sa[1]
        seeds.append(seed)
        seed_logs.append((sum(sa[0]) - sum(sb[0])) / sum(sa[1]))
    if not seeds:
        return None
    res = paired_bootstrap(nll_a, nll_b, higher_is_better=False)
    scale = float(np.mean(tokens))
    d = np.asarray(nll_a) - np.asarray(nll_b)
    return {"ratio": math.exp(res["diff"] / scale), "lo": math.exp(res["lo"] / scale),
            "hi": math.exp(res["hi"] / scale), "p_value": res["p_value"], "seeds": len(seeds), "n": res["n"],
            "se_log": paired_se(d, scale, seed_logs), "df": paired_df(d, scale, seed_logs)}


def fmt_ratio(res: dict | None) -> str:
    if res is None:
        return "no paired runs"
    return (f"paired PPL ratio {res['ratio']:.3f} [{res['lo']:.3f}, {res['hi']:.3f}], "
            f"{res['n']} sequences over {res['seeds']} seeds")


def ratio_verdict(res: dict | None, fallback: str) -> str:
    """ratio < 1 is the claimed direction; an interval straddling 1 is inside noise."""
    if res is None:
        return fallback
    return "reproduced" if res["hi"] < 1 else "not reproduced" if res["lo"] > 1 else "inside noise"
