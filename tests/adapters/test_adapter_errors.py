"""Wrong checkpoints, double attaches and unmatched targets fail loudly with one-line AdapterErrors."""

import json
import re

import peft
import pytest

from cera.adapters import (
    AdapterError,
    CeraConfig,
    ParallelConfig,
    PeraConfig,
    attach,
    load_adapter,
    merge,
    method_of,
    save_adapter,
)


def saved(tmp_path, tiny_model, config, name="ckpt", **model_overrides):
    return save_adapter(attach(tiny_model(**model_overrides), config), tmp_path / name)


def raises_one_line(pattern):
    return pytest.raises(AdapterError, match=pattern)


@pytest.mark.parametrize(
    "saved_method, live_method",
    [("cera", "lora"), ("pera", "lora"), ("lora", "pera"), ("dora", "lora"), ("cera", "parallel"), ("cera", "pera")],
)
def test_checkpoint_of_another_method_is_refused(saved_method, live_method, tiny_model, make_config, tmp_path):
    path = saved(tmp_path, tiny_model, make_config(saved_method))
    live = attach(tiny_model(), make_config(live_method))
    expected = f"checkpoint {path} is a '{saved_method}' adapter but the model carries '{live_method}'"
    with raises_one_line(f"^{re.escape(expected)}$"):
        load_adapter(live, path)


def test_cera_checkpoint_of_another_rank_is_refused(tiny_model, tmp_path):
    path = saved(tmp_path, tiny_model, CeraConfig(r=4, alpha=8))
    live = attach(tiny_model(), CeraConfig(r=8, alpha=8))
    with raises_one_line(r"r=4 vs 8"):
        load_adapter(live, path)
    other_activation = attach(tiny_model(), CeraConfig(r=4, alpha=8, activation="relu"))
    with raises_one_line(r"activation='silu' vs 'relu'"):
        load_adapter(other_activation, path)
    other_targets = attach(tiny_model(), CeraConfig(r=4, alpha=8, target_modules=["q_proj"]))
    with raises_one_line(r"target_modules="):
        load_adapter(other_targets, path)


def test_lora_checkpoint_of_another_rank_is_refused(tiny_model, make_config, tmp_path):
    path = saved(tmp_path, tiny_model, make_config("lora"))
    with raises_one_line(r"r=4 vs 8"):
        load_adapter(attach(tiny_model(), make_config("lora", r=8)), path)


def test_checkpoint_for_another_architecture_names_the_shape(tiny_model, tmp_path):
    path = saved(tmp_path, tiny_model, CeraConfig(r=4, alpha=8), hidden_size=64)
    name = re.escape("'model.layers.0.self_attn.q_proj.cera_W_up'")
    with raises_one_line(rf"adapter tensor {name} has shape \[4, 64\] in checkpoint .* but \[4, 32\] in the model"):
        load_adapter(tiny_model(), path)


def test_checkpoint_with_other_tensor_names_is_refused(tiny_model, tmp_path):
    path = saved(tmp_path, tiny_model, CeraConfig(r=4, alpha=8), num_hidden_layers=3)
    with raises_one_line(r"does not fit the model: 0 adapter tensors missing \[\], 4 unexpected"):
        load_adapter(tiny_model(), path)


def test_missing_or_foreign_files(tiny_model, tmp_path):
    with raises_one_line(rf"no adapter at {re.escape(str(tmp_path / 'nope'))}"):
        load_adapter(tiny_model(), tmp_path / "nope")
    path = saved(tmp_path, tiny_model, CeraConfig(r=4, alpha=8))
    meta = json.loads((path / "adapter_config.json").read_text())
    (path / "adapter_config.json").write_text(json.dumps({**meta, "peft_type": "VERA"}))
    with raises_one_line(r"has peft_type='VERA': cera loads"):
        load_adapter(tiny_model(), path)
    (path / "adapter_config.json").write_text(json.dumps({**meta, "r": 0}))
    with raises_one_line(r"invalid CERA config: rank r=0 is invalid"):
        load_adapter(tiny_model(), path)
    (path / "adapter_config.json").write_text("{not json")
    with raises_one_line(r"adapter_config.json is corrupt: invalid JSON at line 1"):
        load_adapter(tiny_model(), path)
    (path / "adapter_model.safetensors").unlink()
    with raises_one_line(r"adapter_model\.safetensors does not exist"):
        load_adapter(tiny_model(), path)
    (path / "adapter.safetensors").write_bytes(b"")
    with raises_one_line(r"pre-PEFT format"):
        load_adapter(tiny_model(), path)


def test_peft_from_pretrained_refuses_a_checkpoint_that_does_not_fit(tiny_model, tmp_path):
    """PEFT alone only warns about missing keys; our tuners refuse them (and other shapes) in one line."""
    path = saved(tmp_path, tiny_model, CeraConfig(r=4, alpha=8), num_hidden_layers=3)
    with raises_one_line(r"checkpoint does not fit the model: 0 adapter tensors missing \[\], 4 unexpected"):
        peft.PeftModel.from_pretrained(tiny_model(), path)
    path = saved(tmp_path, tiny_model, PeraConfig(r=2, alpha=2), name="wide", hidden_size=64)
    with raises_one_line(r"has shape \[2, 64\] in checkpoint but \[2, 32\] in the model"):
        peft.PeftModel.from_pretrained(tiny_model(), path)


def test_save_is_atomic_and_overwrites(tiny_model, randomize, tmp_path):
    model = attach(tiny_model(), PeraConfig(r=2, alpha=2))
    path = save_adapter(model, tmp_path / "a")
    first = (path / "adapter_model.safetensors").read_bytes()
    randomize(model)
    save_adapter(model, path)
    assert sorted(p.name for p in path.iterdir()) == ["adapter_config.json", "adapter_model.safetensors"]
    assert (path / "adapter_model.safetensors").read_bytes() != first


@pytest.mark.parametrize("first", ["lora", "cera", "parallel"])
@pytest.mark.parametrize("second", ["lora", "pera"])
def test_attaching_twice_is_refused(first, second, tiny_model, make_config):
    model = attach(tiny_model(), make_config(first))
    with raises_one_line(rf"already carries a '{first}' adapter"):
        attach(model, make_config(second))


@pytest.mark.parametrize(
    "config",
    [
        CeraConfig(r=2, alpha=2, target_modules=["qkv"]),
        PeraConfig(r=2, alpha=2, target_modules=["qkv"]),
        ParallelConfig(r=2, alpha=2, target_modules=["attention"]),
        peft.LoraConfig(r=2, lora_alpha=2, target_modules=["qkv"]),
    ],
    ids=["cera", "pera", "parallel", "lora"],
)
def test_targets_matching_nothing(config, tiny_model):
    model = tiny_model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(AdapterError, match=r"match no module of the model") as info:
        attach(model, config)
    assert "\n" not in str(info.value)
    assert ("self_attn" if isinstance(config, ParallelConfig) else "q_proj") in str(info.value)
    assert all(p.requires_grad for p in model.parameters())  # a failed attach changes nothing
    assert model.state_dict().keys() == before.keys()


def test_non_linear_target_and_suffix_semantics(tiny_model):
    with raises_one_line(r"target 'model\.layers\.0\.self_attn' is a LlamaAttention, not an nn\.Linear"):
        attach(tiny_model(), CeraConfig(r=2, alpha=2, target_modules=["self_attn"]))
    # "proj" is not a suffix after a '.', so it must not match "q_proj".
    with raises_one_line(r"match no module"):
        attach(tiny_model(), CeraConfig(r=2, alpha=2, target_modules=["proj"]))
    model = attach(tiny_model(), CeraConfig(r=2, alpha=2, target_modules=["layers.1.self_attn.q_proj"]))
    layers = model.base_model.model.model.layers
    assert type(layers[1].self_attn.q_proj).__name__ == "CeraLayer"
    assert type(layers[0].self_attn.q_proj).__name__ == "Linear"


def test_bare_model_has_no_method(tiny_model):
    with raises_one_line(r"carries no adapter"):
        method_of(tiny_model())
    with raises_one_line(r"carries no adapter"):
        merge(tiny_model())
    with raises_one_line(r"cannot attach a dict"):
        attach(tiny_model(), {"r": 4})
