"""Minimum detectable effect (MDE) of a comparison: the smallest true difference that a two-sided test
at the 5% level detects with 80% power, given the noise the comparison actually has.

    MDE = (z_{0.975} + z_{0.80}) · SE_diff = 2.8016 · SE_diff        (normal approximation)

SE_diff, by comparison kind (all on the claim's scale: log ratio for PPL, effective rank, AUC-90 and
residuals; difference of fractions for pass@k and rates):

* two cells, each a mean over m ≥ 2 seeds with a Student-t interval [lo, hi]:
  SE = (hi − lo) / (2 · t_{0.975, m−1}) per cell (= s/√m), SE_diff = √(SE_a² + SE_b²); a single-seed
  cell uses its bootstrap interval, SE = (hi − lo) / (2 · 1.96). On the log scale SE_log = SE / mean.
* paired PPL (seed-matched runs on the same test sequences): per-sequence NLL differences d_i pooled over
  seeds give SE_seq = sd(d) / √n / mean tokens per sequence (in log PPL); the per-seed log PPL ratios ℓ_s
  add the training-seed noise SE_seed = sd(ℓ) / √m (m ≥ 2), SE_diff = √(SE_seq² + SE_seed²).
* pass@k proportions over n problems (binomial floor, Cohen's h): a difference of arcsine-transformed
  proportions has SE = √(1/n_a + 1/n_b), so h_MDE = 2.8016 · √(1/n_a + 1/n_b), and the MDE in points
  above the reference cell's rate p_b is sin²(asin √p_b + h_MDE/2) − p_b. It stays meaningful at
  p_b = 0 (where a binomial SE is 0); the row's MDE is the larger of this and the seed-level one.

With 3 seeds the seed term is itself uncertain (a t-based MDE with 2 degrees of freedom would be
≈ 1.9× larger), so read the MDE as a lower bound on what the test can miss, never as a guarantee.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.stats import norm

from cera.eval.stats import t_quantile

Z_MDE = float(norm.ppf(0.975) + norm.ppf(0.80))  # 2.8016: 5% two-sided, 80% power


def mde(se: float) -> float:
    return Z_MDE * se if se is not None and not math.isnan(se) else math.nan


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


def paired_se(d: Sequence[float], tokens_per_sequence: float, seed_log_ratios: Sequence[float] = ()) -> float:
    """SE of a paired log PPL ratio: sequence noise of the pooled NLL differences plus seed noise."""
    d = np.asarray(d, dtype=float)
    se_seq = float(d.std(ddof=1)) / math.sqrt(d.size) / tokens_per_sequence if d.size >= 2 else 0.0
    ell = np.asarray(seed_log_ratios, dtype=float)
    se_seed = float(ell.std(ddof=1)) / math.sqrt(ell.size) if ell.size >= 2 else 0.0
    return math.hypot(se_seq, se_seed)


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
