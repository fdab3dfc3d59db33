"""Bootstrap intervals, PPL interval, seed t-interval, paired comparison and McNemar's test."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cera.eval import stats
from cera.eval.stats import across_seeds, bootstrap_ci, mcnemar, paired_bootstrap, ppl_ci


def bernoulli(n: int, ones: int, seed: int = 0) -> np.ndarray:
    """Exactly `ones` successes among n, shuffled: a sample whose mean is known."""
    x = np.zeros(n)
    x[:ones] = 1
    return np.random.default_rng(seed).permutation(x)


def test_bootstrap_ci_contains_point_and_is_seeded():
    x = bernoulli(200, 70)
    point, lo, hi = bootstrap_ci(x)
    assert point == pytest.approx(0.35)
    assert lo < point < hi
    assert bootstrap_ci(x, seed=0) == (point, lo, hi)
    assert bootstrap_ci(x, seed=1) != (point, lo, hi)


def test_bootstrap_ci_narrows_with_more_data():
    _, lo_small, hi_small = bootstrap_ci(bernoulli(50, 15))
    _, lo_large, hi_large = bootstrap_ci(bernoulli(800, 240))
    assert hi_large - lo_large < (hi_small - lo_small) / 2  # width ∝ 1/√n: 4× narrower expected


def test_bootstrap_ci_matches_normal_approximation_on_bernoulli():
    n, p = 400, 0.3
    _, lo, hi = bootstrap_ci(bernoulli(n, int(n * p)), n_boot=4000)
    half = 1.959964 * math.sqrt(p * (1 - p) / n)  # 0.0449
    assert lo == pytest.approx(p - half, abs=0.006)
    assert hi == pytest.approx(p + half, abs=0.006)


def test_bootstrap_ci_takes_other_statistics():
    point, lo, hi = bootstrap_ci([1.0, 2.0, 3.0, 4.0, 100.0], stat=np.median)
    assert point == 3.0 and lo >= 1.0 and hi <= 100.0


def test_ppl_ci_point_is_ratio_of_sums():
    nll, tok = [10.0, 30.0, 5.0, 0.0], [5, 10, 5, 0]  # the 0-token sequence is dropped
    point, lo, hi = ppl_ci(nll, tok)
    assert point == pytest.approx(math.exp(45 / 20))
    assert lo <= point <= hi
    assert lo >= math.exp(1.0) and hi <= math.exp(3.0)  # per-sequence means are 2, 3 and 1


def test_across_seeds_t_interval():
    mean, lo, hi = across_seeds([1.0, 2.0, 3.0])
    half = 4.302653 * 1.0 / math.sqrt(3)  # t_{0.975, 2} · s / √m with s = 1
    assert (mean, lo, hi) == pytest.approx((2.0, 2.0 - half, 2.0 + half), abs=1e-5)
    assert across_seeds([0.5])[0] == 0.5 and math.isnan(across_seeds([0.5])[1])


def test_paired_bootstrap_detects_a_clear_difference():
    a = bernoulli(500, 400)
    b = a.copy()
    b[np.flatnonzero(a)[:100]] = 0  # b loses 100 problems a solves
    result = paired_bootstrap(a, b)
    assert result["diff"] == pytest.approx(0.2)
    assert 0 < result["lo"] < 0.2 < result["hi"]
    assert result["verdict"] == "a better" and result["p_value"] < 0.01
    assert paired_bootstrap(a, b, higher_is_better=False)["verdict"] == "b better"
    assert paired_bootstrap(b, a)["verdict"] == "b better"


def test_paired_bootstrap_identical_runs_are_inside_noise():
    a = bernoulli(300, 120)
    result = paired_bootstrap(a, a.copy())
    assert result["verdict"] == "inside noise"
    assert result["diff"] == 0.0 and result["p_value"] == 1.0


def test_mcnemar_hand_computed_tables():
    # a right & b wrong on 5 problems, the reverse on 1, 4 concordant: p = 2·(C(6,0)+C(6,1))/2^6
    a = [1, 1, 1, 1, 1, 0, 1, 0, 1, 0]
    b = [0, 0, 0, 0, 0, 1, 1, 0, 1, 0]
    assert mcnemar(a, b) == {"a_only": 5, "b_only": 1, "p_value": 14 / 64}
    assert mcnemar([1] * 10, [0] * 10)["p_value"] == 2 / 1024
    assert mcnemar([1, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1])["p_value"] == 1.0  # 2·42/64 capped at 1
    assert mcnemar([True, False], [True, False])["p_value"] == 1.0  # no discordant problem


@pytest.mark.parametrize(
    "call, message",
    [(lambda: bootstrap_ci([]), "empty"), (lambda: paired_bootstrap([1, 0], [1]), "length mismatch"),
     (lambda: mcnemar([1, 0], [1, 0, 1]), "length mismatch"), (lambda: mcnemar([2, 0], [1, 0]), "binary"),
     (lambda: ppl_ci([1.0], [1, 2]), "length mismatch"), (lambda: ppl_ci([0.0], [0]), "no sequence"),
     (lambda: across_seeds([]), "empty"), (lambda: bootstrap_ci([1.0, math.nan]), "NaN")],
)  # fmt: skip
def test_bad_inputs_raise(call, message):
    with pytest.raises(ValueError, match=message):
        call()
