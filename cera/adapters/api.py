"""Attach, inspect and merge adapters: one entry point for PEFT's LoRA/DoRA and our methods.

Why one API: the training loop, checkpointing and analysis code never branch on the method;
they call `attach`, `adapter_state_dict`, `merge`, `iter_adapter_layers` and get the same
behaviour whether PEFT or this package implements the layer.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Union

import peft
import torch
from peft.tuners.lora import LoraLayer
from torch import nn

from cera.adapters.cera import CeraConfig, CeraLinear
from cera.adapters.errors import AdapterError
from cera.adapters.inject import inject, no_match_error
from cera.adapters.parallel import ParallelAdapter, ParallelConfig
from cera.adapters.pera import PeraConfig, PeraLinear
from cera.adapters.validation import check_lora_config

OurConfig = Union[CeraConfig, PeraConfig, ParallelConfig]
AnyConfig = Union[OurConfig, peft.LoraConfig]

#: Our configs; `method` names them in checkpoints.
OUR_CONFIGS: tuple[type, ...] = (CeraConfig, PeraConfig, ParallelConfig)
#: Every adapter layer type, ours and PEFT's LoRA/DoRA layers.
ADAPTER_CLASSES: tuple[type[nn.Module], ...] = (CeraLinear, PeraLinear, ParallelAdapter, LoraLayer)
#: Attribute on which `attach` records our config.
CONFIG_ATTR = "cera_adapter_config"


def has_adapter(model: nn.Module) -> bool:
    return isinstance(model, peft.PeftModel) or CONFIG_ATTR in vars(model)


def adapter_config(model: nn.Module) -> AnyConfig:
    """The config the model's adapter was attached with (PEFT's LoraConfig or ours)."""
    if isinstance(model, peft.PeftModel):
        config = model.peft_config[model.active_adapter]
        if not isinstance(config, peft.LoraConfig):
            raise AdapterError(f"unsupported PEFT adapter type {config.peft_type}: only LoRA/DoRA")
        return config
    if CONFIG_ATTR in vars(model):
        return vars(model)[CONFIG_ATTR]
    raise AdapterError(f"{type(model).__name__} carries no adapter: attach one with cera.adapters.attach")


def method_of(model: nn.Module) -> str:
    """'lora' | 'dora' | 'cera' | 'pera' | 'parallel'; AdapterError if the model has no adapter."""
    config = adapter_config(model)
    if isinstance(config, peft.LoraConfig):
        return "dora" if config.use_dora else "lora"
    return config.method


def attach(model: nn.Module, config: AnyConfig) -> nn.Module:
    """Add an adapter and freeze everything else.

    Ours modify `model` in place and return it; a peft.LoraConfig returns PEFT's PeftModel.
    A model that already carries an adapter is refused (stacking is not supported).
    """
    if has_adapter(model) or any(True for _ in iter_adapter_layers(model)):
        raise AdapterError(
            f"model already carries a '{_method_or_unknown(model)}' adapter; attach to a fresh base model"
        )
    if isinstance(config, peft.LoraConfig):
        try:
            check_lora_config(config)
        except ValueError as err:
            raise AdapterError(str(err)) from None
        try:
            return peft.get_peft_model(model, config)
        except peft.NoMatchingPeftModuleError as err:  # PEFT's message is multi-clause; ours is uniform
            targets = config.target_modules or []
            targets = [targets] if isinstance(targets, str) else sorted(targets)  # str: a PEFT regex
            raise no_match_error(model, targets, nn.Linear, "dora" if config.use_dora else "lora") from err
    if not isinstance(config, OUR_CONFIGS):
        raise AdapterError(
            f"cannot attach a {type(config).__name__}: "
            "expected CeraConfig, PeraConfig, ParallelConfig or peft.LoraConfig"
        )
    inject(model, config.target_modules, config.make_layer, config.wraps, config.method)
    for param in model.parameters():
        param.requires_grad_(False)
    for _, param in _our_adapter_parameters(model):
        param.requires_grad_(True)
    setattr(model, CONFIG_ATTR, config)
    return model


def _method_or_unknown(model: nn.Module) -> str:
    try:
        return method_of(model)
    except AdapterError:
        return "unknown"


def iter_adapter_layers(model: nn.Module) -> Iterator[tuple[str, nn.Module]]:
    """(qualified name, layer) for every adapter layer: ours and PEFT's LoRA/DoRA layers."""
    for name, module in model.named_modules():
        if isinstance(module, ADAPTER_CLASSES):
            yield name, module


def branch_output(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """What `layer` adds to its base output for input x (for hooks and spectral analysis).

    Ours: `layer.branch(x)`. PEFT LoRA: s · B A dropout(x) of the active adapter. DoRA rescales
    the whole output, so it has no additive branch and is refused.
    """
    if isinstance(layer, (CeraLinear, PeraLinear, ParallelAdapter)):
        return layer.branch(x)
    if isinstance(layer, LoraLayer):
        (name,) = layer.active_adapters
        if layer.use_dora.get(name, False):
            raise AdapterError("dora has no additive branch: its magnitude rescales the whole output")
        lora_a = layer.lora_A[name]
        x = x.to(lora_a.weight.dtype)
        return layer.lora_B[name](lora_a(layer.lora_dropout[name](x))) * layer.scaling[name]
    raise AdapterError(f"{type(layer).__name__} is not an adapter layer")


def _our_adapter_parameters(model: nn.Module) -> Iterator[tuple[str, nn.Parameter]]:
    """Direct parameters of our adapter layers (never their base_layer's)."""
    for name, layer in iter_adapter_layers(model):
        for pname, param in layer.named_parameters(recurse=False):
            yield f"{name}.{pname}", param


def adapter_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """Adapter tensors only, keyed by name; they share storage with the live parameters."""
    if isinstance(model, peft.PeftModel):
        return peft.get_peft_model_state_dict(model)
    adapter_config(model)  # raises when there is no adapter
    return {name: param.detach() for name, param in _our_adapter_parameters(model)}


def trainable_parameters(model: nn.Module) -> int:
    """Number of scalars that require grad."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def merge(model: nn.Module) -> nn.Module:
    """Fold a linear adapter into the base weights and return the plain base model.

    LoRA/DoRA: PEFT's merge_and_unload(). PERA: W0 += s · ΔW and each PeraLinear becomes its base
    Linear again (in place). CeRA and the parallel adapter are non-linear and are refused.
    """
    method = method_of(model)
    if isinstance(model, peft.PeftModel):
        return model.merge_and_unload()
    if method == "cera":
        raise AdapterError(
            "cera adapters cannot be merged: the activation makes the update non-linear in x, so no "
            "ΔW exists; serve it unmerged (activation=identity with dropout=0 is LoRA: use lora to merge)"
        )
    if method == "parallel":
        raise AdapterError(
            "parallel adapters cannot be merged: the branch is non-linear and spans a whole attention "
            "block, so no weight absorbs it; serve it unmerged"
        )
    layers = [(name, layer) for name, layer in iter_adapter_layers(model) if isinstance(layer, PeraLinear)]
    for name, layer in layers:
        parent_name, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent_name), child, layer.merged_base())
    delattr(model, CONFIG_ATTR)
    return model
