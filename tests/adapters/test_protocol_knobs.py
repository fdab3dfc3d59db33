"""The authors'-code knobs of the adapters (conf/protocol/authors_code.yaml), each against a hand computation:
no branch scale, the factor inits' statistics on a large layer, input dropout, LoRA's N(0, 0.01²) A through
PEFT's custom-layer hook, and DoRA's weight norm with and without gradient."""

from __future__ import annotations

import math

import peft
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cera.adapters import AdapterError, CeraConfig, attach
from cera.adapters.init import INITS, init_factor
from cera.adapters.lora_knobs import AttachedNormDora, configure
from cera.config import ConfigError, adapter_config


class Wide(nn.Module):
    """One frozen Linear, wide enough for init statistics (fan_in 4096: ~262k factor entries at r=64)."""

    def __init__(self, d_in: int = 4096, d_out: int = 64):
        super().__init__()
        torch.manual_seed(0)
        self.proj = nn.Linear(d_in, d_out, bias=False)

    def forward(self, x):
        return self.proj(x)


def _cera(**fields):
    return attach(Wide(64, 48), CeraConfig(r=4, alpha=16, dropout=0.0, target_modules=["proj"], **fields))


def test_scale_mode_none_is_the_unscaled_branch():
    """scale_mode=none: h = W0 x + W_down(σ(W_up x)) (alpha=16, r=4 would scale by 4)."""
    model = _cera(scale_mode="none").eval()
    layer = model.base_model.model.proj
    with torch.no_grad():
        layer.cera_W_down["default"].normal_()
    x = torch.randn(5, 64)
    up, down = layer.cera_W_up["default"], layer.cera_W_down["default"]
    expected = x @ layer.base_layer.weight.T + F.silu(x @ up.T) @ down.T
    torch.testing.assert_close(model(x), expected)
    assert layer.scaling["default"] == 1.0 and _cera().base_model.model.proj.scaling["default"] == 4.0


@pytest.mark.parametrize("scheme,std", [
    ("kaiming_uniform", 1 / math.sqrt(3 * 4096)),   # U(-1/√fan_in, 1/√fan_in)
    ("kaiming_normal_relu", math.sqrt(2 / 4096)),   # the authors' CeRA A
    ("normal_0.01", 0.01),                          # the authors' LoRA / DoRA A
])  # fmt: skip
def test_cera_init_statistics(scheme, std):
    model = attach(Wide(), CeraConfig(r=64, alpha=128, target_modules=["proj"], init=scheme))
    layer = model.base_model.model.proj
    up, down = layer.cera_W_up["default"], layer.cera_W_down["default"]
    assert abs(up.std().item() / std - 1) < 0.02 and abs(up.mean().item()) < 0.01 * std * 10
    assert torch.count_nonzero(down) == 0  # the model starts as the base model


def test_init_factor_of_a_uniform_scheme_is_bounded():
    w = init_factor(torch.empty(64, 4096), "kaiming_uniform")
    assert w.abs().max() <= 1 / math.sqrt(4096)


def _lora(init: str, use_dora: bool = False, dora_norm: str = "detached", d_in: int = 4096):
    method = {"_target_": "peft.LoraConfig", "name": "dora" if use_dora else "lora", "lr": 3e-4, "r": 64,
              "lora_alpha": 32, "lora_dropout": 0.0, "target_modules": ["proj"], "use_dora": use_dora, "init": init}
    if use_dora:
        method["dora_norm"] = dora_norm
    return attach(Wide(d_in), adapter_config(method))


@pytest.mark.parametrize("scheme,std", [("kaiming_uniform", 1 / math.sqrt(3 * 4096)), ("normal_0.01", 0.01)])
def test_lora_init_through_the_method_config(scheme, std):
    layer = _lora(scheme).base_model.model.proj
    a, b = layer.lora_A["default"].weight, layer.lora_B["default"].weight
    assert abs(a.std().item() / std - 1) < 0.02 and torch.count_nonzero(b) == 0
    assert layer.scaling["default"] == 0.5  # alpha 32 / r 64: the authors' LoRA scale
    assert isinstance(layer, peft.tuners.lora.layer.Linear)  # still PEFT's LoRA layer


def _dora_pair():
    """Attached and detached DoRA on one small layer, same weights, B non-zero."""
    models = [_lora("normal_0.01", True, norm, d_in=24) for norm in ("attached", "detached")]
    torch.manual_seed(3)
    b = torch.randn_like(models[0].base_model.model.proj.lora_B["default"].weight)
    a = models[0].base_model.model.proj.lora_A["default"].weight.detach().clone()
    for m in models:
        with torch.no_grad():
            m.base_model.model.proj.lora_B["default"].weight.copy_(b)
            m.base_model.model.proj.lora_A["default"].weight.copy_(a)
    return [m.double() for m in models]  # float64: the hand computation below matches to rounding


def _grads(model, x):
    model.zero_grad()
    model(x).pow(2).sum().backward()
    layer = model.base_model.model.proj
    return [p.grad.clone() for p in (layer.lora_A["default"].weight, layer.lora_B["default"].weight,
                                     layer.lora_magnitude_vector["default"].weight)]


def test_dora_norm_attached_lets_the_gradient_through_the_norm():
    attached, detached = _dora_pair()
    layer = attached.base_model.model.proj
    assert isinstance(layer.lora_magnitude_vector["default"], AttachedNormDora)
    x = torch.randn(7, 24, dtype=torch.float64)
    torch.testing.assert_close(attached(x), detached(x))  # same forward value
    # by hand: the authors' DoRAWrapper, W = m · (W0 + s B A) / ‖W0 + s B A‖_row, every term in the graph
    w0, s = layer.base_layer.weight, layer.scaling["default"]
    A = layer.lora_A["default"].weight.detach().clone().requires_grad_()
    B = layer.lora_B["default"].weight.detach().clone().requires_grad_()
    m = layer.lora_magnitude_vector["default"].weight.detach().clone().requires_grad_()
    adapted = w0 + s * B @ A
    (x @ (m[:, None] * adapted / adapted.norm(dim=1, keepdim=True)).T).pow(2).sum().backward()
    for ours, hand in zip(_grads(attached, x), (A.grad, B.grad, m.grad)):
        torch.testing.assert_close(ours, hand)
    grads_detached = _grads(detached, x)
    assert (grads_detached[1] - B.grad).abs().max() > 1e-4  # PEFT's detached norm: another gradient
    torch.testing.assert_close(grads_detached[2], m.grad)  # m's own gradient is the same


def test_input_dropout_is_the_peft_aligned_branch():
    """dropout_at=input: s · W_down(σ(W_up D(x))), D the same draw as F.dropout's."""
    model = attach(Wide(64, 48), CeraConfig(r=4, alpha=8, dropout=0.5, target_modules=["proj"], dropout_at="input"))
    layer = model.base_model.model.proj.train()
    with torch.no_grad():
        layer.cera_W_down["default"].normal_()
    x = torch.randn(5, 64)
    torch.manual_seed(11)
    expected = 2.0 * F.silu(F.dropout(x, 0.5, training=True) @ layer.cera_W_up["default"].T) @ layer.cera_W_down[
        "default"].T
    torch.manual_seed(11)
    torch.testing.assert_close(layer.branch("default", x), expected)


@pytest.mark.parametrize("fields,message", [
    ({"scale_mode": "sqrt"}, "scale_mode='sqrt' is invalid: choose from alpha_over_r, none"),
    ({"init": "xavier"}, f"init='xavier' is invalid: choose from {', '.join(INITS)}"),
    ({"dropout_at": "output"}, "dropout_at='output' is invalid: choose from latent, input"),
])  # fmt: skip
def test_bad_cera_knobs_are_one_line(fields, message):
    with pytest.raises(AdapterError) as err:
        CeraConfig(r=4, **fields)
    assert str(err.value) == message


def test_bad_lora_knobs_are_one_line():
    with pytest.raises(ConfigError, match=r"^method.init='xavier' is invalid: choose from kaiming_uniform, "):
        _lora("xavier")
    with pytest.raises(ConfigError, match=r"^method.dora_norm='half' is invalid: choose from detached, attached$"):
        _lora("normal_0.01", True, "half")
    with pytest.raises(AdapterError, match="dora_norm=attached needs DoRA"):
        configure(peft.LoraConfig(r=4, target_modules=["proj"]), dora_norm="attached")
