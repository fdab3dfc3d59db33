"""Save and load adapters in PEFT's format (`adapter_model.safetensors` + `adapter_config.json`).

`save_adapter` is `save_pretrained` written atomically, plus the tensors' content hash ("sha256") in
`adapter_config.json` (PEFT ignores the extra key); the directory also loads with
`PeftModel.from_pretrained(model, path)` once `cera` is imported. `load_adapter` is the strict
loader: a truncated, garbage or tampered file is refused naming it (`cera.integrity`); the config
must name a known method and, into a model that already carries an adapter, agree with it field by
field; the tensors must have exactly the model's names and shapes before any weight is copied. So a
CeRA checkpoint never loads silently as LoRA, or at another rank.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import peft
import torch
from torch import nn

from cera.adapters.api import AnyConfig, adapter_config, adapter_state_dict, attach, config_method, has_adapter
from cera.adapters.config import LowRankConfig
from cera.adapters.errors import AdapterError
from cera.adapters.tuner import check_state_dict
from cera.integrity import CorruptFile, load_json, load_safetensors, tensor_digest, verify_tensors
from cera.io import atomic_write_json

WEIGHTS_NAME = "adapter_model.safetensors"
CONFIG_NAME = "adapter_config.json"
#: LoRA fields that change the adapter's tensors or its forward; all must agree to load.
LORA_KEYS = (
    "r", "lora_alpha", "lora_dropout", "target_modules", "use_dora", "use_rslora", "bias",
    "fan_in_fan_out", "rank_pattern", "alpha_pattern", "layers_to_transform", "exclude_modules",
    "modules_to_save",
)  # fmt: skip
#: PeftConfig's bookkeeping fields (where the adapter came from, not what it computes).
BOOKKEEPING = {f.name for f in dataclasses.fields(peft.PeftConfig)}


def save_adapter(model: nn.Module, directory: str | os.PathLike) -> Path:
    """The active adapter's `save_pretrained` files in `directory` (created if needed), each replaced
    atomically; returns it.

    Weights are moved into place first, so a config file always describes weights at least as new.
    """
    adapter_config(model)  # raises when there is no adapter
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=directory.parent, prefix=f".{directory.name}."))
    active = model.active_adapter
    try:
        model.save_pretrained(staging, selected_adapters=[active])
        written = staging if active == "default" else staging / active  # PEFT's layout for named adapters
        meta = load_json(written / CONFIG_NAME)
        meta["sha256"] = tensor_digest(load_safetensors(written / WEIGHTS_NAME))  # load_adapter checks it
        atomic_write_json(written / CONFIG_NAME, meta)
        for name in (WEIGHTS_NAME, CONFIG_NAME):
            os.replace(written / name, directory / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return directory


def read_adapter_meta(directory: str | os.PathLike) -> dict[str, Any]:
    """The parsed `adapter_config.json`; AdapterError (one line, naming the file) if absent or corrupt."""
    directory = Path(directory)
    if (directory / "adapter.safetensors").is_file():
        raise AdapterError(f"{directory} holds an adapter in cera's pre-PEFT format: re-train it with this version")
    for name in (CONFIG_NAME, WEIGHTS_NAME):
        if not (directory / name).is_file():
            raise AdapterError(f"no adapter at {directory}: {directory / name} does not exist")
    try:
        return load_json(directory / CONFIG_NAME, dict)
    except CorruptFile as err:
        raise AdapterError(str(err)) from None


def read_adapter_config(directory: str | os.PathLike, meta: dict[str, Any] | None = None) -> AnyConfig:
    """The config of a saved adapter; AdapterError (one line) if absent, foreign or invalid."""
    directory = Path(directory)
    meta = read_adapter_meta(directory) if meta is None else meta
    kind = meta.get("peft_type")
    cls = peft.PEFT_TYPE_TO_CONFIG_MAPPING.get(kind) if isinstance(kind, str) else None
    if cls is None or not issubclass(cls, (peft.LoraConfig, LowRankConfig)):
        raise AdapterError(
            f"{directory / CONFIG_NAME} has peft_type={kind!r}: cera loads LORA (lora, dora), CERA, PERA, PARALLEL"
        )
    try:
        return cls.from_pretrained(str(directory))
    except (TypeError, ValueError) as err:
        raise AdapterError(f"checkpoint {directory} has an invalid {kind} config: {str(err).splitlines()[0]}") from None


def read_adapter_tensors(directory: str | os.PathLike, meta: dict[str, Any] | None = None) -> dict[str, torch.Tensor]:
    """The saved tensors, refused (AdapterError naming the file) if the file is truncated or garbage,
    or if they do not match the content hash recorded in `adapter_config.json` (an adapter saved by
    PEFT itself has none and loads unchecked)."""
    directory = Path(directory)
    meta = read_adapter_meta(directory) if meta is None else meta
    try:
        tensors = load_safetensors(directory / WEIGHTS_NAME)
        if meta.get("sha256") is not None:
            verify_tensors(tensors, meta["sha256"], directory / WEIGHTS_NAME)
    except CorruptFile as err:
        raise AdapterError(str(err)) from None
    return tensors


def _settings(config: AnyConfig) -> dict[str, Any]:
    """The fields that decide the adapter's tensors and forward, JSON-comparable."""
    if isinstance(config, peft.LoraConfig):
        values = {k: getattr(config, k) for k in LORA_KEYS}
    else:
        values = {f.name: getattr(config, f.name) for f in dataclasses.fields(config) if f.name not in BOOKKEEPING}
    return {k: sorted(v) if isinstance(v, (set, frozenset)) else v for k, v in values.items()}


def _check_same_config(model: nn.Module, config: AnyConfig, source: Path) -> None:
    method, current = config_method(config), config_method(adapter_config(model))
    if current != method:
        raise AdapterError(f"checkpoint {source} is a '{method}' adapter but the model carries '{current}'")
    saved, live = _settings(config), _settings(adapter_config(model))
    diffs = [f"{k}={saved.get(k)!r} vs {live.get(k)!r}" for k in saved if saved.get(k) != live.get(k)]
    if diffs:
        raise AdapterError(
            f"checkpoint {source} does not match the model's {method} adapter (checkpoint vs model): {'; '.join(diffs)}"
        )


def load_adapter(model: nn.Module, directory: str | os.PathLike) -> peft.PeftModel:
    """Load a saved adapter into `model` (its active adapter), strictly; returns the PeftModel.

    A bare model gets the saved config attached first. A model that already carries an adapter
    must match the checkpoint's method, config and tensor shapes. If a freshly attached adapter
    then does not fit (another base architecture), the error leaves that adapter attached.
    """
    directory = Path(directory)
    meta = read_adapter_meta(directory)
    config = read_adapter_config(directory, meta)
    saved = read_adapter_tensors(directory, meta)
    if has_adapter(model):
        _check_same_config(model, config, directory)
    else:
        model = attach(model, config)
    check_state_dict(adapter_state_dict(model), saved, f"checkpoint {directory}")
    peft.set_peft_model_state_dict(model, saved, adapter_name=model.active_adapter)
    return model
