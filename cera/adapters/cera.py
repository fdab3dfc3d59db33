"""CeRA as a PEFT method: a non-linear low-rank branch beside a frozen Linear.

    h = W0 x + s · W_down( D( σ(W_up x) ) ),     s = alpha / r  (s = 1 with scale_mode="none")

W_up (r × d_in) starts Kaiming-uniform like LoRA's A (`init`, see `cera.adapters.init`) and W_down
(d_out × r) starts at zero, so the adapted model equals the base model at step 0. σ ∈ {silu, relu,
gelu, identity}; D is dropout on the r-dim latent *after* σ (active in train mode only), or on the
input with `dropout_at="input"` (the authors' "peft_aligned" variant: s · W_down(σ(W_up D(x)))).
`scale_mode="none"` drops s (the authors' code: no scale). Because σ is non-linear the
update has no ΔW and cannot be merged. With σ = identity and p = 0 this is exactly LoRA.

    from peft import get_peft_model
    from cera import CeraConfig
    model = get_peft_model(model, CeraConfig(r=64, alpha=128, dropout=0.1, target_modules=["q_proj", "v_proj"]))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from cera.adapters.config import LowRankConfig
from cera.adapters.errors import AdapterError
from cera.adapters.init import check_init, init_factor
from cera.adapters.latent import cast_input, latent
from cera.adapters.tuner import AdapterLayer, AdapterTuner


@dataclass
class CeraConfig(LowRankConfig):
    """CeRA on every Linear whose qualified name ends with one of `target_modules`."""

    activation: str = field(
        default="silu", metadata={"help": "σ: silu (paper), relu, gelu or identity (identity with dropout 0 is LoRA)."}
    )
    init: str = field(
        default="kaiming_uniform",
        metadata={"help": "W_up's init: kaiming_uniform (PEFT LoRA's A) | kaiming_normal_relu (the authors' code) | "
                          "normal_0.01 (cera.adapters.init); W_down starts at zero."},
    )
    dropout_at: str = field(
        default="latent",
        metadata={"help": "latent: D after σ, in the r-dim latent (paper) | input: D on x before W_up (the authors' "
                          "peft_aligned variant)."},
    )

    method: ClassVar[str] = "cera"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_init(self.init)
        if self.dropout_at not in DROPOUT_AT:
            raise AdapterError(f"dropout_at={self.dropout_at!r} is invalid: choose from {', '.join(DROPOUT_AT)}")


#: Where CeRA's dropout acts (`dropout_at`).
DROPOUT_AT = ("latent", "input")


class CeraLayer(AdapterLayer):
    """A frozen Linear (`base_layer`) plus, per adapter, the CeRA branch."""

    adapter_layer_names: tuple[str, ...] = ("cera_W_up", "cera_W_down")
    other_param_names: tuple[str, ...] = ("r", "scaling", "activation", "p", "p_input")
    method = "cera"
    why_not_mergeable = (
        "the activation makes the update non-linear in x, so no ΔW exists; serve it unmerged "
        "(activation=identity with dropout=0 is LoRA: use lora to merge)"
    )

    def __init__(self, base_layer: nn.Module, in_features: int, out_features: int) -> None:
        super().__init__(base_layer, in_features, out_features)
        self.activation: dict[str, str] = {}  # σ by name (cera.adapters.latent)
        self.p: dict[str, float] = {}  # dropout probability on the latent
        self.p_input: dict[str, float] = {}  # dropout probability on the input (dropout_at=input)

    def build(self, adapter_name: str, config, device: torch.device) -> None:
        up = torch.empty(config.r, self.in_features, device=device, dtype=torch.float32)
        down = torch.empty(self.out_features, config.r, device=device, dtype=torch.float32)
        init_factor(up, getattr(config, "init", "kaiming_uniform"))  # default: like LoRA's A (and nn.Linear)
        nn.init.zeros_(down)  # the branch outputs exactly 0 at init
        self.cera_W_up[adapter_name] = nn.Parameter(up)
        self.cera_W_down[adapter_name] = nn.Parameter(down)
        on_input = getattr(config, "dropout_at", "latent") == "input"
        self.activation[adapter_name] = config.activation
        self.p[adapter_name] = 0.0 if on_input else config.dropout
        self.p_input[adapter_name] = config.dropout if on_input else 0.0

    def branch(self, adapter_name: str, x: torch.Tensor) -> torch.Tensor:
        """s · W_down(D(σ(W_up x))): σ, dropout and the scale act on the r-wide latent
        (`cera.adapters.latent`: the same result as the plain formula, fewer full-width passes)."""
        up, down = self.cera_W_up[adapter_name], self.cera_W_down[adapter_name]
        p_in = self.p_input.get(adapter_name, 0.0)
        if p_in > 0 and self.training:
            x = F.dropout(x, p_in, training=True)
        h = F.linear(cast_input(x, up.dtype), up)
        return F.linear(latent(h, self.activation[adapter_name], self.p[adapter_name], self.training,
                               self.scaling[adapter_name]), down)  # fmt: skip


class CeraModel(AdapterTuner):
    """PEFT tuner for CeRA (see `cera.adapters.tuner.AdapterTuner`)."""

    prefix: str = "cera_"
    tuner_layer_cls = CeraLayer
