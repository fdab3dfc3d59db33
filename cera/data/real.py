"""Real datasets (SlimOrca, MathInstruct, GSM8K, MATH) from the Hub or from local files.

``source`` is either a Hub id (``datasets.load_dataset(source, hub_config, split=...)``) or a local
path: a .json/.jsonl/.parquet file, or a directory of such files, in which files whose name
contains "test" form the test split and the others the train split. A string is a local path
when it exists, starts with "/", "." or "~", ends with a data suffix or "/", or has more than one
"/"; anything else is a Hub id.

Splits: when the source has a test split (GSM8K, MATH: ``test_split``) it is the test set; the
validation set (and the test set, for train-only sources such as SlimOrca and MathInstruct) is
carved from train by a permutation seeded with ``data.seed``. ``n_train/n_val/n_test`` subsample
deterministically; null means all (for a carved split: 1% of the rows, at least 1).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from random import Random
from typing import Any

from cera.data.rows import MAPPERS, to_example
from cera.io import looks_local
from cera.data.synthetic import derive_seed
from cera.data.types import DataError, Example, Splits

log = logging.getLogger(__name__)

FORMATS = tuple(MAPPERS)
SUFFIXES = {".json": "json", ".jsonl": "json", ".parquet": "parquet"}
_LOCAL_HINT = "set data.source to a hub id or an existing .json/.jsonl/.parquet file or directory"


def is_local(source: str) -> bool:
    """Whether ``source`` names a local path rather than a Hub id (rule in the module docstring)."""
    return looks_local(source, tuple(SUFFIXES))


def _one_line(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}"


def _read_local(source: str, cache_dir: str | None) -> tuple[dict[str, Any], str]:
    import datasets

    path = Path(source).expanduser()
    if not path.exists():
        raise DataError(f"data file not found: {path} ({_LOCAL_HINT})")
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES)
    bad = [p for p in files if p.suffix not in SUFFIXES]
    if bad or not files:
        what = f"unsupported data file {bad[0]}" if bad else f"no .json/.jsonl/.parquet files in {path}"
        raise DataError(f"{what} (allowed suffixes: {', '.join(SUFFIXES)})")
    builders = {SUFFIXES[p.suffix] for p in files}
    if len(builders) > 1:
        raise DataError(f"{path} mixes json and parquet files (use one kind per directory)")
    data_files = {"train": [str(p) for p in files if "test" not in p.name.lower()]}
    test = [str(p) for p in files if "test" in p.name.lower() and path.is_dir()]
    if test:
        data_files["test"] = test
    if not data_files["train"]:
        raise DataError(f"{path} has test files but no train file (a file whose name lacks 'test')")
    for f in files:
        if f.stat().st_size == 0:
            raise DataError(f"no rows in {f}")
    try:
        ds = datasets.load_dataset(builders.pop(), data_files=data_files, cache_dir=cache_dir)
    except Exception as e:  # noqa: BLE001 - any reader failure becomes one actionable line
        where = next(filter(None, (_json_problem(f) for f in files if SUFFIXES[f.suffix] == "json")), None)
        raise DataError(where or f"could not read {path}: {_one_line(e)} (expected valid JSON lines or parquet)") from e
    for split, rows in ds.items():
        if len(rows) == 0:
            raise DataError(f"no rows in {path} ({split} split)")
    return dict(ds), str(path) if path.is_file() else f"{path} (train split)"


def _json_problem(path: Path) -> str | None:
    """After a failed read: where ``path`` stops being JSON (with the line number), or None."""
    import json

    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        return f"{path} is not UTF-8 text (byte {err.start})"
    if not text.strip():
        return f"no rows in {path}"
    if text.lstrip().startswith("["):  # one JSON array, possibly over many lines
        try:
            json.loads(text)
        except json.JSONDecodeError as err:
            return f"invalid JSON in {path} at line {err.lineno}, column {err.colno}: {err.msg}"
        return None
    for number, line in enumerate(text.splitlines(), 1):  # JSON lines
        if line.strip():
            try:
                json.loads(line)
            except json.JSONDecodeError as err:
                return f"invalid JSON in {path} at line {number}, column {err.colno}: {err.msg}"
    return None


def _read_hub(source: str, cfg: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    import datasets

    configs = cfg.get("hub_config")
    configs = configs if isinstance(configs, (list, tuple)) else [configs]
    out = {}
    for name, split in (("train", cfg.get("train_split") or "train"), ("test", cfg.get("test_split"))):
        if not split:
            continue
        try:
            parts = [datasets.load_dataset(source, c, split=split, cache_dir=cfg.get("cache_dir")) for c in configs]
        except Exception as e:  # noqa: BLE001
            hint = "without Hub access, set data.source to a local .json/.jsonl/.parquet file or directory"
            raise DataError(f"could not load hub dataset {source!r} split {split!r}: {_one_line(e)} ({hint})") from e
        out[name] = parts[0] if len(parts) == 1 else datasets.concatenate_datasets(parts)
    return out, source


def _take(rows: list[int], n: int | None, what: str) -> list[int]:
    if n is not None and n > len(rows):
        log.warning("data: asked for %d %s rows, only %d available; using all", n, what, len(rows))
    return rows if n is None else rows[:n]


def _examples(fmt: str, ds, groups: list[list[int]], where: str) -> list[list[Example]]:
    """Examples of each index group, validated in file order so the first bad row is the one named."""
    wanted = sorted(set().union(*groups))
    rows = ds.select(wanted).to_list() if wanted else []
    by_index = {i: to_example(fmt, row, i, where) for i, row in zip(wanted, rows, strict=True)}
    return [[by_index[i] for i in g] for g in groups]


def load_real_splits(fmt: str, cfg: Mapping[str, Any]) -> Splits:
    """Train/val/test Examples of a real dataset (``fmt`` in ``FORMATS``); see the module docstring."""
    source, seed = str(cfg["source"]), int(cfg.get("seed") or 0)
    raw, where = _read_local(source, cfg.get("cache_dir")) if is_local(source) else _read_hub(source, cfg)
    train_ds, test_ds = raw["train"], raw.get("test")
    perm = list(range(len(train_ds)))
    Random(derive_seed(seed, "real", fmt)).shuffle(perm)
    holdout = max(1, len(perm) // 100)
    n_val = holdout if cfg.get("n_val") is None else int(cfg["n_val"])
    n_test = cfg.get("n_test")
    if test_ds is None:
        n_test = holdout if n_test is None else int(n_test)
        test_idx, perm = perm[:n_test], perm[n_test:]
    else:
        test_perm = list(range(len(test_ds)))
        Random(derive_seed(seed, "real", fmt, "test")).shuffle(test_perm)
        test_idx = sorted(test_perm) if n_test is None else _take(test_perm, int(n_test), "test")
    if n_val >= len(perm):
        raise DataError(f"{where} has {len(train_ds)} train rows, too few to carve n_val={n_val} and still train")
    val_idx, train_idx = perm[:n_val], _take(perm[n_val:], cfg.get("n_train"), "train")
    if test_ds is None:
        train, val, test = _examples(fmt, train_ds, [train_idx, val_idx, test_idx], where)
    else:
        train, val = _examples(fmt, train_ds, [train_idx, val_idx], where)
        (test,) = _examples(fmt, test_ds, [test_idx], f"{source} (test split)")
    return Splits(train=train, val=val, test=test)
