"""Module-level parallel adapter: the CeRA branch once per attention block (paper ablation (a)).

    (out, *rest) = attn(h, ...)   becomes   (out + s · W_down( D( σ(W_up h) ) ), *rest)

h is the block's input hidden states (d_model), so the branch maps d_model → r → d_model from the
block's input to its output, instead of sitting beside each q/v projection. W_down starts at zero,
so the model starts as the base. Non-linear (σ), so it cannot be merged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from cera.adapters.cera import CeraBranch
from cera.adapters.errors import AdapterError
from cera.adapters.validation import AdapterConfigMixin


@dataclass
class ParallelConfig(AdapterConfigMixin):
    """One CeRA branch around every module named by `target_modules` (attention blocks)."""

    r: int
    """Latent width; params per block are 2 · r · d_model."""
    alpha: float
    """Scale numerator: the branch is multiplied by alpha / r."""
    dropout: float = 0.0
    """Dropout probability in the r-dim latent after σ."""
    activation: str = "silu"
    """σ: silu, relu, gelu or identity."""
    target_modules: Sequence[str] = ("self_attn",)
    """Names (or name suffixes after a '.') of the blocks to wrap; each must contain Linears."""

    method: ClassVar[str] = "parallel"
    wraps: ClassVar[type[nn.Module]] = nn.Module

    def make_layer(self, module: nn.Module) -> ParallelAdapter:
        return ParallelAdapter(module, self)


def _block_widths(module: nn.Module) -> tuple[int, int]:
    """(input, output) width of a block: its first Linear's in_features, last Linear's out_features.

    Why not model.config.hidden_size: this keeps the wrapper local to the module it wraps, and for
    attention blocks q_proj comes first and o_proj last, which gives d_model → d_model.
    """
    linears = [m for m in module.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise AdapterError(
            f"parallel adapter cannot wrap a {type(module).__name__}: "
            "it has no nn.Linear to infer d_model from"
        )
    return linears[0].in_features, linears[-1].out_features


class ParallelAdapter(CeraBranch):
    """Wraps a block (`base_layer`); adds branch(hidden_states) to the first output.

    `hidden_states` may come positionally (first arg) or as a keyword; every argument is passed to
    the block unchanged, and a tuple output keeps its length and the other items untouched.
    """

    def __init__(self, base_layer: nn.Module, config: ParallelConfig) -> None:
        d_in, d_out = _block_widths(base_layer)
        device = next(base_layer.parameters()).device
        super().__init__(d_in, d_out, config, device)
        self.base_layer = base_layer

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if "hidden_states" in kwargs:
            hidden = kwargs["hidden_states"]
        elif args:
            hidden = args[0]
        else:
            raise TypeError("ParallelAdapter needs hidden_states, positionally or as a keyword")
        out = self.base_layer(*args, **kwargs)
        if isinstance(out, torch.Tensor):
            return out + self.branch(hidden).to(out.dtype)
        if type(out) is tuple:
            first = out[0]
            return (first + self.branch(hidden).to(first.dtype), *out[1:])
        raise TypeError(
            "ParallelAdapter expects the wrapped block to return a tensor or a tuple, "
            f"got {type(out).__name__}"
        )
