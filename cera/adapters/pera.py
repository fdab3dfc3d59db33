"""PERA: LoRA with second-order (polynomial) expansion of both factors.

With A (r × d_in, rows a_i) and B (d_out × r, columns b_i), over all pairs i ≤ j:

    Poly2(B) = [B | b_i ⊙ b_j]              d_out × (r + r(r+1)/2)
    Poly2(A) = [A ; c_ij · a_i ⊙ a_j]       (r + r(r+1)/2) × d_in,  c_ii = 1, c_ij = 2 (i < j)
    ΔW = Poly2(B) · Poly2(A),   h = W0 x + s · ΔW · D(x),   s = alpha / r

D is input dropout, as in LoRA. The forward stays factorised, x → Poly2(A) → Poly2(B), and
never builds the d_out × d_in ΔW. Init as LoRA (A Kaiming, B zero), so the model starts as the
base. ΔW is linear in x, so PERA merges into W0. Memory grows with r²: the expanded width is
r + r(r+1)/2, e.g. r = 512 ⇒ 131,840 rows of Poly2(A) per layer (≈2.2 GB in fp32 at d_in 4096).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from cera.adapters.validation import AdapterConfigMixin


@dataclass
class PeraConfig(AdapterConfigMixin):
    """PERA on every Linear whose qualified name ends with one of `target_modules`."""

    r: int
    """Rank of A and B; the expanded width is r + r(r+1)/2 (memory grows with r²)."""
    alpha: float
    """Scale numerator: ΔW is multiplied by alpha / r (alpha = r reproduces the reference code)."""
    dropout: float = 0.0
    """Dropout probability on the adapter's input x, as LoRA's lora_dropout."""
    target_modules: Sequence[str] = ("q_proj", "v_proj")
    """Module names (or name suffixes after a '.') to adapt; each must be an nn.Linear."""

    method: ClassVar[str] = "pera"
    wraps: ClassVar[type[nn.Module]] = nn.Linear

    def make_layer(self, module: nn.Module) -> PeraLinear:
        return PeraLinear(module, self)


def expanded_rank(r: int) -> int:
    """Width of Poly2(A) / Poly2(B): r first-order terms plus r(r+1)/2 pairs i ≤ j."""
    return r + r * (r + 1) // 2


class PeraLinear(nn.Module):
    """A frozen Linear (`base_layer`) plus s · Poly2(B) Poly2(A) D(x); float32 factors."""

    def __init__(self, base_layer: nn.Linear, config: PeraConfig) -> None:
        super().__init__()
        device, r = base_layer.weight.device, config.r
        self.r, self.scale = r, config.scale
        self.A = nn.Parameter(torch.empty(r, base_layer.in_features, device=device, dtype=torch.float32))
        self.B = nn.Parameter(torch.empty(base_layer.out_features, r, device=device, dtype=torch.float32))
        self.dropout = nn.Dropout(config.dropout) if config.dropout > 0 else nn.Identity()
        pair_i, pair_j = torch.triu_indices(r, r, device=device)
        # Non-persistent: derived from r, so they stay out of state dicts and checkpoints.
        self.register_buffer("pair_i", pair_i, persistent=False)
        self.register_buffer("pair_j", pair_j, persistent=False)
        coef = torch.where(pair_i == pair_j, 1.0, 2.0).to(torch.float32)
        self.register_buffer("pair_coef", coef, persistent=False)
        self.base_layer = base_layer
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))
        nn.init.zeros_(self.B)

    def poly2_A(self) -> torch.Tensor:
        """[A ; c_ij · a_i ⊙ a_j], shape (r + r(r+1)/2) × d_in."""
        pairs = self.A[self.pair_i] * self.A[self.pair_j] * self.pair_coef[:, None]
        return torch.cat([self.A, pairs], dim=0)

    def poly2_B(self) -> torch.Tensor:
        """[B | b_i ⊙ b_j], shape d_out × (r + r(r+1)/2)."""
        return torch.cat([self.B, self.B[:, self.pair_i] * self.B[:, self.pair_j]], dim=1)

    def delta_weight(self) -> torch.Tensor:
        """ΔW = Poly2(B) · Poly2(A), unscaled (merge adds s · ΔW); d_out × d_in, float32."""
        return self.poly2_B() @ self.poly2_A()

    def branch(self, x: torch.Tensor) -> torch.Tensor:
        """s · ΔW · D(x) computed factorised, in float32 (before adding to the base output)."""
        latent = F.linear(self.dropout(x.to(self.A.dtype)), self.poly2_A())
        return F.linear(latent, self.poly2_B()) * self.scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.base_layer(x)
        return out + self.branch(x).to(out.dtype)

    @torch.no_grad()
    def merged_base(self) -> nn.Linear:
        """Adds s · ΔW into base_layer.weight in place and returns the base layer."""
        weight = self.base_layer.weight
        weight.add_((self.delta_weight() * self.scale).to(weight.dtype))
        return self.base_layer

    def extra_repr(self) -> str:
        d_out, r = self.B.shape
        return (
            f"d_in={self.A.shape[1]}, d_out={d_out}, r={r}, "
            f"expanded={expanded_rank(r)}, scale={self.scale:g}"
        )
