"""Validation and serialisation shared by our adapter configs (CeRA, PERA, parallel).

Why: configs arrive from Hydra YAML and from `adapter_config.json`; a typo must fail when the
config is built, with one line naming the bad value and what is allowed, not deep in a forward.
"""

from __future__ import annotations

import dataclasses
import math
from numbers import Real
from typing import Any, ClassVar

from torch import nn

#: σ choices for CeRA and the parallel adapter. GELU is the exact (erf) form.
ACTIVATIONS: dict[str, type[nn.Module]] = {
    "silu": nn.SiLU,
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "identity": nn.Identity,
}


def _is_real(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


class AdapterConfigMixin:
    """Validation in `__post_init__`, `scale = alpha / r`, and a JSON-safe `to_dict`.

    Subclasses are dataclasses with fields `r`, `alpha`, `dropout`, `target_modules` and
    optionally `activation`, and a class attribute `method`.
    """

    method: ClassVar[str]

    def __post_init__(self) -> None:
        r, alpha, dropout = self.r, self.alpha, self.dropout
        if not isinstance(r, int) or isinstance(r, bool) or r <= 0:
            raise ValueError(f"rank r={r!r} is invalid: must be a positive integer")
        if not _is_real(alpha) or not math.isfinite(alpha) or alpha <= 0:
            raise ValueError(f"alpha={alpha!r} is invalid: must be a finite number > 0")
        if not _is_real(dropout) or not 0 <= dropout < 1:
            raise ValueError(f"dropout={dropout!r} is invalid: must be in [0, 1)")
        self.dropout = float(dropout)
        activation = getattr(self, "activation", "silu")
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"activation={activation!r} is invalid: choose from {', '.join(ACTIVATIONS)}"
            )
        self.target_modules = _target_list(self.target_modules)

    @property
    def scale(self) -> float:
        """s = alpha / r, the factor applied to the adapter branch."""
        return self.alpha / self.r

    def to_dict(self) -> dict[str, Any]:
        """All fields, JSON-safe; `type(self)(**d)` rebuilds an equal config."""
        return dataclasses.asdict(self)


def _target_list(targets: Any) -> list[str]:
    """Lists, tuples and Hydra ListConfigs become a list of names; a bare string is refused."""
    if isinstance(targets, str):
        raise ValueError(
            f"target_modules={targets!r} is invalid: give a list of module names, e.g. [{targets!r}]"
        )
    try:
        names = list(targets)
    except TypeError:
        raise ValueError(
            f"target_modules={targets!r} is invalid: give a list of module names"
        ) from None
    if not names or not all(isinstance(n, str) and n for n in names):
        raise ValueError(
            f"target_modules={targets!r} is invalid: give a non-empty list of non-empty names"
        )
    return names


def check_lora_config(config: Any) -> None:
    """PEFT's LoraConfig accepts any alpha; a scale s = alpha / r that is not a finite positive number
    trains a flipped or dead adapter, so it is refused like our own configs' alpha."""
    alpha = getattr(config, "lora_alpha", None)
    if not _is_real(alpha) or not math.isfinite(alpha) or alpha <= 0:
        raise ValueError(f"method.lora_alpha={alpha!r} is invalid: must be a finite number > 0")
