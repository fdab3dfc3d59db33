"""Shape-only backbones (``model.init=random``) and decoder truncation (``model.num_layers=N``).

Latency, throughput and memory depend on a model's shapes, not on its trained weights, so the
benchmark can run Llama-3-8B's layers without the 16 GB checkpoint or the Hub: the architecture
alone (``model.hf_config`` in conf/model/*.yaml, a local ``config.json``, or the embedded
backbone's ``architecture``) is built with seeded random weights, directly in the target dtype and
on the target device. No weights file is read and the network is never contacted; the tokenizer is
the offline byte-level one (token content does not change the cost).

Random weights make every accuracy or perplexity meaningless, so training or evaluating such a
model is refused (`check_use`) unless ``model.allow_random=true`` says it is a deliberate smoke test.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

log = logging.getLogger(__name__)

INITS = ("pretrained", "random")


def _error(message: str) -> Exception:
    from cera.models.load import ModelError

    return ModelError(message)


def check_options(cfg: Mapping) -> None:
    """One-line ModelError for a bad ``init``, ``init_seed``, ``num_layers`` or ``allow_random``."""
    init = cfg.get("init", "pretrained")
    if init not in INITS:
        raise _error(f"model.init={init!r} is invalid: choose from {', '.join(INITS)}")
    for key, minimum in (("num_layers", 1), ("init_seed", 0)):
        value = cfg.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < minimum):
            raise _error(f"model.{key}={value!r} is invalid: must be null or an integer >= {minimum}")
    if not isinstance(cfg.get("allow_random", False), bool):
        raise _error(f"model.allow_random={cfg.get('allow_random')!r} is invalid: must be true or false")
    if init == "random" and cfg.get("kind") == "hub" and not cfg.get("hf_config") and not _local_config(cfg):
        raise _error(f"model.init=random needs the architecture: model.path={cfg.get('path')} is not a local "
                     "directory with config.json and model.hf_config is empty")


def check_use(cfg: Mapping, purpose: str = "training or evaluating") -> None:
    """Refuse to train/evaluate random weights unless ``model.allow_random=true``."""
    if cfg.get("init", "pretrained") == "random" and not cfg.get("allow_random", False):
        raise _error(f"model.init=random has untrained weights: {purpose} it gives meaningless numbers; "
                     "set model.allow_random=true for a smoke test, or use model.init=pretrained")


def _local_config(cfg: Mapping) -> Path | None:
    path = Path(str(cfg.get("path") or "")).expanduser()
    return path if (path / "config.json").is_file() else None


def architecture(cfg: Mapping):
    """The transformers config the model config describes (no weights read, no network)."""
    from transformers import AutoConfig

    if cfg.get("kind") == "embedded":
        from cera.models.backbone import Architecture, llama_config
        from cera.tokenizer import build_tokenizer

        arch = Architecture(**(cfg.get("architecture") or {}))
        return llama_config(arch, build_tokenizer(model_max_length=arch.max_position_embeddings))
    fields = dict(cfg.get("hf_config") or {})
    if fields:
        model_type = fields.pop("model_type", "llama")
        return AutoConfig.for_model(model_type, **fields)
    return AutoConfig.from_pretrained(str(_local_config(cfg)))


def truncate(config, num_layers: int | None):
    """Keep the first `num_layers` decoder layers of `config` (in place); everything else unchanged."""
    if num_layers is None:
        return config
    if num_layers > config.num_hidden_layers:
        raise _error(f"model.num_layers={num_layers} exceeds the model's {config.num_hidden_layers} layers")
    config.num_hidden_layers = num_layers
    if getattr(config, "layer_types", None) is not None:  # per-layer attention kinds (sliding / full)
        config.layer_types = list(config.layer_types[:num_layers])
    return config


def random_model(cfg: Mapping, dtype, device=None):
    """``(model, tokenizer)``: the architecture with seeded random weights, built in place on `device`."""
    import torch
    from transformers import AutoModelForCausalLM

    from cera.tokenizer import build_tokenizer

    config = truncate(architecture(cfg), cfg.get("num_layers"))
    tokenizer = build_tokenizer(model_max_length=getattr(config, "max_position_embeddings", 1024))
    if len(tokenizer) > config.vocab_size:
        raise _error(f"model vocab_size={config.vocab_size} is smaller than the byte tokenizer's {len(tokenizer)}")
    torch.manual_seed(cfg.get("init_seed") or 0)
    with torch.device(device or "cpu"):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    log.info("random-initialised %s: %d layers, %.0fM parameters (model.init=random: shapes only)",
             cfg.get("name"), config.num_hidden_layers, sum(p.numel() for p in model.parameters()) / 1e6)
    return model.eval(), tokenizer
