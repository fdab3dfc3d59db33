"""eval.spectra's authors'-code options against hand computations: centring, the deepest layers, padding
rows, and the averaged normalised spectrum."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cera.adapters import CeraConfig
from cera.eval.rank import effective_rank, mean_spectrum, summarize
from cera.eval.spectral import collect_branch_spectra, deepest_layers, spectrum
from tests.eval.test_spectral import adapted, batch, layer_inputs  # noqa: F401 - fixture

NAMES = [f"base_model.model.model.layers.{i}.self_attn.{m}" for i in range(32) for m in ("q_proj", "v_proj")]


def test_deepest_layers_keep_the_authors_band():
    """0.15625 of 32 layers = layers 27-31 (the authors' DEFAULT_LAYERS); of 4 layers, the last one."""
    kept = deepest_layers(NAMES, 0.15625)
    assert sorted({int(n.split(".")[4]) for n in kept}) == [27, 28, 29, 30, 31] and len(kept) == 10
    assert deepest_layers(NAMES[:8], 0.15625) == NAMES[6:8]
    assert deepest_layers(NAMES, None) == NAMES and deepest_layers(NAMES, 1.0) == NAMES


def test_mean_spectrum_by_hand():
    """σ/Σσ per layer, cut to the shortest, averaged: [3,1]/4 and [2,2,1]/5 → [0.575, 0.325]."""
    record = mean_spectrum({"a": summarize([3.0, 1.0]), "b": summarize([2.0, 2.0, 1.0])})
    np.testing.assert_allclose(record["singular_values"], [0.575, 0.325])
    assert record["effective_rank"] == pytest.approx(effective_rank([0.575, 0.325]))


def test_center_mask_padding_and_layers(batch):  # noqa: F811 - the fixture
    model = adapted(CeraConfig(r=4, alpha=8, target_modules=["q_proj", "v_proj"]))
    inputs = layer_inputs(model, batch)
    plain = collect_branch_spectra(model, batch)
    centred = collect_branch_spectra(model, batch, center=True)
    layer = model.base_model.model.model.layers[0].self_attn.q_proj
    name = next(n for n in plain if n.endswith("layers.0.self_attn.q_proj"))
    from cera.adapters import branch_output

    h = branch_output(layer.eval(), inputs[name])[batch["attention_mask"].bool()]
    np.testing.assert_allclose(centred[name]["singular_values"], spectrum(h - h.mean(0)), rtol=1e-5, atol=1e-5)  # float32 floor
    assert not np.allclose(plain[name]["singular_values"], centred[name]["singular_values"])
    assert plain[name]["tokens"] == 11
    unmasked = collect_branch_spectra(model, batch, mask_padding=False)
    assert unmasked[name]["tokens"] == 14  # 2 x 7: the padding rows count, as in the authors' probe
    deepest = collect_branch_spectra(model, batch, layers=0.5)
    assert sorted(deepest) == sorted(n for n in plain if ".layers.1." in n)
