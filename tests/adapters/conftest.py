"""A tiny Llama (hidden 32, 2 layers) and per-method adapter configs shared by the adapter tests."""

from __future__ import annotations

import peft
import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from cera.adapters import CeraConfig, ParallelConfig, PeraConfig, adapter_state_dict

TINY = dict(
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    vocab_size=64,
)

def _make_config(method: str, **overrides):
    """Small configs (r=4, alpha=8; PERA r=3) for each of the five methods."""
    if method in ("lora", "dora"):
        fields = dict(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=["q_proj", "v_proj"])
        return peft.LoraConfig(**{**fields, "use_dora": method == "dora", **overrides})
    cls = {"cera": CeraConfig, "pera": PeraConfig, "parallel": ParallelConfig}[method]
    fields = dict(r=3, alpha=6) if method == "pera" else dict(r=4, alpha=8)
    return cls(**{**fields, **overrides})


@pytest.fixture
def make_config():
    """make_config(method, **overrides) -> a small config for that method."""
    return _make_config


@pytest.fixture
def tiny_model():
    """A fresh tiny LlamaForCausalLM; the same seed gives the same weights every call."""
    def build(**overrides):
        torch.manual_seed(0)
        return LlamaForCausalLM(LlamaConfig(**{**TINY, **overrides})).eval()

    return build


@pytest.fixture
def input_ids():
    return torch.randint(0, TINY["vocab_size"], (2, 7), generator=torch.Generator().manual_seed(1))


@pytest.fixture
def randomize():
    """Perturb every adapter tensor in place (so zero-initialised factors become non-zero)."""
    def perturb(model, seed: int = 2, std: float = 0.1):
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for tensor in adapter_state_dict(model).values():
                tensor.add_(torch.randn(tensor.shape, generator=gen) * std)
        return model

    return perturb
