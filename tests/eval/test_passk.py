"""pass@k against brute-force enumeration of k-subsets, edge cases, and its one-line errors."""

from __future__ import annotations

import math
from fractions import Fraction
from itertools import combinations

import pytest

from cera.eval.passk import mean_pass_at_k, pass_at_k


def brute_force(n: int, c: int, k: int) -> float:
    """Fraction of the k-subsets of n samples (the first c correct) holding a correct sample."""
    subsets = list(combinations(range(n), k))
    return sum(any(i < c for i in s) for s in subsets) / len(subsets)


def test_matches_enumeration_for_every_small_case():
    cases = [(n, c, k) for n in range(1, 7) for c in range(n + 1) for k in range(1, n + 1)]
    assert len(cases) == 112
    for n, c, k in cases:
        assert pass_at_k(n, c, k) == pytest.approx(brute_force(n, c, k), abs=1e-12), (n, c, k)


def test_edge_cases():
    assert pass_at_k(10, 0, 3) == 0.0
    assert pass_at_k(10, 10, 3) == 1.0
    assert pass_at_k(5, 1, 5) == 1.0  # k = n: the one subset is all samples
    assert pass_at_k(5, 0, 5) == 0.0
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)  # pass@1 is c/n


def test_large_n_is_stable_and_exact():
    n, c, k = 200, 7, 50
    exact = 1 - Fraction(math.comb(n - c, k), math.comb(n, k))
    assert pass_at_k(n, c, k) == pytest.approx(float(exact), rel=1e-12)
    assert pass_at_k(100_000, 1, 1) == pytest.approx(1e-5, rel=1e-9)


def test_mean_over_problems():
    assert mean_pass_at_k([(4, 0), (4, 4), (4, 2)], k=1) == pytest.approx((0 + 1 + 0.5) / 3)
    assert mean_pass_at_k([(4, 1), (4, 2)], k=2) == pytest.approx((0.5 + 5 / 6) / 2)


@pytest.mark.parametrize(
    "n, c, k, message",
    [(3, 1, 4, "k=4 exceeds n=3"), (3, 4, 1, "c=4 correct exceeds n=3"), (-1, 0, 1, "n must be >= 0"),
     (3, -1, 1, "c must be >= 0"), (3, 1, 0, "k must be >= 1"), (3.0, 1, 1, "n must be an int")],
)  # fmt: skip
def test_invalid_counts_raise_one_line(n, c, k, message):
    with pytest.raises(ValueError, match=message) as err:
        pass_at_k(n, c, k)
    assert "\n" not in str(err.value)


def test_mean_of_nothing_raises():
    with pytest.raises(ValueError, match="no problems"):
        mean_pass_at_k([], k=1)
