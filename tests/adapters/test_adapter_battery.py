"""One battery over all five methods on the tiny Llama, through PEFT's API and our conveniences:
forward, training step, save/load (ours and PEFT's), disable/enable, merge, named adapters, mixed batches."""

import pytest
import torch
from peft import PeftModel, get_peft_model
from transformers import LlamaForCausalLM

from cera.adapters import (
    AdapterError,
    adapter_state_dict,
    attach,
    iter_adapter_layers,
    load_adapter,
    merge,
    method_of,
    save_adapter,
    trainable_parameters,
)

METHODS = ("lora", "dora", "cera", "pera", "parallel")
MERGEABLE = {"lora", "dora", "pera"}


@pytest.fixture(params=METHODS)
def method(request):
    return request.param


def test_attach_records_method_and_changes_nothing_at_init(method, make_config, tiny_model, input_ids):
    base_logits = tiny_model()(input_ids).logits
    model = attach(tiny_model(), make_config(method))
    assert method_of(model) == method
    assert list(iter_adapter_layers(model))
    torch.testing.assert_close(model(input_ids).logits, base_logits, rtol=0, atol=1e-6)


def test_only_adapter_parameters_train(method, make_config, tiny_model, input_ids, randomize):
    model = randomize(attach(tiny_model(), make_config(method))).train()
    adapter = {t.data_ptr() for t in adapter_state_dict(model).values()}
    assert trainable_parameters(model) == sum(t.numel() for t in adapter_state_dict(model).values()) > 0
    loss = model(input_ids, labels=input_ids).loss
    loss.backward()
    for name, param in model.named_parameters():
        if param.data_ptr() in adapter:
            assert param.requires_grad and param.grad is not None, name
            assert param.grad.abs().sum() > 0, name
        else:
            assert not param.requires_grad and param.grad is None, name


def test_two_adamw_steps_move_every_adapter_tensor(method, make_config, tiny_model, input_ids):
    model = attach(tiny_model(), make_config(method)).train()
    before = {k: v.clone() for k, v in adapter_state_dict(model).items()}
    frozen = {k: v.clone() for k, v in model.named_parameters() if not v.requires_grad}
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2, weight_decay=0.0)
    for _ in range(2):  # the zero factor moves first, the other one once the zero factor is non-zero
        model(input_ids, labels=input_ids).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    after = adapter_state_dict(model)
    unchanged = [k for k in before if torch.equal(before[k], after[k])]
    assert not unchanged
    assert all(torch.equal(v, dict(model.named_parameters())[k]) for k, v in frozen.items())


def test_save_load_round_trip_is_exact(method, make_config, tiny_model, input_ids, randomize, tmp_path):
    model = randomize(attach(tiny_model(), make_config(method)))
    expected = model(input_ids).logits
    assert (expected - tiny_model()(input_ids).logits).abs().max() > 1e-3
    path = save_adapter(model, tmp_path / "adapter")
    assert sorted(p.name for p in path.iterdir()) == ["adapter_config.json", "adapter_model.safetensors"]

    loaded = load_adapter(tiny_model(), path)
    assert method_of(loaded) == method
    assert torch.equal(loaded(input_ids).logits, expected)
    # Loading into a model that already carries the same adapter also works and is exact.
    again = load_adapter(attach(tiny_model(), make_config(method)), path)
    assert torch.equal(again(input_ids).logits, expected)


def test_merge(method, make_config, tiny_model, input_ids, randomize):
    model = randomize(attach(tiny_model(), make_config(method)))
    unmerged = model(input_ids).logits
    if method not in MERGEABLE:
        with pytest.raises(AdapterError, match=f"^{method} adapters cannot be merged"):
            merge(model)
        return
    merged = merge(model)
    assert type(merged) is LlamaForCausalLM and not list(iter_adapter_layers(merged))
    with pytest.raises(AdapterError, match="carries no adapter"):
        method_of(merged)
    torch.testing.assert_close(merged(input_ids).logits, unmerged, rtol=0, atol=1e-5)


def test_peft_save_pretrained_and_from_pretrained_are_bit_exact(method, make_config, tiny_model, input_ids, randomize,
                                                                   tmp_path):
    model = randomize(get_peft_model(tiny_model(), make_config(method))).eval()
    expected = model(input_ids).logits
    model.save_pretrained(tmp_path / "peft")
    loaded = PeftModel.from_pretrained(tiny_model(), tmp_path / "peft")
    assert method_of(loaded) == method
    assert torch.equal(loaded(input_ids).logits, expected)
    saved, live = adapter_state_dict(model), adapter_state_dict(loaded)
    assert saved.keys() == live.keys() and all(torch.equal(saved[k], live[k]) for k in saved)


def test_disable_adapter_gives_the_base_exactly(method, make_config, tiny_model, input_ids, randomize):
    base = tiny_model()(input_ids).logits
    model = randomize(attach(tiny_model(), make_config(method))).eval()
    adapted = model(input_ids).logits
    assert (adapted - base).abs().max() > 1e-3
    with model.disable_adapter():
        assert torch.equal(model(input_ids).logits, base)
    assert torch.equal(model(input_ids).logits, adapted)


def test_named_adapters_switch_and_train_separately(method, make_config, tiny_model, input_ids, randomize):
    model = randomize(attach(tiny_model(), make_config(method)))
    model.add_adapter("other", make_config(method))
    model.eval()
    default = model(input_ids).logits
    model.set_adapter("other")
    assert model.active_adapter == "other"
    torch.testing.assert_close(model(input_ids).logits, tiny_model()(input_ids).logits, rtol=0, atol=1e-6)
    model.train()
    model(input_ids, labels=input_ids).loss.backward()
    grads = {n for n, p in model.named_parameters() if p.grad is not None}
    assert grads and all(".other" in n for n in grads)
    model.set_adapter("default")
    assert torch.equal(model.eval()(input_ids).logits, default)


MIXED = set(METHODS) - {"dora"}  # PEFT refuses adapter_names with DoRA


def test_mixed_batch_equals_per_adapter_batches(method, make_config, tiny_model, randomize):
    if method not in MIXED:
        pytest.skip("PEFT does not serve DoRA in mixed batches")
    model = randomize(attach(tiny_model(), make_config(method)))
    model.add_adapter("b", make_config(method))
    model.set_adapter("b")
    randomize(model, seed=5)
    model.eval()
    ids = torch.randint(0, 64, (5, 6), generator=torch.Generator().manual_seed(4))
    names = ["default", "b", "__base__", "b", "default"]
    with torch.no_grad():
        mixed = model(ids, adapter_names=names).logits
        single = {}
        for name in ("default", "b"):
            model.set_adapter(name)
            single[name] = model(ids).logits
        with model.disable_adapter():
            single["__base__"] = model(ids).logits
    for row, name in enumerate(names):
        torch.testing.assert_close(mixed[row], single[name][row], rtol=0, atol=1e-5)
    assert (single["default"] - single["b"]).abs().max() > 1e-3  # the rows really differ
