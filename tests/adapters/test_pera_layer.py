"""PERA's ΔW against the explicit loop formula, its factorised forward, width and merge."""

import torch
from torch import nn

from cera.adapters import PeraConfig, PeraLayer, attach, iter_adapter_layers, merge
from cera.adapters.pera import expanded_rank, poly2_A, poly2_B


def random_layer(r=3, alpha=6.0, d_in=5, d_out=4):
    torch.manual_seed(0)
    layer = PeraLayer.wrap(nn.Linear(d_in, d_out), "lin", "default", PeraConfig(r=r, alpha=alpha))
    with torch.no_grad():
        layer.pera_B["default"].normal_()
    return layer


def factors(layer):
    return layer.pera_A["default"], layer.pera_B["default"]


def unscaled_delta(layer):
    A, B = factors(layer)
    return poly2_B(B) @ poly2_A(A)


def poly2_by_loops(A, B):
    r = A.shape[0]
    rows, cols = list(A), list(B.T)
    for i in range(r):
        for j in range(i, r):
            rows.append((1.0 if i == j else 2.0) * A[i] * A[j])
            cols.append(B[:, i] * B[:, j])
    return torch.stack(cols, dim=1), torch.stack(rows, dim=0)


def test_delta_weight_is_the_loop_formula():
    layer = random_layer(r=3)
    A, B = factors(layer)
    poly_b, poly_a = poly2_by_loops(A.detach(), B.detach())
    assert poly_a.shape == (3 + 6, 5) and poly_b.shape == (4, 3 + 6)
    torch.testing.assert_close(poly2_A(A), poly_a, rtol=0, atol=0)
    torch.testing.assert_close(poly2_B(B), poly_b, rtol=0, atol=0)
    torch.testing.assert_close(unscaled_delta(layer), poly_b @ poly_a, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(layer.get_delta_weight("default"), 2.0 * poly_b @ poly_a, rtol=1e-6, atol=1e-6)
    # The cross terms matter: ΔW is not plain BA.
    assert (unscaled_delta(layer) - B @ A).abs().max() > 1e-2


def test_forward_is_factorised_delta():
    layer = random_layer(r=3).eval()
    x = torch.randn(2, 6, 5)
    base = layer.base_layer
    expected = base(x) + layer.scaling["default"] * x @ unscaled_delta(layer).T
    torch.testing.assert_close(layer(x), expected, rtol=1e-5, atol=1e-5)


def test_expanded_width():
    assert [expanded_rank(r) for r in (1, 2, 3, 64, 512)] == [2, 5, 9, 2144, 131840]
    assert poly2_A(factors(random_layer(r=4))[0]).shape[0] == 4 + 10


def test_zero_init_and_merge_matches_unmerged(tiny_model, input_ids, randomize):
    model = attach(tiny_model(), PeraConfig(r=3, alpha=3))
    assert torch.equal(model(input_ids).logits, tiny_model()(input_ids).logits)
    randomize(model, std=0.3)
    unmerged = model(input_ids).logits
    merged = merge(model)
    assert not list(iter_adapter_layers(merged))
    assert isinstance(merged.model.layers[0].self_attn.q_proj, nn.Linear)
    torch.testing.assert_close(merged(input_ids).logits, unmerged, rtol=0, atol=1e-5)
    assert (unmerged - tiny_model()(input_ids).logits).abs().max() > 1e-3


def test_dropout_acts_on_the_input_like_lora():
    torch.manual_seed(0)
    layer = PeraLayer.wrap(nn.Linear(8, 4), "lin", "default", PeraConfig(r=2, alpha=2, dropout=0.5)).train()
    with torch.no_grad():
        layer.pera_B["default"].normal_()
    x = torch.randn(6, 8)
    torch.manual_seed(7)
    out = layer(x)
    torch.manual_seed(7)
    scale = layer.scaling["default"]
    expected = layer.base_layer(x) + scale * torch.nn.functional.dropout(x, 0.5) @ unscaled_delta(layer).T
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
    layer.eval()
    no_dropout = layer.base_layer(x) + scale * x @ unscaled_delta(layer).T
    torch.testing.assert_close(layer(x), no_dropout, rtol=1e-5, atol=1e-5)
