"""CeRA: a non-linear low-rank branch beside a frozen Linear.

    h = W0 x + s · W_down( D( σ(W_up x) ) ),     s = alpha / r

W_up (r × d_in) starts Kaiming-uniform like LoRA's A and W_down (d_out × r) starts at zero, so
the adapted model equals the base model at step 0. σ ∈ {silu, relu, gelu, identity}; D is
dropout on the r-dim latent *after* σ (active in train mode only). Because σ is non-linear the
update has no ΔW and cannot be merged. With σ = identity and p = 0 this is exactly LoRA.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from cera.adapters.latent import cast_input, latent
from cera.adapters.validation import ACTIVATIONS, AdapterConfigMixin


@dataclass
class CeraConfig(AdapterConfigMixin):
    """CeRA on every Linear whose qualified name ends with one of `target_modules`."""

    r: int
    """Latent width (rank). Higher adds capacity; params grow as r·(d_in + d_out)."""
    alpha: float
    """Scale numerator: the branch is multiplied by alpha / r (paper: alpha = 2r)."""
    dropout: float = 0.0
    """Dropout probability in the r-dim latent after σ (paper: 0.1)."""
    activation: str = "silu"
    """σ: silu (paper), relu, gelu or identity (identity with dropout 0 is LoRA)."""
    target_modules: Sequence[str] = ("q_proj", "v_proj")
    """Module names (or name suffixes after a '.') to adapt; each must be an nn.Linear."""

    method: ClassVar[str] = "cera"
    wraps: ClassVar[type[nn.Module]] = nn.Linear

    def make_layer(self, module: nn.Module) -> CeraLinear:
        return CeraLinear(module, self)


class CeraBranch(nn.Module):
    """The branch s · W_down(D(σ(W_up x))), shared by CeraLinear and ParallelAdapter.

    Parameters are float32 whatever the base dtype (like PEFT's autocast_adapter_dtype): low-rank
    factors trained in bf16 lose updates to rounding. Inputs are cast to float32 on the way in.
    """

    def __init__(self, d_in: int, d_out: int, config, device: torch.device | None) -> None:
        super().__init__()
        self.r = config.r
        self.scale = config.scale
        self.W_up = nn.Parameter(torch.empty(config.r, d_in, device=device, dtype=torch.float32))
        self.W_down = nn.Parameter(torch.empty(d_out, config.r, device=device, dtype=torch.float32))
        self.activation, self.p = config.activation, config.dropout
        self.act = ACTIVATIONS[config.activation]()  # for printing; the forward uses `latent`
        self.dropout = nn.Dropout(config.dropout) if config.dropout > 0 else nn.Identity()
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """W_up like LoRA's A (and nn.Linear), W_down zero: the branch outputs exactly 0."""
        nn.init.kaiming_uniform_(self.W_up, a=math.sqrt(5))
        nn.init.zeros_(self.W_down)

    def branch(self, x: torch.Tensor) -> torch.Tensor:
        """The adapter's additive contribution, in float32 or the autocast dtype (before adding to the base
        output). σ, dropout and the scale act on the r-wide latent (cera.adapters.latent: same result)."""
        h = F.linear(cast_input(x, self.W_up.dtype), self.W_up)
        return F.linear(latent(h, self.activation, self.p, self.training, self.scale), self.W_down)

    def extra_repr(self) -> str:
        d_out, r = self.W_down.shape
        return f"d_in={self.W_up.shape[1]}, d_out={d_out}, r={r}, scale={self.scale:g}"


class CeraLinear(CeraBranch):
    """A frozen Linear (`base_layer`) plus the CeRA branch: base_layer(x) + branch(x)."""

    def __init__(self, base_layer: nn.Linear, config: CeraConfig) -> None:
        super().__init__(
            base_layer.in_features, base_layer.out_features, config, base_layer.weight.device
        )
        self.base_layer = base_layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.base_layer(x)
        return out + self.branch(x).to(out.dtype)
