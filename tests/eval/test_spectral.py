"""Spectra collected from a tiny Llama: activation spectra per method, ΔW spectra vs merges."""

from __future__ import annotations

import copy

import numpy as np
import peft
import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from cera.adapters import AdapterError, CeraConfig, ParallelConfig, PeraConfig, adapter_state_dict, attach
from cera.eval.spectral import collect_branch_spectra, delta_weight_spectra, spectrum

TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
            intermediate_size=64, vocab_size=64)  # fmt: skip
PEFT_PREFIX = "base_model.model."


def adapted(config, seed: int = 2):
    """A tiny Llama with the adapter attached and every adapter tensor perturbed to non-zero."""
    torch.manual_seed(0)
    model = attach(LlamaForCausalLM(LlamaConfig(**TINY)).eval(), config)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for tensor in adapter_state_dict(model).values():
            tensor.add_(torch.randn(tensor.shape, generator=gen) * 0.3)
    return model


@pytest.fixture
def batch():
    """Two sequences of 7 tokens; the second is left-padded by 3, so 11 real tokens."""
    input_ids = torch.randint(0, TINY["vocab_size"], (2, 7), generator=torch.Generator().manual_seed(1))
    mask = torch.ones(2, 7, dtype=torch.long)
    mask[1, :3] = 0
    return {"input_ids": input_ids, "attention_mask": mask, "labels": input_ids}


def layer_inputs(model, batch) -> dict[str, torch.Tensor]:
    """Each adapter layer's input on `batch`, captured by a plain hook (the reference path)."""
    seen, handles = {}, []

    def capture(name):
        def hook(module, args, output):  # returns None: the output is left untouched
            seen[name] = args[0]

        return hook

    for name, module in model.named_modules():
        if name.endswith(("q_proj", "v_proj")) and hasattr(module, "base_layer"):
            handles.append(module.register_forward_hook(capture(name)))
    with torch.no_grad():
        model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    for handle in handles:
        handle.remove()
    return seen


def test_lora_activation_spectrum_has_at_most_r_directions(batch):
    model = adapted(peft.LoraConfig(r=2, lora_alpha=4, target_modules=["q_proj", "v_proj"]))
    spectra = collect_branch_spectra(model, batch)
    assert len(spectra) == 4 and {name.rsplit(".", 1)[-1] for name in spectra} == {"q_proj", "v_proj"}
    for record in spectra.values():
        s = np.asarray(record["singular_values"])
        assert record["tokens"] == 11
        assert s.size == 11  # min(tokens, d_out): the spectrum is not trivially short
        assert 1 <= int(np.sum(s > 1e-6 * s[0])) <= 2
        assert 1.0 <= record["effective_rank"] <= 2.0 and record["auc90"] in (1, 2)


def test_cera_spectrum_is_the_real_branch_on_real_tokens(batch):
    model = adapted(CeraConfig(r=4, alpha=8, dropout=0.5)).train()  # dropout must be off while probing
    spectra = collect_branch_spectra(model, batch)
    assert model.training and all(m.training for m in model.modules())  # modes restored
    model.eval()
    inputs = layer_inputs(model, batch)
    real = batch["attention_mask"].bool()
    for name, x in inputs.items():
        layer = model.get_submodule(name)
        with torch.no_grad():
            expected = spectrum(layer.branch("default", x)[real])
        np.testing.assert_allclose(spectra[name]["singular_values"], expected, rtol=1e-5, atol=1e-5)  # float32 noise floor
        assert spectra[name]["tokens"] == 11


def test_max_tokens_keeps_the_first_real_tokens(batch):
    model = adapted(CeraConfig(r=4, alpha=8))
    spectra = collect_branch_spectra(model, batch, max_tokens=5)
    name, x = next(iter(layer_inputs(model, batch).items()))
    with torch.no_grad():
        expected = spectrum(model.get_submodule(name).branch("default", x)[batch["attention_mask"].bool()][:5])
    assert spectra[name]["tokens"] == 5
    np.testing.assert_allclose(spectra[name]["singular_values"], expected, rtol=1e-5, atol=1e-5)  # float32 noise floor


def test_parallel_adapter_reads_hidden_states_keyword(batch):
    spectra = collect_branch_spectra(adapted(ParallelConfig(r=4, alpha=8)), batch)
    assert sorted(spectra) == [f"{PEFT_PREFIX}model.layers.{i}.self_attn" for i in (0, 1)]
    assert all(r["tokens"] == 11 and r["effective_rank"] > 1 for r in spectra.values())


def test_pera_delta_weight_spectrum_matches_scaled_delta_weight():
    model = adapted(PeraConfig(r=3, alpha=6))
    spectra = delta_weight_spectra(model)
    assert len(spectra) == 4
    for name, record in spectra.items():
        layer = model.get_submodule(name)
        with torch.no_grad():
            expected = spectrum(layer.get_delta_weight("default").double())
        np.testing.assert_allclose(record["singular_values"], expected, rtol=1e-5, atol=1e-6)  # ours: float64
        assert record["shape"] == [layer.pera_B["default"].shape[0], layer.pera_A["default"].shape[1]]


@pytest.mark.parametrize("use_dora", [False, True])
def test_lora_and_dora_delta_weight_match_peft_merge(use_dora):
    """ΔW spectra equal the spectra of (PEFT's merged weight − W0): an independent reference."""
    config = peft.LoraConfig(r=2, lora_alpha=4, target_modules=["q_proj", "v_proj"], use_dora=use_dora)
    model = adapted(config)
    spectra = delta_weight_spectra(model)
    originals = {name: model.get_submodule(name).base_layer.weight.detach().clone() for name in spectra}
    merged = copy.deepcopy(model).merge_and_unload()
    for name, record in spectra.items():
        delta = merged.get_submodule(name.removeprefix(PEFT_PREFIX)).weight.detach() - originals[name]
        np.testing.assert_allclose(record["singular_values"], spectrum(delta), rtol=1e-4, atol=1e-6)
        rank = int(np.sum(np.asarray(record["singular_values"]) > 1e-6 * record["singular_values"][0]))
        assert rank > 2 if use_dora else rank == 2  # DoRA rescales rows of W0: full rank


def test_dora_activations_are_the_output_change(batch):
    model = adapted(peft.LoraConfig(r=2, lora_alpha=4, target_modules=["q_proj"], use_dora=True))
    spectra = collect_branch_spectra(model, batch)
    originals = {name: model.get_submodule(name).base_layer.weight.detach().clone() for name in spectra}
    merged = copy.deepcopy(model).merge_and_unload()
    for name, x in layer_inputs(model, batch).items():
        delta = merged.get_submodule(name.removeprefix(PEFT_PREFIX)).weight.detach() - originals[name]
        expected = spectrum(x[batch["attention_mask"].bool()] @ delta.T)
        np.testing.assert_allclose(spectra[name]["singular_values"][:3], expected[:3], rtol=1e-4)


def test_non_mergeable_and_unadapted_models_are_refused(batch):
    with pytest.raises(AdapterError, match="has no ΔW"):
        delta_weight_spectra(adapted(CeraConfig(r=4, alpha=8)))
    torch.manual_seed(0)
    with pytest.raises(AdapterError, match="no adapter layer"):
        collect_branch_spectra(LlamaForCausalLM(LlamaConfig(**TINY)), batch)
    with pytest.raises(ValueError, match="max_tokens"):
        collect_branch_spectra(adapted(CeraConfig(r=4, alpha=8)), batch, max_tokens=0)
