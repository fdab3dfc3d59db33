"""PERA as a PEFT method: LoRA with second-order (polynomial) expansion of both factors.

With A (r × d_in, rows a_i) and B (d_out × r, columns b_i), over all pairs i ≤ j:

    Poly2(B) = [B | b_i ⊙ b_j]              d_out × (r + r(r+1)/2)
    Poly2(A) = [A ; c_ij · a_i ⊙ a_j]       (r + r(r+1)/2) × d_in,  c_ii = 1, c_ij = 2 (i < j)
    ΔW = Poly2(B) · Poly2(A),   h = W0 x + s · ΔW · D(x),   s = alpha / r

D is input dropout, as in LoRA. The forward stays factorised, x → Poly2(A) → Poly2(B), and
never builds the d_out × d_in ΔW. Init as LoRA (A Kaiming, B zero), so the model starts as the
base. ΔW is linear in x, so PERA merges into W0 (`merge_and_unload`). Memory grows with r²: the
expanded width is r + r(r+1)/2, e.g. r = 512 ⇒ 131,840 rows of Poly2(A) per layer (≈2.2 GB in
fp32 at d_in 4096).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from cera.adapters.config import LowRankConfig
from cera.adapters.tuner import AdapterLayer, AdapterTuner


@dataclass
class PeraConfig(LowRankConfig):
    """PERA on every Linear whose qualified name ends with one of `target_modules`.

    `dropout` is on the adapter's input x, as LoRA's lora_dropout; alpha = r reproduces the
    authors' unscaled reference code.
    """

    method: ClassVar[str] = "pera"


def expanded_rank(r: int) -> int:
    """Width of Poly2(A) / Poly2(B): r first-order terms plus r(r+1)/2 pairs i ≤ j."""
    return r + r * (r + 1) // 2


def _pairs(r: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(i, j, c_ij) over pairs i ≤ j; derived from r, so never part of a state dict."""
    pair_i, pair_j = torch.triu_indices(r, r, device=device)
    return pair_i, pair_j, torch.where(pair_i == pair_j, 1.0, 2.0).to(torch.float32)


def poly2_A(a: torch.Tensor) -> torch.Tensor:
    """[A ; c_ij · a_i ⊙ a_j], shape (r + r(r+1)/2) × d_in."""
    pair_i, pair_j, coef = _pairs(a.shape[0], a.device)
    return torch.cat([a, a[pair_i] * a[pair_j] * coef[:, None]], dim=0)


def poly2_B(b: torch.Tensor) -> torch.Tensor:
    """[B | b_i ⊙ b_j], shape d_out × (r + r(r+1)/2)."""
    pair_i, pair_j, _ = _pairs(b.shape[1], b.device)
    return torch.cat([b, b[:, pair_i] * b[:, pair_j]], dim=1)


class PeraLayer(AdapterLayer):
    """A frozen Linear (`base_layer`) plus, per adapter, s · Poly2(B) Poly2(A) D(x)."""

    adapter_layer_names: tuple[str, ...] = ("pera_A", "pera_B")
    other_param_names: tuple[str, ...] = ("r", "scaling", "pera_dropout")
    module_dicts = ("pera_dropout",)
    method = "pera"

    def build(self, adapter_name: str, config, device: torch.device) -> None:
        a = torch.empty(config.r, self.in_features, device=device, dtype=torch.float32)
        b = torch.empty(self.out_features, config.r, device=device, dtype=torch.float32)
        nn.init.kaiming_uniform_(a, a=math.sqrt(5))
        nn.init.zeros_(b)
        self.pera_A[adapter_name], self.pera_B[adapter_name] = nn.Parameter(a), nn.Parameter(b)
        self.pera_dropout[adapter_name] = nn.Dropout(config.dropout) if config.dropout > 0 else nn.Identity()

    def get_delta_weight(self, adapter_name: str) -> torch.Tensor:
        """s · Poly2(B) · Poly2(A): d_out × d_in, float32 (what a merge adds to W0)."""
        return poly2_B(self.pera_B[adapter_name]) @ poly2_A(self.pera_A[adapter_name]) * self.scaling[adapter_name]

    def branch(self, adapter_name: str, x: torch.Tensor) -> torch.Tensor:
        a, b = self.pera_A[adapter_name], self.pera_B[adapter_name]
        latent = F.linear(self.pera_dropout[adapter_name](x.to(a.dtype)), poly2_A(a))
        return F.linear(latent, poly2_B(b)) * self.scaling[adapter_name]


class PeraModel(AdapterTuner):
    """PEFT tuner for PERA (see `cera.adapters.tuner.AdapterTuner`)."""

    prefix: str = "pera_"
    tuner_layer_cls = PeraLayer
