"""The module-level parallel adapter adds exactly s·branch(block input) to the block's first output."""

import pytest
import torch
from torch import nn

from cera.adapters import AdapterError, ParallelConfig, ParallelLayer, attach, iter_adapter_layers


def test_zero_init_leaves_the_model_unchanged(tiny_model, input_ids):
    model = attach(tiny_model(), ParallelConfig(r=4, alpha=8))
    layers = dict(iter_adapter_layers(model))
    first = "base_model.model.model.layers.0.self_attn"
    assert sorted(layers) == [first, "base_model.model.model.layers.1.self_attn"]
    assert layers[first].cera_W_up["default"].shape == (4, 32)
    assert layers[first].cera_W_down["default"].shape == (32, 4)
    assert torch.equal(model(input_ids).logits, tiny_model()(input_ids).logits)


def test_wrapper_adds_branch_of_block_input(tiny_model, input_ids, randomize):
    model = randomize(attach(tiny_model(), ParallelConfig(r=4, alpha=8, activation="gelu")))
    wrapper = model.base_model.model.model.layers[1].self_attn
    seen = {}

    def on_attn(module, args, kwargs, out):
        seen["hidden"] = kwargs["hidden_states"] if "hidden_states" in kwargs else args[0]
        seen["attn"] = out

    def on_wrapper(module, args, out):
        seen["wrapped"] = out

    wrapper.base_layer.register_forward_hook(on_attn, with_kwargs=True)
    wrapper.register_forward_hook(on_wrapper)
    model(input_ids)
    attn, wrapped = seen["attn"], seen["wrapped"]
    assert type(wrapped) is tuple and len(wrapped) == len(attn)
    assert all(a is b for a, b in zip(attn[1:], wrapped[1:]))
    latent = torch.nn.functional.gelu(seen["hidden"] @ wrapper.cera_W_up["default"].T)
    expected = attn[0] + wrapper.scaling["default"] * (latent @ wrapper.cera_W_down["default"].T)
    torch.testing.assert_close(wrapped[0], expected, rtol=0, atol=1e-6)
    branch = wrapper.branch("default", seen["hidden"])
    torch.testing.assert_close(wrapped[0] - attn[0], branch, rtol=0, atol=1e-6)
    assert branch.abs().max() > 1e-3


class ToyBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(6, 6)

    def forward(self, hidden_states, gain=1.0, *, extra=None):
        return self.proj(hidden_states) * gain, extra


def test_hidden_states_positional_or_keyword_and_args_pass_through():
    torch.manual_seed(0)
    wrapper = ParallelLayer.wrap(ToyBlock(), "block", "default", ParallelConfig(r=2, alpha=2))
    with torch.no_grad():
        wrapper.cera_W_down["default"].normal_()
    h, marker = torch.randn(3, 6), object()
    by_position = wrapper(h, 3.0, extra=marker)
    by_keyword = wrapper(hidden_states=h, gain=3.0, extra=marker)
    assert by_position[1] is marker and by_keyword[1] is marker
    assert torch.equal(by_position[0], by_keyword[0])
    expected = wrapper.base_layer(h, 3.0)[0] + wrapper.branch("default", h)
    torch.testing.assert_close(by_position[0], expected, rtol=0, atol=0)
    with pytest.raises(TypeError, match="hidden_states"):
        wrapper(extra=marker)


def test_block_without_linear_is_refused(tiny_model):
    with pytest.raises(AdapterError, match="no nn.Linear"):
        attach(tiny_model(), ParallelConfig(r=2, alpha=2, target_modules=["input_layernorm"]))
