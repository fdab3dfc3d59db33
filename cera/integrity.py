"""Read back what a run wrote, and refuse what is not what we wrote: truncated, garbage, wrong type.

Every file a run writes goes through ``cera.io``'s atomic writes, so a half-written file means a
disk, a copy or a hand went wrong, never a reader racing a writer. The readers here turn that into
``CorruptFile``, whose message is one line naming the file and what is wrong, instead of a
traceback or, worse, a default that makes a broken run look done with blank metrics.

Adapter tensors carry a content hash (``tensor_digest``) in their JSON config; ``verify_tensors``
refuses a load whose tensors do not match it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any


class CorruptFile(ValueError):
    """A file the harness wrote cannot be read back as written; the message is one line."""

    def __init__(self, path: str | os.PathLike, reason: str):
        super().__init__(f"{path} is corrupt: {reason}")
        self.path, self.reason = Path(path), reason


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise CorruptFile(path, f"not UTF-8 text (byte {err.start})") from None


def load_json(path: str | os.PathLike, kind: type = dict, required: tuple[str, ...] = ()) -> Any:
    """The JSON value in ``path``, which must exist, parse, be a ``kind`` and hold ``required`` keys."""
    path = Path(path)
    text = _text(path)
    if not text.strip():
        raise CorruptFile(path, "empty file")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise CorruptFile(path, f"invalid JSON at line {err.lineno} column {err.colno} ({err.msg})") from None
    if not isinstance(value, kind):
        raise CorruptFile(path, f"expected a JSON {_json_type(kind)}, found {_json_type(type(value))}")
    missing = [k for k in required if k not in value]
    if missing:
        raise CorruptFile(path, f"missing key {missing[0]!r}")
    return value


def read_json_checked(path: str | os.PathLike, kind: type = dict, required: tuple[str, ...] = ()) -> Any:
    """Like ``load_json``, but ``None`` when the file does not exist (a run that has not written it yet)."""
    try:
        return load_json(path, kind, required)
    except FileNotFoundError:
        return None


def read_jsonl_checked(path: str | os.PathLike, allow_empty: bool = True) -> list[dict] | None:
    """Every line of a JSON-lines file as an object; ``None`` if absent; a bad line names its number.
    An empty file is zero rows (an atomic write of no rows), unless ``allow_empty`` is false."""
    path = Path(path)
    try:
        text = _text(path)
    except FileNotFoundError:
        return None
    if not text and not allow_empty:
        raise CorruptFile(path, "empty file")
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise CorruptFile(path, f"line {number} is not valid JSON ({err.msg})") from None
        if not isinstance(row, dict):
            raise CorruptFile(path, f"line {number} is a JSON {_json_type(type(row))}, not an object")
        rows.append(row)
    if text and not text.endswith("\n"):
        raise CorruptFile(path, f"truncated after line {len(rows)} (no final newline)")
    return rows


def _json_type(kind: type) -> str:
    return {dict: "object", list: "array", str: "string", int: "number", float: "number", bool: "boolean",
            type(None): "null"}.get(kind, kind.__name__)


def tensor_digest(tensors: Mapping[str, Any]) -> str:
    """``sha256:<hex>`` of every tensor's name, dtype, shape and bytes, in name order.

    A hash of the tensors rather than of the file: the same weights give the same digest whatever
    writes the file (our safetensors writer, PEFT's ``save_pretrained``) and whatever its metadata.
    """
    import torch

    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().to("cpu").contiguous()
        h.update(f"{name}\0{str(t.dtype)}\0{list(t.shape)}\0".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return f"sha256:{h.hexdigest()}"


def verify_tensors(tensors: Mapping[str, Any], expected: str, source: str | os.PathLike) -> None:
    """Raise ``CorruptFile`` (naming ``source``) unless ``tensors`` hash to ``expected``."""
    actual = tensor_digest(tensors)
    if actual != expected:
        raise CorruptFile(source, f"its tensors do not match the content hash in its config "
                                  f"({actual[:19]}… vs recorded {str(expected)[:19]}…); refusing to load it")


def load_safetensors(path: str | os.PathLike) -> dict:
    """The tensors of a safetensors file; ``CorruptFile`` if it is truncated or not safetensors."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except FileNotFoundError:
        raise
    except (SafetensorError, OSError, ValueError) as err:
        raise CorruptFile(path, f"not a readable safetensors file ({str(err).splitlines()[0]})") from None


def check_torch_archive(path: str | os.PathLike) -> None:
    """A ``torch.save`` file (a zip archive) is complete and every member matches its CRC; no unpickling."""
    import zipfile

    path = Path(path)
    try:
        with zipfile.ZipFile(path) as z:
            bad = z.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise CorruptFile(path, f"not a complete torch archive ({err})") from None
    if bad is not None:
        raise CorruptFile(path, f"member {bad} fails its CRC check")
