"""A run's directory name is a pure function of the config that determines its training.

So a relaunched, requeued or re-submitted job finds its own checkpoint, and two different configs
never share a directory. Keys that do not change training (evaluation choices, paths, ``force``,
Hydra/launcher settings) are left out of the hash on purpose: adding an evaluation task to a
finished run must not retrain it.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from cera.data.synthetic.fingerprint import generator_fingerprint

HASHED_KEYS = ("method", "model", "data", "train", "rank", "dropout", "lr", "seed")
# Keys inside the hashed groups that cannot change a result (display, I/O cadence, bookkeeping). A run
# launched with another value of one of these is the same run; tests/runs/test_naming.py pins this list.
# (paper_rank and budget_factor are top-level and not hashed: they resolve into rank / train.max_steps.)
# log_every only sets how often the Trainer logs the train loss (curve.jsonl, status): two runs differing
# only in it end with bit-identical adapters and test PPL (a test checks it). eval_every stays in the
# identity for two reasons: Fig 2's curves are its validation points, and every evaluation pass draws from
# the global RNG (the eval DataLoader's seed), which shifts the dropout masks of every later step, so the
# final adapter differs (6 tiny steps at eval_every 2 vs 6: max |Δw| 5e-4).
# model.downstream_target_modules only feeds model.target_modules (the math experiments), which is hashed.
NON_RESULT_KEYS = ("train.progress_bar", "train.num_workers", "train.save_every", "train.keep_checkpoints",
                   "train.report_to", "train.log_every", "model.downstream_target_modules")
# Knobs added after runs existed (conf/protocol/): left out of the identity at these values, so protocol=paper
# keeps every earlier run's directory; any other value enters it (tests/runs/test_naming.py).
OMITTED_AT_DEFAULT = {"method.scale_mode": "alpha_over_r", "method.init": "kaiming_uniform",
                      "method.dropout_at": "latent", "method.dora_norm": "detached", "train.sampling": "random"}
# What makes two runs the same *cell* (seeds and budgets of one experimental condition): the identity
# without these.
CELL_EXCLUDED = ("seed", "train.max_steps")


def _drop(identity: dict, dotted: tuple[str, ...]) -> dict:
    for key in dotted:
        node, *rest = key.split(".")
        if rest and isinstance(identity.get(node), dict):
            identity[node].pop(rest[0], None)
        elif not rest:
            identity.pop(node, None)
    return identity


def generators_of(cfg: DictConfig) -> str | None:
    """The synthetic generators' fingerprint for a run on synthetic data or the embedded backbone
    (pre-trained on the synthetic corpus); None when neither depends on them."""
    synthetic = (cfg.get("data") or {}).get("source") == "synthetic" or (cfg.get("model") or {}).get("kind") == "embedded"
    return generator_fingerprint() if synthetic else None


def training_identity(cfg: DictConfig) -> dict:
    """The resolved sub-config that decides what a run trains (and so what it measures), plus the
    synthetic generators' fingerprint where they make its data or its backbone: a config alone does
    not pin what they draw (cera/data/synthetic/fingerprint.py)."""
    plain = {k: OmegaConf.to_container(cfg[k], resolve=True) if isinstance(cfg[k], DictConfig) else cfg[k]
             for k in HASHED_KEYS}
    return identity_of(plain, generators_of(cfg))


def identity_of(config: dict, generators: str | None) -> dict:
    """`training_identity` of a resolved config as plain data (a run's saved config.yaml) and the generators'
    fingerprint its run recorded (status.json): analysis groups finished runs by it, whatever cera reads them."""
    identity = {k: copy.deepcopy(config.get(k)) for k in HASHED_KEYS}
    for key, default in OMITTED_AT_DEFAULT.items():
        group, name = key.split(".")
        if isinstance(identity[group], dict) and identity[group].get(name, default) == default:
            identity[group].pop(name, None)
    if generators:
        identity["generators"] = generators
    return _drop(identity, NON_RESULT_KEYS)


def _hash(blob: dict, length: int) -> str:
    return hashlib.sha256(json.dumps(blob, sort_keys=True, default=str).encode()).hexdigest()[:length]


def config_hash(cfg: DictConfig, length: int = 8) -> str:
    return _hash(training_identity(cfg), length)


def cell_id(cfg: DictConfig, length: int = 12) -> str:
    """Same for every seed and step budget of one condition: groups seeds, pairs a budget with its 2x check."""
    return _hash(_drop(training_identity(cfg), CELL_EXCLUDED), length)


def _num(x: float) -> str:
    return f"{x:g}"


def protocol_name(cfg: DictConfig) -> str:
    """The run's protocol (conf/protocol/): 'paper' unless the config names another."""
    return str((cfg.get("protocol") or {}).get("name") or "paper")


def run_id(cfg: DictConfig) -> str:
    """e.g. ``cera-r64-do0.1-lr0.0003-s0-synthetic_instruct-tiny-1a2b3c4d``; a protocol other than paper is
    named before the hash (``...-tiny-authors_code-1a2b3c4d``)."""
    method = cfg.method.name
    activation = cfg.method.get("activation")
    if activation and activation != "silu":
        method = f"{method}_{activation}"
    protocol = protocol_name(cfg)
    parts = [method, f"r{cfg.rank}", f"do{_num(cfg.dropout)}", f"lr{_num(cfg.lr)}", f"s{cfg.seed}",
             cfg.data.name, cfg.model.name] + ([protocol] if protocol != "paper" else []) + [config_hash(cfg)]
    return "-".join(str(p) for p in parts)


def run_dir_for(cfg: DictConfig) -> Path:
    return Path(cfg.paths.runs_dir) / run_id(cfg)
