"""What CeRA, PERA and the parallel adapter share as PEFT methods: layer, tuner, registration.

Each method is a PEFT tuner (`BaseTuner` + `BaseTunerLayer`, like PEFT's own `peanut`), so
`get_peft_model`, `save_pretrained`, `PeftModel.from_pretrained`, named adapters, `set_adapter`,
`disable_adapter` and (where linear) `merge_and_unload` are PEFT's own. What is ours:

- `AdapterLayer`: the adapter's additive branch per named adapter, and mixed-adapter batches
  (`adapter_names=[...]`, one name per row, "__base__" for none), as PEFT LoRA has them.
- `AdapterTuner`: injection of one layer class, the `adapter_names` forward hook, and a strict
  loader: a checkpoint whose tensor names or shapes do not fit the model is refused in one line
  (PEFT itself only warns about missing keys).
- `register`: PEFT's `register_peft_method` accepts only names already in its closed `PeftType`
  enum, so a method defined outside PEFT gets its own str-enum member and is entered into the same
  public mappings (`peft.PEFT_TYPE_TO_CONFIG_MAPPING`, `…TUNER…`, `…PREFIX…`) that function fills.
"""

from __future__ import annotations

import enum
from contextlib import contextmanager
from functools import partial
from typing import Any

import torch
from peft import get_peft_model_state_dict
from peft.tuners.tuners_utils import BaseTuner, BaseTunerLayer, check_adapters_to_merge
from torch import nn

from cera.adapters.errors import AdapterError

BASE = "__base__"  # adapter name of rows that use the base model only (PEFT LoRA's convention)


class CeraPeftType(str, enum.Enum):
    """`peft_type` of our methods; a str enum, so it is written to and read from JSON as its name."""

    CERA = "CERA"
    PERA = "PERA"
    PARALLEL = "PARALLEL"


def peft_type(method: str) -> CeraPeftType:
    return CeraPeftType[method.upper()]


def register(config_cls: type, model_cls: type) -> None:
    """Make `config_cls.method` a PEFT method (idempotent; see the module docstring for why not
    `register_peft_method`)."""
    from peft.mapping import PEFT_TYPE_TO_CONFIG_MAPPING, PEFT_TYPE_TO_PREFIX_MAPPING, PEFT_TYPE_TO_TUNER_MAPPING

    kind = peft_type(config_cls.method)
    PEFT_TYPE_TO_CONFIG_MAPPING[kind] = config_cls
    PEFT_TYPE_TO_TUNER_MAPPING[kind] = model_cls
    PEFT_TYPE_TO_PREFIX_MAPPING[kind] = model_cls.prefix


class AdapterLayer(nn.Module, BaseTunerLayer):
    """A frozen base module plus, per named adapter, an additive branch `branch(adapter, x)`.

    Subclasses name their factor dicts in `adapter_layer_names` (nn.ParameterDicts) and their
    other per-adapter modules in `module_dicts` (nn.ModuleDicts), create the tensors in
    `build(adapter, config, device)` (float32 on the base's device: low-rank factors trained in
    bf16 lose updates to rounding) and compute `branch`. Mergeable methods define
    `get_delta_weight(adapter)` (scaled ΔW, d_out × d_in); the others set `why_not_mergeable`.
    The default forward is for a Linear: base_layer(x) + branches.
    """

    other_param_names: tuple[str, ...] = ("r", "scaling")
    module_dicts: tuple[str, ...] = ()
    method: str = ""
    why_not_mergeable: str = ""

    def __init__(self, base_layer: nn.Module, in_features: int, out_features: int) -> None:
        super().__init__()
        self.base_layer = base_layer
        self.in_features, self.out_features = in_features, out_features
        self.r: dict[str, int] = {}
        self.scaling: dict[str, float] = {}
        self._disable_adapters = False
        self.merged_adapters: list[str] = []
        for name in self.adapter_layer_names:
            setattr(self, name, nn.ParameterDict())
        for name in self.module_dicts:
            setattr(self, name, nn.ModuleDict())

    @classmethod
    def features(cls, target: nn.Module, key: str) -> tuple[int, int]:
        """(d_in, d_out) of the target; the default accepts only an nn.Linear."""
        base = target.get_base_layer() if isinstance(target, BaseTunerLayer) else target
        if not isinstance(base, nn.Linear):
            raise AdapterError(f"{cls.method}: target '{key}' is a {type(base).__name__}, not an nn.Linear")
        return base.in_features, base.out_features

    @classmethod
    def wrap(cls, target: nn.Module, key: str, adapter_name: str, config) -> AdapterLayer:
        layer = cls(target, *cls.features(target, key))
        layer._active_adapter = adapter_name
        layer.update_layer(adapter_name, config)
        return layer

    def forward(self, x: torch.Tensor, *args: Any, adapter_names: list[str] | None = None, **kwargs: Any):
        return self.add_branches(self.base_layer(x, *args, **kwargs), x, adapter_names)

    def __repr__(self) -> str:
        return f"{self.method}." + super().__repr__()

    def update_layer(self, adapter_name: str, config) -> None:
        self.r[adapter_name], self.scaling[adapter_name] = config.r, config.scale
        device = next(self.base_layer.parameters()).device
        self.build(adapter_name, config, device)
        self.set_adapter(self.active_adapters, inference_mode=config.inference_mode)

    def build(self, adapter_name: str, config, device: torch.device) -> None:
        raise NotImplementedError

    def branch(self, adapter_name: str, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def add_branches(self, result: torch.Tensor, x: torch.Tensor, adapter_names: list[str] | None) -> torch.Tensor:
        """result + every active adapter's branch; or, per row, the branch of adapter_names[row]."""
        if self.disable_adapters or self.merged:
            if adapter_names is not None and self.merged:
                raise AdapterError("adapter_names cannot be used while adapters are merged: unmerge first")
            return result
        if adapter_names is None:
            for name in self.active_adapters:
                if name in self.r:
                    result = result + self.branch(name, x).to(result.dtype)
            return result
        if len(adapter_names) != x.shape[0]:
            raise AdapterError(f"adapter_names has {len(adapter_names)} entries for a batch of {x.shape[0]} rows")
        result = result.clone()
        for name in dict.fromkeys(adapter_names):
            if name == BASE or name not in self.r:
                continue
            rows = [i for i, n in enumerate(adapter_names) if n == name]
            result[rows] += self.branch(name, x[rows]).to(result.dtype)
        return result

    def merge(self, safe_merge: bool = False, adapter_names: list[str] | None = None) -> None:
        """W0 += ΔW of each adapter (PEFT's merge contract); only methods with `get_delta_weight`."""
        if self.why_not_mergeable:
            raise AdapterError(f"{self.method} adapters cannot be merged: {self.why_not_mergeable}")
        weight = self.get_base_layer().weight
        for name in check_adapters_to_merge(self, adapter_names):
            if name not in self.r:
                continue
            delta = self.get_delta_weight(name).to(weight.dtype)
            if safe_merge and not torch.isfinite(weight.data + delta).all():
                raise AdapterError(f"merging adapter '{name}' gives non-finite weights: the adapter is broken")
            weight.data += delta
            self.merged_adapters.append(name)

    def unmerge(self) -> None:
        weight = self.get_base_layer().weight
        while self.merged_adapters:
            weight.data -= self.get_delta_weight(self.merged_adapters.pop()).to(weight.dtype)

    def get_delta_weight(self, adapter_name: str) -> torch.Tensor:
        raise AdapterError(f"{self.method} adapters cannot be merged: {self.why_not_mergeable}")


class AdapterTuner(BaseTuner):
    """Injects `tuner_layer_cls` into every module that `target_modules` names (PEFT's matching rules)."""

    tuner_layer_cls: type[AdapterLayer]
    target_module_mapping: dict[str, list[str]] = {}

    def _create_and_replace(self, config, adapter_name, target, target_name, parent, current_key, **kwargs) -> None:
        if isinstance(target, self.tuner_layer_cls):
            target.update_layer(adapter_name, config)
            return
        new_module = self.tuner_layer_cls.wrap(target, current_key, adapter_name, config)
        if adapter_name not in self.active_adapters:
            new_module.requires_grad_(False)
        self._replace_module(parent, target_name, new_module, target)

    def _check_merge_allowed(self) -> None:
        layer = self.tuner_layer_cls
        if layer.why_not_mergeable:
            raise AdapterError(f"{layer.method} adapters cannot be merged: {layer.why_not_mergeable}")
        super()._check_merge_allowed()

    @contextmanager
    def _enable_peft_forward_hooks(self, *args: Any, **kwargs: Any):
        """`model(..., adapter_names=[...])`: hand each row's adapter name to every adapter layer."""
        adapter_names = kwargs.pop("adapter_names", None)
        if adapter_names is None:
            yield
            return
        if self.training:
            raise AdapterError("adapter_names (mixed-adapter batches) is for inference: call model.eval() first")
        known = {name for m in self.modules() if isinstance(m, AdapterLayer) for name in m.r}
        unknown = sorted(set(adapter_names) - known - {BASE})
        if unknown:
            raise AdapterError(f"adapter_names names unknown adapters {unknown}: known are {sorted(known)} and {BASE}")
        beams = kwargs.get("num_beams")
        if isinstance(beams, int) and beams > 1:  # generate repeats each row num_beams times
            adapter_names = [n for n in adapter_names for _ in range(beams)]
        handles = [
            m.register_forward_pre_hook(partial(_inject_adapter_names, names=list(adapter_names)), with_kwargs=True)
            for m in self.modules()
            if isinstance(m, AdapterLayer)
        ]
        try:
            yield
        finally:
            for handle in handles:
                handle.remove()

    @classmethod
    def _remap_adapter_state_dict_for_load(cls, model, config, adapter_name, state_dict):
        check_state_dict(get_peft_model_state_dict(model, adapter_name=adapter_name), state_dict, "checkpoint")
        return super()._remap_adapter_state_dict_for_load(model, config, adapter_name, state_dict)


def _inject_adapter_names(module, args, kwargs, names):
    kwargs["adapter_names"] = names
    return args, kwargs


def check_state_dict(live: dict[str, torch.Tensor], saved: dict[str, torch.Tensor], source: Any) -> None:
    """AdapterError (one line) unless `saved` has exactly the tensor names and shapes of `live`.

    Keys are compared without PEFT's "base_model.model." prefix, which only a PeftModel carries.
    """
    live = {k.removeprefix("base_model.model."): v for k, v in live.items()}
    saved = {k.removeprefix("base_model.model."): v for k, v in saved.items()}
    missing, unexpected = sorted(live.keys() - saved.keys()), sorted(saved.keys() - live.keys())
    if missing or unexpected:
        raise AdapterError(
            f"{source} does not fit the model: {len(missing)} adapter tensors missing "
            f"{missing[:3]}, {len(unexpected)} unexpected {unexpected[:3]}"
        )
    for name, tensor in live.items():
        if saved[name].shape != tensor.shape:
            raise AdapterError(
                f"adapter tensor '{name}' has shape {list(saved[name].shape)} in {source} "
                f"but {list(tensor.shape)} in the model"
            )

