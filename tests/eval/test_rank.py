"""Effective rank, AUC-90, spectrum and the across-layer aggregate on hand-made spectra."""

from __future__ import annotations

import numpy as np
import pytest

from cera.eval.rank import aggregate, auc90, effective_rank, module_type, spectrum, summarize


@pytest.mark.parametrize("n", [1, 2, 3, 7, 64])
def test_flat_spectrum_has_effective_rank_n(n):
    assert effective_rank([0.3] * n) == pytest.approx(n)


def test_effective_rank_hand_computed():
    assert effective_rank([5.0, 0.0, 0.0]) == pytest.approx(1.0)  # rank 1; zeros ignored
    # p = (3/4, 1/4): exp(−Σ p ln p) = Π p^(−p) = 1.7548
    assert effective_rank([3.0, 1.0]) == pytest.approx(0.75**-0.75 * 0.25**-0.25)
    assert effective_rank([3.0, 1.0]) == pytest.approx(1.7548, abs=1e-4)
    assert effective_rank([1.0, 3.0]) == effective_rank([3.0, 1.0])
    assert effective_rank([0.0, 0.0]) == 0.0 and effective_rank([]) == 0.0


@pytest.mark.parametrize(
    "values, k",
    [([3, 1], 1),              # energies 9, 1: 9/10 is exactly 90%
     ([1, 3], 1),              # sorted descending first
     ([1, 1, 1, 1], 4),        # cumulative 25, 50, 75, 100%
     ([3, 1, 1], 2),           # 9/11 = 82%, 10/11 = 91%
     ([2, 1, 1, 1, 1], 5),     # 4, 5, 6, 7 of 8 are all below 7.2
     ([10, 3, 1], 1),          # 100/110 = 90.9%
     ([10, 4, 1], 2),          # 100/117 = 85.5%, 116/117 = 99.1%
     ([1], 1), ([0, 0], 0), ([5, 0, 0], 1)],
)  # fmt: skip
def test_auc90_hand_made(values, k):
    assert auc90(values) == k


def test_negative_or_nan_singular_values_are_refused():
    with pytest.raises(ValueError, match=">= 0"):
        effective_rank([1.0, -0.5])
    with pytest.raises(ValueError, match="NaN"):
        auc90([1.0, float("nan")])


def test_spectrum_is_descending_float64_singular_values():
    matrix = np.diag([1.0, 4.0, 2.0])[:, :2]  # 3 × 2, singular values 4 and 1
    s = spectrum(matrix)
    assert s.dtype == np.float64
    np.testing.assert_allclose(s, [4.0, 1.0])
    with pytest.raises(ValueError, match="2-D"):
        spectrum(np.ones(3))


def test_summarize_record():
    record = summarize([2.0, 2.0, 0.0])
    assert record == {"singular_values": [2.0, 2.0, 0.0], "effective_rank": pytest.approx(2.0), "auc90": 2}


def test_aggregate_hand_made_layers():
    per_layer = {
        "model.layers.0.self_attn.q_proj": {"effective_rank": 2.0, "auc90": 1},
        "model.layers.1.self_attn.q_proj": {"effective_rank": 4.0, "auc90": 3},
        "model.layers.0.self_attn.v_proj": {"effective_rank": 6.0, "auc90": 5},
    }
    assert aggregate(per_layer) == {
        "layers": 3,
        "effective_rank": {"mean": 4.0, "median": 4.0},
        "auc90": {"mean": 3.0, "median": 3.0},
        "by_module": {
            "q_proj": {"layers": 2, "effective_rank": 3.0, "auc90": 2.0},
            "v_proj": {"layers": 1, "effective_rank": 6.0, "auc90": 5.0},
        },
    }
    assert module_type("base_model.model.model.layers.3.self_attn") == "self_attn"
    with pytest.raises(ValueError, match="no layers"):
        aggregate({})
