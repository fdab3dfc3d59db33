"""A run's directory name is a pure function of the config that determines its training.

So a relaunched, requeued or re-submitted job finds its own checkpoint, and two different configs
never share a directory. Keys that do not change training (evaluation choices, paths, ``force``,
Hydra/launcher settings) are left out of the hash on purpose: adding an evaluation task to a
finished run must not retrain it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

HASHED_KEYS = ("method", "model", "data", "train", "rank", "dropout", "lr", "seed")


def training_identity(cfg: DictConfig) -> dict:
    """The resolved sub-config that decides what a run trains."""
    return {k: OmegaConf.to_container(cfg[k], resolve=True) if isinstance(cfg[k], DictConfig) else cfg[k]
            for k in HASHED_KEYS}


def config_hash(cfg: DictConfig, length: int = 8) -> str:
    blob = json.dumps(training_identity(cfg), sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:length]


def _num(x: float) -> str:
    return f"{x:g}"


def run_id(cfg: DictConfig) -> str:
    """e.g. ``cera-r64-do0.1-lr0.0003-s0-synthetic_instruct-tiny-1a2b3c4d``."""
    method = cfg.method.name
    activation = cfg.method.get("activation")
    if activation and activation != "silu":
        method = f"{method}_{activation}"
    parts = [method, f"r{cfg.rank}", f"do{_num(cfg.dropout)}", f"lr{_num(cfg.lr)}", f"s{cfg.seed}",
             cfg.data.name, cfg.model.name, config_hash(cfg)]
    return "-".join(str(p) for p in parts)


def run_dir_for(cfg: DictConfig) -> Path:
    return Path(cfg.paths.runs_dir) / run_id(cfg)
