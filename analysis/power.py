"""Minimum detectable effect (MDE) of a comparison: the smallest true difference that a two-sided test
at the 5% level detects with 80% power, given the noise the comparison actually has.

    MDE = (t_{0.975, ν} + t_{0.80, ν}) · SE_diff          ν: the comparison's degrees of freedom

With ν → ∞ this is the normal MDE, (z_{0.975} + z_{0.80}) · SE_diff = 2.8016 · SE_diff. With 3 seeds per
cell ν is small and the multiplier large (ν = 4: 3.72; ν = 2: 5.36), which is the point: a normal
quantile would claim a test of 3 seeds sees effects 1.3–1.9× smaller than it does.

SE_diff, by comparison kind (all on the claim's scale: log ratio for PPL, effective rank, AUC-90 and
residuals; difference of fractions for pass@k and rates):

* two cells, each a mean over m ≥ 2 seeds with a Student-t interval [lo, hi]:
  SE = (hi − lo) / (2 · t_{0.975, m−1}) per cell (= s/√m), SE_diff = √(SE_a² + SE_b²), ν by
  Welch–Satterthwaite: ν = SE_diff⁴ / (SE_a⁴/(m_a−1) + SE_b⁴/(m_b−1)) (two cells of 3 seeds with equal
  spread: ν = 4). A single-seed cell uses its bootstrap interval, SE = (hi − lo) / (2 · 1.96), with
  ν = ∞ (its noise is per-sequence, n large). On the log scale SE_log = SE / mean (ν unchanged).
* paired PPL (seed-matched runs on the same test sequences): per-sequence NLL differences d_i pooled over
  n sequences give SE_seq = sd(d) / √n / mean tokens per sequence (in log PPL, ν_seq = n − 1); the
  per-seed log PPL ratios ℓ_s add the training-seed noise SE_seed = sd(ℓ) / √m (m ≥ 2, ν_seed = m − 1),
  SE_diff = √(SE_seq² + SE_seed²), ν by Welch–Satterthwaite over the two terms.
* pass@k proportions over n problems (binomial floor, Cohen's h): a difference of arcsine-transformed
  proportions has SE = √(1/n_a + 1/n_b), so h_MDE = 2.8016 · √(1/n_a + 1/n_b) (normal: the arcsine
  transform's own large-n approximation), and the MDE in points above the reference cell's rate p_b is
  sin²(asin √p_b + h_MDE/2) − p_b. It stays meaningful at p_b = 0 (where a binomial SE is 0); the row's
  MDE is the larger of this and the seed-level one.

ν is itself estimated from the observed variances, so read the MDE as the test's resolution at the
noise seen, not as a guarantee.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.stats import norm
from scipy.stats import t as t_dist

from cera.eval.stats import t_quantile

Z_MDE = float(norm.ppf(0.975) + norm.ppf(0.80))  # 2.8016: 5% two-sided, 80% power, ν = ∞


def multiplier(df: float = math.inf) -> float:
    """t_{0.975, ν} + t_{0.80, ν}: Z_MDE at ν = ∞ (or NaN ν: no variance to count it from)."""
    if df is None or math.isnan(df) or math.isinf(df):
        return Z_MDE
    if df <= 0:
        raise ValueError(f"degrees of freedom must be > 0, got {df}")
    return float(t_dist.ppf(0.975, df) + t_dist.ppf(0.80, df))


def mde(se: float, df: float = math.inf) -> float:
    return multiplier(df) * se if se is not None and not math.isnan(se) else math.nan


def welch_df(terms: Sequence[tuple[float, float]]) -> float:
    """Welch–Satterthwaite ν of a sum of variances: terms are (SE_i, ν_i); ν_i = ∞ for a term whose
    variance is known well (it adds nothing to the denominator). ∞ when every term has ν = ∞."""
    num = sum(se ** 2 for se, _ in terms) ** 2
    den = sum(se ** 4 / df for se, df in terms if se > 0 and not math.isinf(df))
    return num / den if den > 0 else math.inf


def cell_df(stats: dict) -> float:
    """ν of a cell's mean: m − 1 over m ≥ 2 seeds; ∞ for one run's bootstrap interval."""
    n = stats.get("n", 0)
    return float(n - 1) if n >= 2 else math.inf


def cell_se(stats: dict, log: bool = False) -> float:
    """SE of a cell's mean from its 95% interval (t over seeds, or one run's bootstrap); NaN without one."""
    value, lo, hi, n = stats.get("value", math.nan), stats.get("lo", math.nan), stats.get("hi", math.nan), stats.get("n", 0)
    if any(v is None or math.isnan(v) for v in (value, lo, hi)) or n < 1:
        return math.nan
    crit = t_quantile(0.95, n - 1) if n >= 2 else float(norm.ppf(0.975))
    se = (hi - lo) / (2 * crit)
    if log:
        return se / value if value > 0 else math.nan
    return se


def cells_se(a: dict, b: dict, log: bool = False) -> float:
    return math.hypot(cell_se(a, log), cell_se(b, log))


def cells_df(a: dict, b: dict, log: bool = False) -> float:
    """Welch ν of the difference of two cells (NaN when either SE is unknown)."""
    se_a, se_b = cell_se(a, log), cell_se(b, log)
    if math.isnan(se_a) or math.isnan(se_b):
        return math.nan
    return welch_df([(se_a, cell_df(a)), (se_b, cell_df(b))])


def _paired_terms(d: Sequence[float], tokens_per_sequence: float,
                  seed_log_ratios: Sequence[float]) -> list[tuple[float, float]]:
    d = np.asarray(d, dtype=float)
    ell = np.asarray(seed_log_ratios, dtype=float)
    seq = (float(d.std(ddof=1)) / math.sqrt(d.size) / tokens_per_sequence, d.size - 1.0) if d.size >= 2 else (0.0, math.inf)
    seed = (float(ell.std(ddof=1)) / math.sqrt(ell.size), ell.size - 1.0) if ell.size >= 2 else (0.0, math.inf)
    return [seq, seed]


def paired_se(d: Sequence[float], tokens_per_sequence: float, seed_log_ratios: Sequence[float] = ()) -> float:
    """SE of a paired log PPL ratio: sequence noise of the pooled NLL differences plus seed noise."""
    return math.hypot(*(se for se, _ in _paired_terms(d, tokens_per_sequence, seed_log_ratios)))


def paired_df(d: Sequence[float], tokens_per_sequence: float, seed_log_ratios: Sequence[float] = ()) -> float:
    """Welch ν of `paired_se`'s two terms (sequences: n − 1, seeds: m − 1)."""
    return welch_df(_paired_terms(d, tokens_per_sequence, seed_log_ratios))


def binomial_mde(p_base: float, n_a: int, n_b: int, increase: bool = True) -> float:
    """MDE in points (fraction) of a proportion vs a reference rate p_base, Cohen's h (module docstring)."""
    if not (n_a and n_b) or p_base is None or math.isnan(p_base):
        return math.nan
    h = Z_MDE * math.sqrt(1 / n_a + 1 / n_b)
    phi = math.asin(math.sqrt(min(1.0, max(0.0, p_base))))
    target = min(math.pi / 2, phi + h / 2) if increase else max(0.0, phi - h / 2)
    return abs(math.sin(target) ** 2 - p_base)


def fmt_effect(value: float | None, scale: str, signed: bool = True) -> str:
    """A log ratio as '+2.1%' (as '×25' beyond a factor 10), a difference of fractions as '+3.0 pts'; '—'
    when unknown."""
    if value is None or math.isnan(value):
        return "—"
    sign = "+" if signed else ""
    if scale == "ratio" and abs(value) > math.log(10):  # an order of magnitude or more: a factor reads better
        return f"×{math.exp(value):.3g}"
    if scale == "ratio":
        return f"{math.expm1(value) * 100:{sign}.1f}%"
    return f"{value * 100:{sign}.1f} pts"
