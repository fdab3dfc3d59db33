"""Save and load adapters as `adapter.safetensors` + `adapter_config.json`, for all five methods.

Why our own format rather than PEFT's save_pretrained: one loader for every method, and a strict
one. Loading checks the method, every config field and every tensor name and shape before any
weight is copied, so a CeRA checkpoint can never load silently as LoRA, or at another rank.
"""

from __future__ import annotations

import enum
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import peft
import torch
from safetensors.torch import save_file
from torch import nn

from cera.adapters.api import (
    OUR_CONFIGS,
    AnyConfig,
    adapter_config,
    adapter_state_dict,
    attach,
    has_adapter,
    method_of,
)
from cera.adapters.errors import AdapterError
from cera.integrity import CorruptFile, load_json, load_safetensors, tensor_digest, verify_tensors

WEIGHTS_NAME = "adapter.safetensors"
CONFIG_NAME = "adapter_config.json"
#: Bump when the layout of either file changes; loaders refuse other versions.
ADAPTER_FORMAT_VERSION = 1
#: LoRA fields that change the adapter's tensors or its forward; all must agree to load.
LORA_KEYS = (
    "r", "lora_alpha", "lora_dropout", "target_modules", "use_dora", "use_rslora", "bias",
    "fan_in_fan_out", "rank_pattern", "alpha_pattern", "layers_to_transform", "exclude_modules",
    "modules_to_save",
)


def _jsonable(value: Any) -> Any:
    """PEFT configs hold sets and enums; make them JSON values (sets sorted, for stable files)."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted(_jsonable(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def config_to_dict(config: AnyConfig) -> dict[str, Any]:
    return _jsonable(config.to_dict())


def config_from_dict(method: str, fields: dict[str, Any], source: Path | str = "<dict>") -> AnyConfig:
    """Rebuild the config saved by `save_adapter`; AdapterError if it is unknown or invalid."""
    try:
        if method in ("lora", "dora"):
            config = peft.LoraConfig(**fields)
            if config.use_dora != (method == "dora"):
                raise ValueError(f"use_dora={config.use_dora} contradicts method '{method}'")
            return config
        by_method = {cls.method: cls for cls in OUR_CONFIGS}
        if method not in by_method:
            raise ValueError(f"unknown method '{method}' (known: lora, dora, {', '.join(by_method)})")
        return by_method[method](**fields)
    except (TypeError, ValueError) as err:
        raise AdapterError(f"checkpoint {source} has an invalid '{method}' config: {err}") from err


def _atomic_write(path: Path, write: Callable[[str], None]) -> None:
    """Write via a temp file in the same directory and os.replace, so readers never see half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_adapter(model: nn.Module, directory: str | os.PathLike) -> Path:
    """Write the adapter's tensors and config into `directory` (created if needed); returns it."""
    directory = Path(directory)
    method = method_of(model)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in adapter_state_dict(model).items()}
    from cera import __version__  # lazy: cera/__init__ imports this package

    meta = {
        "method": method,
        "format_version": ADAPTER_FORMAT_VERSION,
        "cera_version": __version__,
        "config": config_to_dict(adapter_config(model)),
        "shapes": {name: list(t.shape) for name, t in tensors.items()},
        "sha256": tensor_digest(tensors),  # load_adapter refuses tensors that do not match it
    }
    directory.mkdir(parents=True, exist_ok=True)
    # Weights first: a config file always describes weights at least as new as itself.
    _atomic_write(directory / WEIGHTS_NAME, lambda p: save_file(tensors, p, metadata={"method": method}))
    text = json.dumps(meta, indent=2, sort_keys=True) + "\n"
    _atomic_write(directory / CONFIG_NAME, lambda p: Path(p).write_text(text, encoding="utf-8"))
    return directory


def read_adapter_config(directory: str | os.PathLike) -> dict[str, Any]:
    """The parsed `adapter_config.json` of a saved adapter; AdapterError if absent or foreign."""
    directory = Path(directory)
    for name in (CONFIG_NAME, WEIGHTS_NAME):
        if not (directory / name).is_file():
            raise AdapterError(f"no adapter at {directory}: {directory / name} does not exist")
    try:
        meta = load_json(directory / CONFIG_NAME, dict)
    except CorruptFile as err:
        raise AdapterError(str(err)) from None
    version = meta.get("format_version")
    if version != ADAPTER_FORMAT_VERSION:
        raise AdapterError(
            f"{directory / CONFIG_NAME} has format_version={version!r}; "
            f"this cera reads {ADAPTER_FORMAT_VERSION}"
        )
    return meta


def read_adapter_tensors(directory: str | os.PathLike, meta: dict[str, Any] | None = None) -> dict[str, torch.Tensor]:
    """The saved tensors, refused (AdapterError naming the file) if the file is truncated or garbage,
    or if they do not match the content hash recorded in `adapter_config.json` (adapters saved before
    the hash existed have none and load unchecked)."""
    directory = Path(directory)
    meta = read_adapter_config(directory) if meta is None else meta
    try:
        tensors = load_safetensors(directory / WEIGHTS_NAME)
        if meta.get("sha256") is not None:
            verify_tensors(tensors, meta["sha256"], directory / WEIGHTS_NAME)
    except CorruptFile as err:
        raise AdapterError(str(err)) from None
    return tensors


def _check_same_config(model: nn.Module, method: str, config: AnyConfig, source: Path) -> None:
    current = method_of(model)
    if current != method:
        raise AdapterError(f"checkpoint {source} is a '{method}' adapter but the model carries '{current}'")
    saved, live = config_to_dict(config), config_to_dict(adapter_config(model))
    keys = LORA_KEYS if method in ("lora", "dora") else saved.keys()
    diffs = [f"{k}={saved.get(k)!r} vs {live.get(k)!r}" for k in keys if saved.get(k) != live.get(k)]
    if diffs:
        raise AdapterError(
            f"checkpoint {source} does not match the model's {method} adapter "
            f"(checkpoint vs model): {'; '.join(diffs)}"
        )


def _check_tensors(live: dict[str, torch.Tensor], saved: dict[str, torch.Tensor], source: Path) -> None:
    missing, unexpected = sorted(live.keys() - saved.keys()), sorted(saved.keys() - live.keys())
    if missing or unexpected:
        raise AdapterError(
            f"checkpoint {source} does not fit the model: {len(missing)} adapter tensors missing "
            f"{missing[:3]}, {len(unexpected)} unexpected {unexpected[:3]}"
        )
    for name, tensor in live.items():
        if saved[name].shape != tensor.shape:
            raise AdapterError(
                f"adapter tensor '{name}' has shape {list(saved[name].shape)} in checkpoint {source} "
                f"but {list(tensor.shape)} in the model"
            )


def load_adapter(model: nn.Module, directory: str | os.PathLike) -> nn.Module:
    """Load a saved adapter into `model`, strictly; returns the model (a PeftModel for LoRA/DoRA).

    A bare model gets the saved config attached first. A model that already carries an adapter
    must match the checkpoint's method, config and tensor shapes. If a freshly attached adapter
    then does not fit (another base architecture), the error leaves that adapter attached.
    """
    directory = Path(directory)
    meta = read_adapter_config(directory)
    method = meta.get("method")
    config = config_from_dict(method, meta.get("config", {}), directory)
    saved = read_adapter_tensors(directory, meta)
    if has_adapter(model):
        _check_same_config(model, method, config, directory)
    else:
        model = attach(model, config)
    live = adapter_state_dict(model)
    _check_tensors(live, saved, directory)
    if isinstance(model, peft.PeftModel):
        result = peft.set_peft_model_state_dict(model, saved)
        if result.unexpected_keys:  # cannot happen after _check_tensors; guard against PEFT changes
            raise AdapterError(f"PEFT did not load {result.unexpected_keys[:3]} from {directory}")
    else:
        with torch.no_grad():
            for name, tensor in saved.items():
                live[name].copy_(tensor)
    return model
