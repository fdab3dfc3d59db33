"""Atomic file writes: a reader (analysis, status, a requeued job) never sees half a file."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def atomic_write_jsonl(path: str | os.PathLike, rows: list[dict]) -> Path:
    return atomic_write_text(path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))


def read_json(path: str | os.PathLike, default: Any = None) -> Any:
    """The parsed file, or `default` when it is missing, unreadable or not JSON."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):  # ValueError: JSONDecodeError and UnicodeDecodeError
        return default


def looks_local(path: str, suffixes: tuple[str, ...] = ()) -> bool:
    """The local-path rule (model.path, data.source): an existing path, or one that starts with '/',
    '.' or '~', ends with '/', has more than one '/' (a Hub id has one) or one of `suffixes`, is
    local; anything else is a Hub id."""
    return (
        Path(path).expanduser().exists()
        or path.startswith(("/", ".", "~"))
        or path.endswith("/")
        or path.count("/") > 1
        or (bool(suffixes) and Path(path).suffix in suffixes)
    )
