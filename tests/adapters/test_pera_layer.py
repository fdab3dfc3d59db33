"""PERA's ΔW against the explicit loop formula, its factorised forward, width and merge."""

import torch
from torch import nn

from cera.adapters import PeraConfig, PeraLinear, attach, iter_adapter_layers, merge
from cera.adapters.pera import expanded_rank


def random_layer(r=3, alpha=6.0, d_in=5, d_out=4):
    torch.manual_seed(0)
    layer = PeraLinear(nn.Linear(d_in, d_out), PeraConfig(r=r, alpha=alpha))
    with torch.no_grad():
        layer.B.normal_()
    return layer


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
    poly_b, poly_a = poly2_by_loops(layer.A.detach(), layer.B.detach())
    assert poly_a.shape == (3 + 6, 5) and poly_b.shape == (4, 3 + 6)
    torch.testing.assert_close(layer.poly2_A(), poly_a, rtol=0, atol=0)
    torch.testing.assert_close(layer.poly2_B(), poly_b, rtol=0, atol=0)
    torch.testing.assert_close(layer.delta_weight(), poly_b @ poly_a, rtol=1e-6, atol=1e-6)
    # The cross terms matter: ΔW is not plain BA.
    assert (layer.delta_weight() - layer.B @ layer.A).abs().max() > 1e-2


def test_forward_is_factorised_delta():
    layer = random_layer(r=3).eval()
    x = torch.randn(2, 6, 5)
    base = layer.base_layer
    expected = base(x) + layer.scale * x @ layer.delta_weight().T
    torch.testing.assert_close(layer(x), expected, rtol=1e-5, atol=1e-5)


def test_expanded_width():
    assert [expanded_rank(r) for r in (1, 2, 3, 64, 512)] == [2, 5, 9, 2144, 131840]
    assert random_layer(r=4).poly2_A().shape[0] == 4 + 10


def test_zero_init_and_merge_matches_unmerged(tiny_model, input_ids, randomize):
    model = attach(tiny_model(), PeraConfig(r=3, alpha=3))
    assert torch.equal(model(input_ids).logits, tiny_model()(input_ids).logits)
    randomize(model, std=0.3)
    unmerged = model(input_ids).logits
    merged = merge(model)
    assert merged is model and not list(iter_adapter_layers(merged))
    assert isinstance(merged.model.layers[0].self_attn.q_proj, nn.Linear)
    torch.testing.assert_close(merged(input_ids).logits, unmerged, rtol=0, atol=1e-5)
    assert (unmerged - tiny_model()(input_ids).logits).abs().max() > 1e-3


def test_dropout_acts_on_the_input_like_lora():
    torch.manual_seed(0)
    layer = PeraLinear(nn.Linear(8, 4), PeraConfig(r=2, alpha=2, dropout=0.5)).train()
    with torch.no_grad():
        layer.B.normal_()
    x = torch.randn(6, 8)
    torch.manual_seed(7)
    out = layer(x)
    torch.manual_seed(7)
    expected = layer.base_layer(x) + layer.scale * torch.nn.functional.dropout(x, 0.5) @ layer.delta_weight().T
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
    layer.eval()
    no_dropout = layer.base_layer(x) + layer.scale * x @ layer.delta_weight().T
    torch.testing.assert_close(layer(x), no_dropout, rtol=1e-5, atol=1e-5)
