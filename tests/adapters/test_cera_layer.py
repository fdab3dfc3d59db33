"""CeRA against its formula, dropout placement, zero init, dtypes, and parity with PEFT's LoRA."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cera.adapters import CeraConfig, CeraLayer, attach, branch_output, iter_adapter_layers

SIGMA = {"silu": F.silu, "relu": F.relu, "gelu": F.gelu, "identity": lambda t: t}


def random_layer(activation="silu", dropout=0.0, r=3, alpha=6.0):
    torch.manual_seed(0)
    config = CeraConfig(r=r, alpha=alpha, dropout=dropout, activation=activation)
    layer = CeraLayer.wrap(nn.Linear(8, 5), "lin", "default", config)
    with torch.no_grad():
        layer.cera_W_down["default"].normal_()
    return layer


def up(layer):
    return layer.cera_W_up["default"]


def down(layer):
    return layer.cera_W_down["default"]


def by_hand(layer, x, sigma, latent_dropout=lambda t: t):
    base = layer.base_layer
    latent = latent_dropout(sigma(x @ up(layer).T))
    return x @ base.weight.T + base.bias + layer.scaling["default"] * (latent @ down(layer).T)


@pytest.mark.parametrize("activation", SIGMA)
def test_forward_is_the_formula(activation):
    layer = random_layer(activation).eval()
    x = torch.randn(2, 4, 8)
    out = layer(x)
    torch.testing.assert_close(out, by_hand(layer, x, SIGMA[activation]), rtol=0, atol=1e-6)
    torch.testing.assert_close(out - layer.base_layer(x), layer.branch("default", x), rtol=0, atol=1e-6)
    assert up(layer).abs().sum() > 0 and layer.scaling["default"] == 2.0


def test_dropout_acts_on_latent_after_sigma_in_train_mode():
    layer = random_layer("silu", dropout=0.5, r=16).train()
    x = torch.randn(3, 8)
    torch.manual_seed(123)
    out = layer(x)
    torch.manual_seed(123)
    expected = by_hand(layer, x, F.silu, lambda t: F.dropout(t, 0.5, training=True))
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-6)
    # The mask really fires: train output differs from the dropout-free formula.
    assert not torch.allclose(out, by_hand(layer, x, F.silu), atol=1e-4)


def test_dropout_is_off_in_eval_mode():
    layer = random_layer("silu", dropout=0.5).eval()
    x = torch.randn(3, 8)
    first, second = layer(x), layer(x)
    assert torch.equal(first, second)
    torch.testing.assert_close(first, by_hand(layer, x, F.silu), rtol=0, atol=1e-6)



@pytest.mark.parametrize("activation", SIGMA)
@pytest.mark.parametrize("context", [torch.no_grad, torch.inference_mode])
def test_inference_fast_path_is_bitwise_the_autograd_path(activation, context):
    """The in-place eval path (no grad, eval mode) must not change a single bit, nor its input."""
    layer = random_layer(activation, dropout=0.5).eval()
    x = torch.randn(2, 4, 8)
    reference = layer(x)  # grad enabled: the out-of-place path
    kept = x.clone()
    with context():
        fast = layer(x)
    assert torch.equal(fast, reference)
    assert torch.equal(x, kept)


def test_no_grad_in_train_mode_still_drops_out():
    layer = random_layer("silu", dropout=0.5, r=16).train()
    x = torch.randn(3, 8)
    with torch.no_grad():
        torch.manual_seed(5)
        out = layer(x)
    torch.manual_seed(5)
    expected = by_hand(layer, x, F.silu, lambda t: F.dropout(t, 0.5, training=True))
    torch.testing.assert_close(out, expected.detach(), rtol=0, atol=1e-6)

def test_zero_init_leaves_the_model_unchanged(tiny_model, input_ids):
    base = tiny_model()
    expected = base(input_ids).logits
    model = attach(tiny_model(), CeraConfig(r=4, alpha=8, dropout=0.1)).eval()
    assert torch.equal(model(input_ids).logits, expected)
    layers = dict(iter_adapter_layers(model))
    assert len(layers) == 4 and all(down(layer).abs().sum() == 0 for layer in layers.values())


def test_bf16_base_keeps_float32_adapter(tiny_model, input_ids):
    model = attach(tiny_model().to(torch.bfloat16), CeraConfig(r=4, alpha=8))
    layer = model.base_model.model.model.layers[0].self_attn.q_proj
    assert up(layer).dtype == down(layer).dtype == torch.float32
    assert layer.base_layer.weight.dtype == torch.bfloat16
    x = torch.randn(2, 32, dtype=torch.bfloat16)
    assert layer(x).dtype == torch.bfloat16 and layer.branch("default", x).dtype == torch.float32
    assert model(input_ids).logits.dtype == torch.bfloat16


def test_identity_cera_equals_peft_lora(tiny_model, input_ids, randomize):
    import peft

    cera = attach(tiny_model(), CeraConfig(r=4, alpha=8, activation="identity", dropout=0.0))
    randomize(cera)
    lora_config = peft.LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=["q_proj", "v_proj"])
    lora = attach(tiny_model(), lora_config)
    copied = 0
    with torch.no_grad():
        for name, layer in iter_adapter_layers(cera):
            twin = lora.get_submodule(name)
            twin.lora_A["default"].weight.copy_(up(layer))
            twin.lora_B["default"].weight.copy_(down(layer))
            x = torch.randn(5, up(layer).shape[1])
            torch.testing.assert_close(branch_output(twin, x), branch_output(layer, x), rtol=0, atol=1e-12)
            torch.testing.assert_close(branch_output(layer, x).float(), layer.branch("default", x), rtol=1e-5, atol=1e-6)
            copied += 1
    assert copied == 4
    cera_logits, lora_logits = cera(input_ids).logits, lora(input_ids).logits
    assert (cera_logits - lora_logits).abs().max() <= 1e-6
    # Guard against a vacuous pass: the copied adapter does change the model.
    assert (cera_logits - tiny_model()(input_ids).logits).abs().max() > 1e-3
