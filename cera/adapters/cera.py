"""CeRA as a PEFT method: a non-linear low-rank branch beside a frozen Linear.

    h = W0 x + s · W_down( D( σ(W_up x) ) ),     s = alpha / r

W_up (r × d_in) starts Kaiming-uniform like LoRA's A and W_down (d_out × r) starts at zero, so
the adapted model equals the base model at step 0. σ ∈ {silu, relu, gelu, identity}; D is
dropout on the r-dim latent *after* σ (active in train mode only). Because σ is non-linear the
update has no ΔW and cannot be merged. With σ = identity and p = 0 this is exactly LoRA.

    from peft import get_peft_model
    from cera import CeraConfig
    model = get_peft_model(model, CeraConfig(r=64, alpha=128, dropout=0.1, target_modules=["q_proj", "v_proj"]))
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from cera.adapters.config import LowRankConfig
from cera.adapters.latent import cast_input, latent
from cera.adapters.tuner import AdapterLayer, AdapterTuner


@dataclass
class CeraConfig(LowRankConfig):
    """CeRA on every Linear whose qualified name ends with one of `target_modules`."""

    activation: str = field(
        default="silu", metadata={"help": "σ: silu (paper), relu, gelu or identity (identity with dropout 0 is LoRA)."}
    )

    method: ClassVar[str] = "cera"


class CeraLayer(AdapterLayer):
    """A frozen Linear (`base_layer`) plus, per adapter, the CeRA branch."""

    adapter_layer_names: tuple[str, ...] = ("cera_W_up", "cera_W_down")
    other_param_names: tuple[str, ...] = ("r", "scaling", "activation", "p")
    method = "cera"
    why_not_mergeable = (
        "the activation makes the update non-linear in x, so no ΔW exists; serve it unmerged "
        "(activation=identity with dropout=0 is LoRA: use lora to merge)"
    )

    def __init__(self, base_layer: nn.Module, in_features: int, out_features: int) -> None:
        super().__init__(base_layer, in_features, out_features)
        self.activation: dict[str, str] = {}  # σ by name (cera.adapters.latent)
        self.p: dict[str, float] = {}  # dropout probability on the latent

    def build(self, adapter_name: str, config, device: torch.device) -> None:
        up = torch.empty(config.r, self.in_features, device=device, dtype=torch.float32)
        down = torch.empty(self.out_features, config.r, device=device, dtype=torch.float32)
        nn.init.kaiming_uniform_(up, a=math.sqrt(5))  # like LoRA's A (and nn.Linear)
        nn.init.zeros_(down)  # the branch outputs exactly 0 at init
        self.cera_W_up[adapter_name] = nn.Parameter(up)
        self.cera_W_down[adapter_name] = nn.Parameter(down)
        self.activation[adapter_name], self.p[adapter_name] = config.activation, config.dropout

    def branch(self, adapter_name: str, x: torch.Tensor) -> torch.Tensor:
        """s · W_down(D(σ(W_up x))): σ, dropout and the scale act on the r-wide latent
        (`cera.adapters.latent`: the same result as the plain formula, fewer full-width passes)."""
        up, down = self.cera_W_up[adapter_name], self.cera_W_down[adapter_name]
        h = F.linear(cast_input(x, up.dtype), up)
        return F.linear(latent(h, self.activation[adapter_name], self.p[adapter_name], self.training,
                               self.scaling[adapter_name]), down)  # fmt: skip


class CeraModel(AdapterTuner):
    """PEFT tuner for CeRA (see `cera.adapters.tuner.AdapterTuner`)."""

    prefix: str = "cera_"
    tuner_layer_cls = CeraLayer
