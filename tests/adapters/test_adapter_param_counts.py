"""Trainable-parameter budgets on Llama-3-8B's shapes (SPEC §1), built on the meta device: no weights."""

import peft
import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from cera.adapters import CeraConfig, attach, trainable_parameters

LLAMA3_8B = dict(
    hidden_size=4096,
    intermediate_size=14336,
    num_hidden_layers=32,
    num_attention_heads=32,
    num_key_value_heads=8,
    vocab_size=128256,
)
# 32 layers × r × (q: 4096+4096, v: 4096+1024); DoRA adds one magnitude per output: 32 × (4096+1024).
BUDGET = {64: 27_262_976, 128: 54_525_952, 512: 218_103_808}
DORA_MAGNITUDES = 163_840


def llama3_8b():
    with torch.device("meta"):
        return LlamaForCausalLM(LlamaConfig(**LLAMA3_8B))


@pytest.mark.parametrize("r", sorted(BUDGET))
def test_lora_and_cera_budgets(r):
    targets = ["q_proj", "v_proj"]
    lora = attach(llama3_8b(), peft.LoraConfig(r=r, lora_alpha=2 * r, target_modules=targets))
    cera = attach(llama3_8b(), CeraConfig(r=r, alpha=2 * r, target_modules=targets))
    assert trainable_parameters(lora) == BUDGET[r]
    assert trainable_parameters(cera) == BUDGET[r]
    layers = cera.base_model.model.model.layers
    assert layers[31].self_attn.v_proj.cera_W_down["default"].shape == (1024, r)
    assert layers[0].self_attn.q_proj.cera_W_up["default"].device.type == "meta"


def test_dora_adds_magnitudes():
    # r=64 only: PEFT initialises LoRA factors on CPU before moving them to meta (slow at r=512).
    config = peft.LoraConfig(r=64, lora_alpha=128, target_modules=["q_proj", "v_proj"], use_dora=True)
    dora = attach(llama3_8b(), config)
    assert trainable_parameters(dora) == BUDGET[64] + DORA_MAGNITUDES

