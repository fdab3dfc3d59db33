"""``load_splits``: the one entry point from a ``data`` config group to train/val/test Examples.

The config is validated up front (unknown keys, formats, sizes) so that a typo fails in one line
before a model is even built, instead of being silently ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cera.data import real, synthetic
from cera.config import plain
from cera.data.types import DataError, Splits

SYNTHETIC = "synthetic"
FORMATS = synthetic.FORMATS + real.FORMATS
ALLOWED_KEYS = frozenset(
    {"name", "format", "source", "n_train", "n_val", "n_test", "seed",  # every data config
     "hub_config", "train_split", "test_split", "cache_dir",  # real data only
     "complex_fraction",  # synthetic ``math`` mixture only
     "eval_tasks"}  # read by the eval config (conf/eval/default.yaml), not by the loader
)  # fmt: skip


def _size(cfg: Mapping[str, Any], key: str, required: bool) -> int | None:
    value = cfg.get(key)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        need = "a non-negative integer" + ("" if required else " or null (= all)")
        raise DataError(f"data.{key}={value!r} must be {need}")
    return value


def load_splits(cfg: Mapping[str, Any]) -> Splits:
    """Train/val/test Examples for a ``data`` config (see ``conf/data/*.yaml``)."""
    cfg = plain(cfg)
    unknown = sorted(set(cfg) - ALLOWED_KEYS)
    if unknown:
        raise DataError(f"unknown data config key(s) {unknown} (allowed: {', '.join(sorted(ALLOWED_KEYS))})")
    fmt, source = cfg.get("format"), cfg.get("source")
    if fmt not in FORMATS:
        raise DataError(f"unknown data.format {fmt!r} (allowed: {', '.join(FORMATS)})")
    if not isinstance(source, str) or not source:
        raise DataError(f"data.source={source!r} must be 'synthetic', a hub id or a local path")
    seed = cfg.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise DataError(f"data.seed={seed!r} must be an integer")
    if fmt in synthetic.FORMATS:
        if source != SYNTHETIC:
            raise DataError(f"data.format={fmt!r} is generated: data.source must be 'synthetic', got {source!r}")
        sizes = {s: _size(cfg, f"n_{s}", required=True) for s in synthetic.SPLIT_NAMES}
        return synthetic.generate_splits(fmt, seed, sizes, float(cfg.get("complex_fraction", 0.5)))
    if source == SYNTHETIC:
        raise DataError(f"data.format={fmt!r} is a real dataset: set data.source to a hub id or a local path")
    for s in synthetic.SPLIT_NAMES:
        _size(cfg, f"n_{s}", required=False)
    return real.load_real_splits(fmt, cfg)
