"""The mixed-batch workload's model: N distinct, non-trivial adapters, each serving its own rows."""

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from cera.bench.mixed import row_names, with_adapters


def test_row_names_cycle_through_the_adapters():
    assert row_names(1, 3) == ["default"] * 3
    assert row_names(3, 5) == ["default", "a1", "a2", "default", "a1"]


def test_each_row_gets_its_own_adapter(compose_bench):
    cfg = compose_bench("mixed.rank=2")
    torch.manual_seed(0)
    base = LlamaForCausalLM(LlamaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                        num_attention_heads=4, num_key_value_heads=2, vocab_size=64)).eval()
    model = with_adapters(cfg, base, "cera", 2, 3)
    ids = torch.randint(0, 64, (1, 5)).repeat(3, 1)  # three identical rows
    with torch.no_grad():
        logits = model(input_ids=ids, adapter_names=row_names(3, 3)).logits
    assert (logits[0] - logits[1]).abs().max() > 1e-4 and (logits[1] - logits[2]).abs().max() > 1e-4
