"""How the down-projection factor (CeRA's W_up, LoRA's A) starts; the up-projection always starts at zero.

    kaiming_uniform       U(−b, b), b = √(6 / ((1 + 5) · fan_in)) = 1/√fan_in: nn.Linear's and PEFT LoRA's
                          default (kaiming_uniform_ with a = √5); the paper protocol for every method
    kaiming_normal_relu   N(0, 2 / fan_in): kaiming_normal_ with the ReLU gain; the authors' CeRA
                          (`CeRAAdapter.__init__`, legacy variant)
    normal_0.01           N(0, 0.01²), whatever the width: the authors' LoRA and DoRA (`torch.randn(...) * 0.01`)

fan_in is the factor's input width (d_in). One function for every method, so `method.init` means the
same thing for CeRA (`CeraLayer.build`) and for PEFT's LoRA/DoRA (`cera.adapters.lora_knobs`).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from cera.adapters.errors import AdapterError

INITS = ("kaiming_uniform", "kaiming_normal_relu", "normal_0.01")


def check_init(scheme: str, key: str = "init") -> str:
    if scheme not in INITS:
        raise AdapterError(f"{key}={scheme!r} is invalid: choose from {', '.join(INITS)}")
    return scheme


@torch.no_grad()
def init_factor(weight: torch.Tensor, scheme: str) -> torch.Tensor:
    """Fill a (r × d_in) down-projection in place by `scheme` (see the module docstring); returns it."""
    check_init(scheme)
    if scheme == "kaiming_uniform":
        return nn.init.kaiming_uniform_(weight, a=math.sqrt(5))
    if scheme == "kaiming_normal_relu":
        return nn.init.kaiming_normal_(weight, nonlinearity="relu")
    return nn.init.normal_(weight, mean=0.0, std=0.01)
