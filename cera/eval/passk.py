"""Unbiased pass@k (Chen et al. 2021, "Evaluating Large Language Models Trained on Code", eq. 1).

Draw n samples for a problem, c of them correct. The probability that a random k-subset of those
n samples holds at least one correct sample is

    pass@k = 1 − C(n−c, k) / C(n, k)

Why not `1 − (1 − c/n)^k`: that plug-in estimate is biased low for k > 1. Why the product form:
C(n, k) overflows floats for n in the hundreds, while

    C(n−c, k) / C(n, k) = Π_{i=n−c+1}^{n} (1 − k / i)

is a product of c factors in [0, 1] and stays exact to rounding. When n − c < k every k-subset
contains a correct sample, so pass@k = 1.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


def _check(n: int, c: int, k: int) -> None:
    for name, value in (("n", n), ("c", c), ("k", k)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"pass@k: {name} must be an int, got {value!r}")
        if value < 0:
            raise ValueError(f"pass@k: {name} must be >= 0, got {value}")
    if k < 1:
        raise ValueError(f"pass@k: k must be >= 1, got {k}")
    if c > n:
        raise ValueError(f"pass@k: c={c} correct exceeds n={n} samples")
    if k > n:
        raise ValueError(f"pass@k: k={k} exceeds n={n} samples; draw at least k samples per problem")


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one problem: n samples, c correct; 1 − Π_{i=n−c+1}^{n} (1 − k/i)."""
    _check(n, c, k)
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1, dtype=np.float64)))


def mean_pass_at_k(per_problem: Iterable[tuple[int, int]], k: int) -> float:
    """Mean of pass_at_k over problems given as (n, c) pairs (the benchmark's pass@k)."""
    scores = [pass_at_k(n, c, k) for n, c in per_problem]
    if not scores:
        raise ValueError("mean_pass_at_k: no problems given")
    return float(np.mean(scores))
