"""The config fields CeRA, PERA and the parallel adapter share, as a PEFT config dataclass.

Why one base: all three are low-rank branches with a rank `r`, a scale `alpha / r`, a dropout and
target modules; the fields, their help text and their checks live here once. Values arrive from
Hydra YAML, from Python and from `adapter_config.json`, so a bad one fails when the config is built,
with one line naming it and what is allowed, never deep in a forward.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from numbers import Real
from typing import Any, ClassVar

from peft import PeftConfig
from torch import nn

from cera.adapters.errors import AdapterError

#: σ choices for CeRA and the parallel adapter. GELU is the exact (erf) form.
ACTIVATIONS: dict[str, type[nn.Module]] = {
    "silu": nn.SiLU,
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "identity": nn.Identity,
}


#: How the branch is scaled (`scale_mode`): s = alpha / r, or not at all.
SCALE_MODES = ("alpha_over_r", "none")


def _is_real(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


@dataclass
class LowRankConfig(PeftConfig):
    """Fields and checks common to our methods; subclasses set `method` and may add fields."""

    r: int = field(default=8, metadata={"help": "Rank (latent width); params grow as r·(d_in + d_out)."})
    alpha: float = field(default=16.0, metadata={"help": "Scale numerator: the branch is multiplied by alpha / r."})
    dropout: float = field(default=0.0, metadata={"help": "Dropout probability in [0, 1) (where: see the method)."})
    target_modules: list[str] = field(
        default_factory=lambda: ["q_proj", "v_proj"],
        metadata={"help": "Module names (or name suffixes after a '.') to adapt."},
    )
    scale_mode: str = field(
        default="alpha_over_r",
        metadata={"help": "alpha_over_r: the branch is scaled by s = alpha / r (paper) | none: s = 1 (the CeRA "
                          "authors' code and PERA's reference code); alpha is then unused."},
    )

    method: ClassVar[str]  # the PEFT method name, also our checkpoint and results label

    def __post_init__(self) -> None:
        super().__post_init__()
        from cera.adapters.tuner import peft_type  # late: tuner imports this module

        self.peft_type = peft_type(self.method)
        r, alpha, dropout = self.r, self.alpha, self.dropout
        if not isinstance(r, int) or isinstance(r, bool) or r <= 0:
            raise AdapterError(f"rank r={r!r} is invalid: must be a positive integer")
        if not _is_real(alpha) or not math.isfinite(alpha) or alpha <= 0:
            raise AdapterError(f"alpha={alpha!r} is invalid: must be a finite number > 0")
        if not _is_real(dropout) or not 0 <= dropout < 1:
            raise AdapterError(f"dropout={dropout!r} is invalid: must be in [0, 1)")
        self.dropout = float(dropout)
        if self.scale_mode not in SCALE_MODES:
            raise AdapterError(f"scale_mode={self.scale_mode!r} is invalid: choose from {', '.join(SCALE_MODES)}")
        activation = getattr(self, "activation", "silu")
        if activation not in ACTIVATIONS:
            raise AdapterError(f"activation={activation!r} is invalid: choose from {', '.join(ACTIVATIONS)}")
        self.target_modules = _target_list(self.target_modules)

    @property
    def scale(self) -> float:
        """s, the factor applied to the adapter branch: alpha / r, or 1 with scale_mode=none."""
        return 1.0 if self.scale_mode == "none" else self.alpha / self.r


def _target_list(targets: Any) -> list[str]:
    """Lists, tuples and Hydra ListConfigs become a list of names; a bare string is refused (a YAML slip)."""
    if isinstance(targets, str):
        raise AdapterError(f"target_modules={targets!r} is invalid: give a list of module names, e.g. [{targets!r}]")
    try:
        names = list(targets)
    except TypeError:
        raise AdapterError(f"target_modules={targets!r} is invalid: give a list of module names") from None
    if not names or not all(isinstance(n, str) and n for n in names):
        raise AdapterError(f"target_modules={targets!r} is invalid: give a non-empty list of non-empty names")
    return list(dict.fromkeys(names))


def check_lora_alpha(alpha: Any) -> None:
    """PEFT's LoraConfig accepts any alpha; a scale s = alpha / r that is not a finite positive number
    trains a flipped or dead adapter, so it is refused like our own configs' alpha."""
    if not _is_real(alpha) or not math.isfinite(alpha) or alpha <= 0:
        raise AdapterError(f"method.lora_alpha={alpha!r} is invalid: must be a finite number > 0")
