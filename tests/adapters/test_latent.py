"""The optimised CeRA branch (cera.adapters.latent) against the same formula written plainly.

Exact (torch.equal, forward and every gradient) when the scale is a power of two (the paper's
alpha = 2r gives s = 2); within a few ulps of the compute dtype otherwise. Same RNG state on CPU
gives the same dropout mask as F.dropout.
"""

from __future__ import annotations

import contextlib

import pytest
import torch
from torch import nn

from cera.adapters import CeraConfig, CeraLayer
from cera.adapters.latent import cast_input, latent, reference_branch

ACTIVATIONS = ("silu", "relu", "gelu", "identity")


def _layer(activation: str, dropout: float, alpha: float) -> CeraLayer:
    torch.manual_seed(0)
    layer = CeraLayer.wrap(nn.Linear(48, 40, dtype=torch.bfloat16), "lin", "default",
                           CeraConfig(r=8, alpha=alpha, dropout=dropout, activation=activation))
    with torch.no_grad():
        layer.cera_W_down["default"].normal_()
    return layer


def _branch(layer, x):
    return layer.branch("default", x)


def _run(branch, layer, x, amp: bool, seed: int = 7):
    """Output and gradients (x, W_up, W_down) of `branch(layer, x)` from a fixed RNG state."""
    for t in (x, layer.cera_W_up["default"], layer.cera_W_down["default"]):
        t.grad = None
    torch.manual_seed(seed)
    with torch.autocast("cpu", dtype=torch.bfloat16) if amp else contextlib.nullcontext():
        out = branch(layer, x)
    out.float().pow(2).sum().backward()
    return [out.detach(), x.grad, layer.cera_W_up["default"].grad, layer.cera_W_down["default"].grad]


@pytest.mark.parametrize("amp", [False, True], ids=["fp32", "bf16-autocast"])
@pytest.mark.parametrize("training,dropout", [(True, 0.3), (True, 0.0), (False, 0.3)])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_power_of_two_scale_is_bitwise_the_plain_branch(activation, training, dropout, amp):
    layer = _layer(activation, dropout, alpha=16).train(training)  # s = alpha / r = 2
    x = torch.randn(5, 48, dtype=torch.bfloat16, requires_grad=True)
    fast = _run(_branch, layer, x, amp)
    plain = _run(reference_branch, layer, x, amp)
    for a, b in zip(fast, plain):
        assert a.dtype == b.dtype and torch.equal(a, b)
    if training and dropout:  # the mask really fires
        h = torch.nn.functional.linear(x.detach().float(), layer.cera_W_up["default"])
        torch.manual_seed(7)
        assert (latent(h, activation, dropout, True, 2.0) == 0).float().mean() > 0.1


@pytest.mark.parametrize("amp,tolerance", [(False, 2e-6), (True, 1.6e-2)], ids=["fp32", "bf16-autocast"])
def test_other_scales_agree_within_a_few_ulps(amp, tolerance):
    layer = _layer("silu", 0.3, alpha=12).train()  # s = 1.5: the scale moves across W_down's rounding
    x = torch.randn(5, 48, dtype=torch.bfloat16, requires_grad=True)
    for a, b in zip(_run(_branch, layer, x, amp), _run(reference_branch, layer, x, amp)):
        torch.testing.assert_close(a, b, rtol=tolerance, atol=tolerance * b.abs().max().item())


@pytest.mark.parametrize("context", [torch.no_grad, torch.inference_mode])
def test_inference_path_is_bitwise_and_in_place(context):
    layer = _layer("silu", 0.3, alpha=16).eval()
    x = torch.randn(5, 48, dtype=torch.bfloat16)
    with context():
        assert torch.equal(layer.branch("default", x), reference_branch(layer, x))
        h = torch.randn(5, 8)
        assert latent(h, "silu", 0.3, False, 2.0).data_ptr() == h.data_ptr()  # no new latent-sized tensor


def test_cast_input_skips_the_float32_copy_only_under_autocast():
    x = torch.randn(3, 4, dtype=torch.bfloat16)
    assert cast_input(x, torch.float32).dtype == torch.float32
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert cast_input(x, torch.float32) is x
