"""Checks for conf/mechanism.yaml: each failure is one line (ConfigError), before any fit runs.

No torch import here, so a bad option fails in the time it takes to start Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig

from cera.config import ConfigError, check_dropout, check_lr, check_rank, group_options

TARGETS = ("nonlinear", "linear")  # cera.mechanism.task draws them
ACTIVATIONS = ("silu", "relu", "gelu", "identity")


@dataclass(frozen=True)
class Variant:
    """One adapter variant of conf/mechanism.yaml's variant_table."""

    name: str
    method: str             # conf/method/<method>.yaml: lora | cera
    activation: str | None  # CeRA's σ; None for LoRA
    dropout: float


def _int(value: Any, key: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{key}={value!r} is invalid: must be an integer >= {minimum}")
    return value


def _fraction(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        raise ConfigError(f"{key}={value!r} is invalid: must be a number in (0, 1)")
    return float(value)


def _list(cfg: DictConfig, key: str) -> list:
    value = cfg.get(key)
    if isinstance(value, (str, int)) or value is None:
        raise ConfigError(f"{key}={value!r} is invalid: give a list, e.g. {key}=[...]")
    if not list(value):
        raise ConfigError(f"{key} is empty: give at least one")
    if len(set(value)) != len(value):
        raise ConfigError(f"{key}={list(value)} lists a value twice")
    return list(value)


def variants(cfg: DictConfig, key: str = "variants") -> list[Variant]:
    """The variants selected by `key` (variants | linear_variants), checked; ConfigError on the first bad one."""
    table = cfg.variant_table
    methods = group_options("method")
    out = []
    for name in _list(cfg, key):
        if name not in table:
            raise ConfigError(f"{key}: {name!r} is not a known variant: choose from {', '.join(table)}")
        spec = table[name]
        if spec.get("method") not in ("lora", "cera") or spec.method not in methods:
            raise ConfigError(f"variant_table.{name}.method={spec.get('method')!r} is invalid: choose lora or cera")
        act = spec.get("activation")
        if spec.method == "cera" and act not in ACTIVATIONS:
            raise ConfigError(f"variant_table.{name}.activation={act!r} is invalid: choose from {', '.join(ACTIVATIONS)}")
        if spec.method == "lora" and act is not None:
            raise ConfigError(f"variant_table.{name}.activation={act!r} is invalid: lora is linear, set null")
        out.append(Variant(name, spec.method, act, check_dropout(spec.get("dropout"))))
    return out


def check_mechanism(cfg: DictConfig) -> dict[str, list[Variant]]:
    """Raise ConfigError for the first bad value; return the variants fitted on each selected target."""
    d = _int(cfg.d, "d", minimum=2)
    for rank in _list(cfg, "ranks"):
        check_rank(rank)
        if rank > d:
            raise ConfigError(f"ranks: {rank} exceeds d={d}: a rank above the layer width adds nothing")
    for target in _list(cfg, "targets"):
        if target not in TARGETS:
            raise ConfigError(f"targets: {target!r} is not a known target: choose from {', '.join(TARGETS)}")
    _int(cfg.target_width, "target_width")
    if _int(cfg.linear_rank, "linear_rank") > d:
        raise ConfigError(f"linear_rank={cfg.linear_rank} exceeds d={d}")
    for key in ("seeds", "n_train", "n_test", "steps", "max_steps", "threads"):
        _int(cfg[key], key)
    if cfg.max_steps < 2 * cfg.steps:
        raise ConfigError(f"max_steps={cfg.max_steps} is invalid: the first check is at 2·steps = {2 * cfg.steps}")
    check_lr(cfg.lr)
    _fraction(cfg.converge_tol, "converge_tol")
    _fraction(cfg.solved_floor, "solved_floor")
    chosen = {"nonlinear": variants(cfg), "linear": variants(cfg, "linear_variants")}
    return {target: chosen[target] for target in cfg.targets}
