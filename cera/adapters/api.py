"""Attach, inspect and merge adapters: thin conveniences over PEFT for every method.

Every method (PEFT's LoRA/DoRA, our CeRA, PERA and parallel adapter) is a PEFT method, so a model
with an adapter is always a `peft.PeftModel` and nothing here branches on who implements it.
Analysis reads each layer through two public-API interfaces: `branch_output` (what the adapter adds
to the layer's output, from the layer's forward and its base layer's) and `delta_weight` (what
`merge` adds to W0, from PEFT's `merge` on a copy).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import peft
import torch
from peft.tuners.tuners_utils import BaseTunerLayer
from torch import nn
from torch.func import functional_call

from cera.adapters.config import LowRankConfig, check_lora_alpha
from cera.adapters.errors import AdapterError

AnyConfig = Any  # a LowRankConfig subclass or peft.LoraConfig


def has_adapter(model: nn.Module) -> bool:
    return isinstance(model, peft.PeftModel)


def adapter_config(model: nn.Module) -> AnyConfig:
    """The config of the model's active adapter (PEFT's LoraConfig or one of ours)."""
    if not has_adapter(model):
        raise AdapterError(f"{type(model).__name__} carries no adapter: attach one with cera.adapters.attach")
    config = model.peft_config[model.active_adapter]
    if not isinstance(config, (peft.LoraConfig, LowRankConfig)):
        raise AdapterError(f"unsupported PEFT adapter type {config.peft_type}: lora, dora, cera, pera, parallel")
    return config


def method_of(model: nn.Module) -> str:
    """'lora' | 'dora' | 'cera' | 'pera' | 'parallel'; AdapterError if the model has no adapter."""
    return config_method(adapter_config(model))


def config_method(config: AnyConfig) -> str:
    if isinstance(config, peft.LoraConfig):
        return "dora" if config.use_dora else "lora"
    return config.method


def attach(model: nn.Module, config: AnyConfig) -> peft.PeftModel:
    """`peft.get_peft_model(model, config)` with one-line errors; everything but the adapter is frozen.

    A model that already carries an adapter is refused (add named adapters with PEFT's
    `add_adapter`). A config whose targets match nothing leaves the model untouched.
    """
    if has_adapter(model) or any(True for _ in iter_adapter_layers(model)):
        raise AdapterError(f"model already carries a '{_method_or_unknown(model)}' adapter; attach to a fresh base model")
    if not isinstance(config, (peft.LoraConfig, LowRankConfig)):
        raise AdapterError(
            f"cannot attach a {type(config).__name__}: expected CeraConfig, PeraConfig, ParallelConfig or peft.LoraConfig"
        )
    if isinstance(config, peft.LoraConfig):
        check_lora_alpha(config.lora_alpha)
    try:
        return peft.get_peft_model(model, config)
    except peft.NoMatchingPeftModuleError as err:  # PEFT's message is multi-clause; ours is one line
        raise no_match_error(model, config) from err


def no_match_error(model: nn.Module, config: AnyConfig) -> AdapterError:
    """One line naming the targets and a few names the user could have meant."""
    blocks = config_method(config) == "parallel"
    names = set()
    for name, module in model.named_modules():
        hit = any(isinstance(c, nn.Linear) for c in module.children()) if blocks else isinstance(module, nn.Linear)
        if name and hit:
            names.add(name.rsplit(".", 1)[-1])
    targets = config.target_modules
    targets = [targets] if isinstance(targets, str) else sorted(targets or [])
    label = "modules holding Linears" if blocks else "Linear modules"
    return AdapterError(
        f"{config_method(config)}: target_modules {targets} match no module of the model; "
        f"its {label} include {sorted(names)[:12]}"
    )


def _method_or_unknown(model: nn.Module) -> str:
    try:
        return method_of(model)
    except AdapterError:
        return "unknown"


def iter_adapter_layers(model: nn.Module) -> Iterator[tuple[str, BaseTunerLayer]]:
    """(qualified name, layer) for every adapter layer of every method."""
    for name, module in model.named_modules():
        if isinstance(module, BaseTunerLayer):
            yield name, module


def _float64(value: Any) -> Any:
    """Floating tensors (also inside tuples, lists and dicts) as float64; everything else as is."""
    if isinstance(value, torch.Tensor):
        return value.double() if value.is_floating_point() else value
    if isinstance(value, (tuple, list)):
        return type(value)(_float64(v) for v in value)
    if isinstance(value, dict):
        return {k: _float64(v) for k, v in value.items()}
    return value


def _first(out: Any) -> torch.Tensor:
    return out[0] if isinstance(out, tuple) else out


def _call64(module: nn.Module, args: tuple, kwargs: dict) -> torch.Tensor:
    tensors = {**dict(module.named_parameters()), **dict(module.named_buffers())}
    return _first(functional_call(module, _float64(tensors), _float64(args), _float64(kwargs)))


@torch.no_grad()
def branch_output(layer: BaseTunerLayer, *args: Any, **kwargs: Any) -> torch.Tensor:
    """What the active adapter adds to `layer`'s (first) output for these inputs, in float64.

    layer(...) − base_layer(...), both evaluated on float64 copies of the layer's tensors (so the
    subtraction loses nothing) with the layer's current train/eval mode. For LoRA, CeRA, PERA
    and the parallel adapter this is the additive branch; for DoRA, whose magnitude rescales the
    whole output, it is the total change the adapter makes.
    """
    return _call64(layer, args, kwargs) - _call64(layer.get_base_layer(), args, kwargs)


@torch.no_grad()
def delta_weight(layer: BaseTunerLayer) -> torch.Tensor:
    """What merging the active adapter adds to the base weight (d_out × d_in, float64).

    PEFT's own `merge` applied to a float64 copy of the layer, minus W0: for LoRA s·B A, for PERA
    s·Poly2(B) Poly2(A), for DoRA the total merged change. AdapterError for non-linear methods.
    """
    method = getattr(layer, "method", "")
    reason = getattr(layer, "why_not_mergeable", "")
    if reason:
        raise AdapterError(f"{method} has no ΔW: {reason}")
    merged = copy.deepcopy(layer).double()
    merged.merge()
    return merged.get_base_layer().weight - layer.get_base_layer().weight.double()


def adapter_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """Adapter tensors of the active adapter (PEFT's checkpoint keys); they share storage with the live parameters."""
    adapter_config(model)  # raises when there is no adapter
    return peft.get_peft_model_state_dict(model, adapter_name=model.active_adapter)


def trainable_parameters(model: nn.Module) -> int:
    """Number of scalars that require grad."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def merge(model: nn.Module) -> nn.Module:
    """Fold the adapter into the base weights and return the plain base model (PEFT's merge_and_unload).

    LoRA, DoRA and PERA; a one-line AdapterError for CeRA and the parallel adapter (non-linear).
    """
    adapter_config(model)
    return model.merge_and_unload()
