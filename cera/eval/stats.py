"""Confidence intervals and paired comparisons for the result tables (SPEC §3).

Every accuracy and perplexity in a table carries a 95% interval, and a difference between two
methods is called only when it is outside the noise. Two sources of noise, two tools:

* over problems (one run): percentile bootstrap — resample the n problems with replacement
  B times, recompute the statistic, take the (α/2, 1−α/2) quantiles of the B replicates;
* over seeds (several runs): Student-t interval  mean ± t_{1−α/2, m−1} · s / √m.

Two runs scored on the same problems are compared *paired* (per-problem differences), which
removes the problem-difficulty variance both runs share; binary outcomes also get McNemar's
exact test. All resampling is seeded and vectorised: indices are one (B × n) integer draw.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
import numpy as np
from scipy.stats import binomtest
from scipy.stats import t as t_dist

def _vector(values, name: str) -> np.ndarray:
    """1-D float64, non-empty, finite: one value per problem (or sequence, or seed)."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D sequence of numbers, got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name}: empty input")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name}: contains NaN or inf")
    return array


def _same_length(a: np.ndarray, b: np.ndarray, what: str) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{what}: length mismatch, {a.size} vs {b.size}; both must score the same items")


def _replicate_indices(n: int, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot × n) indices drawn with replacement; the same seed gives the same replicates."""
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    return np.random.default_rng(seed).integers(0, n, size=(n_boot, n))


def _percentile_interval(replicates: np.ndarray, level: float) -> tuple[float, float]:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    lo, hi = np.quantile(replicates, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def bootstrap_ci(values: Sequence[float], stat: Callable = np.mean, n_boot: int = 2000,
                 level: float = 0.95, seed: int = 0) -> tuple[float, float, float]:  # fmt: skip
    """(point, lo, hi): stat over per-problem values and its percentile-bootstrap interval.

    `stat` must reduce along `axis=` like the numpy reductions (np.mean, np.median).
    """
    x = _vector(values, "bootstrap_ci")
    replicates = stat(x[_replicate_indices(x.size, n_boot, seed)], axis=1)
    return (float(stat(x)), *_percentile_interval(replicates, level))


def ppl_ci(nll_sums: Sequence[float], token_counts: Sequence[float], n_boot: int = 2000,
           level: float = 0.95, seed: int = 0) -> tuple[float, float, float]:  # fmt: skip
    """(ppl, lo, hi) for token-weighted PPL = exp(Σ nll / Σ tokens), bootstrapping sequences.

    Each replicate resamples whole sequences and recomputes the ratio of sums (not a mean of
    per-sequence PPLs), so long sequences weigh as they do in the point estimate. Sequences with
    0 scored tokens carry no information and are dropped.
    """
    nll, tok = _vector(nll_sums, "ppl_ci nll_sums"), _vector(token_counts, "ppl_ci token_counts")
    _same_length(nll, tok, "ppl_ci")
    if np.any(tok < 0) or np.any((tok == 0) & (nll != 0)):
        raise ValueError("ppl_ci: token counts must be >= 0, and a sequence with 0 tokens must have nll 0")
    keep = tok > 0
    if not keep.any():
        raise ValueError("ppl_ci: no sequence has a scored token")
    nll, tok = nll[keep], tok[keep]
    idx = _replicate_indices(nll.size, n_boot, seed)
    replicates = np.exp(nll[idx].sum(axis=1) / tok[idx].sum(axis=1))
    return (float(np.exp(nll.sum() / tok.sum())), *_percentile_interval(replicates, level))


def t_quantile(level: float, df: int) -> float:
    """Two-sided Student-t critical value t_{(1+level)/2, df} (scipy.stats.t)."""
    if df < 1:
        raise ValueError(f"t quantile needs df >= 1, got {df}")
    return float(t_dist.ppf((1 + level) / 2, df))


def across_seeds(values: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """(mean, lo, hi) over per-seed results: mean ± t_{(1+level)/2, m−1} · s / √m, s with ddof=1.

    One seed has no spread to estimate: lo = hi = NaN rather than a fake zero-width interval.
    """
    x = _vector(values, "across_seeds")
    mean = float(x.mean())
    if x.size == 1:
        return mean, math.nan, math.nan
    half = t_quantile(level, x.size - 1) * float(x.std(ddof=1)) / math.sqrt(x.size)
    return mean, mean - half, mean + half


def paired_bootstrap(a: Sequence[float], b: Sequence[float], n_boot: int = 2000, level: float = 0.95,
                     seed: int = 0, higher_is_better: bool = True) -> dict:  # fmt: skip
    """Compare two runs scored on the same problems (a[i], b[i] belong to problem i).

    Bootstraps d_i = a_i − b_i: returns diff = mean(d), its percentile interval [lo, hi], a
    two-sided p ≈ min(1, 2 · min(P*(d̄* ≤ 0), P*(d̄* ≥ 0))) from the replicates, and a verdict:
    "inside noise" when lo ≤ 0 ≤ hi, else "a better"/"b better" (flip `higher_is_better` for
    losses and perplexities).
    """
    x, y = _vector(a, "paired_bootstrap a"), _vector(b, "paired_bootstrap b")
    _same_length(x, y, "paired_bootstrap")
    d = x - y
    replicates = d[_replicate_indices(d.size, n_boot, seed)].mean(axis=1)
    lo, hi = _percentile_interval(replicates, level)
    tail = min(np.mean(replicates <= 0), np.mean(replicates >= 0))
    diff = float(d.mean())
    if lo <= 0 <= hi:
        verdict = "inside noise"
    else:
        verdict = "a better" if (diff > 0) == higher_is_better else "b better"
    return {"diff": diff, "lo": lo, "hi": hi, "p_value": float(min(1.0, 2 * tail)), "verdict": verdict,
            "n": int(d.size)}  # fmt: skip


def mcnemar(a_correct: Sequence[bool], b_correct: Sequence[bool]) -> dict:
    """McNemar's exact test on paired binary outcomes.

    Only discordant problems inform the comparison: a_only (a right, b wrong), b_only. Under
    H0 each discordant problem goes either way with probability ½: the two-sided exact binomial
    test of a_only successes in m = a_only + b_only trials (scipy.stats.binomtest; m = 0 ⇒ p = 1).
    """
    x, y = _vector(a_correct, "mcnemar a_correct"), _vector(b_correct, "mcnemar b_correct")
    _same_length(x, y, "mcnemar")
    if not (np.isin(x, (0, 1)).all() and np.isin(y, (0, 1)).all()):
        raise ValueError("mcnemar: outcomes must be binary (0/1 or bool)")
    a_only, b_only = int(np.sum((x == 1) & (y == 0))), int(np.sum((x == 0) & (y == 1)))
    m = a_only + b_only
    p_value = 1.0 if m == 0 else float(binomtest(a_only, m, 0.5).pvalue)
    return {"a_only": a_only, "b_only": b_only, "p_value": p_value}
