"""Module-level parallel adapter as a PEFT method: the CeRA branch once per attention block
(paper ablation (a)).

    (out, *rest) = attn(h, ...)   becomes   (out + s · W_down( D( σ(W_up h) ) ), *rest)

h is the block's input hidden states (d_model), so the branch maps d_model → r → d_model from the
block's input to its output, instead of sitting beside each q/v projection. W_down starts at zero,
so the model starts as the base. Non-linear (σ), so it cannot be merged.

PEFT can target any module, so the block is wrapped by the same machinery as CeRA's Linears; the
wrapper passes every argument to the block unchanged and adds the branch to its first output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from cera.adapters.cera import CeraConfig, CeraLayer
from cera.adapters.errors import AdapterError
from cera.adapters.tuner import AdapterTuner


@dataclass
class ParallelConfig(CeraConfig):
    """One CeRA branch around every module named by `target_modules` (attention blocks).

    Params per block are 2 · r · d_model; `dropout` is in the r-dim latent after σ.
    """

    target_modules: list[str] = field(
        default_factory=lambda: ["self_attn"],
        metadata={"help": "Names (or name suffixes after a '.') of the blocks to wrap; each must contain Linears."},
    )

    method: ClassVar[str] = "parallel"


class ParallelLayer(CeraLayer):
    """Wraps a block (`base_layer`); adds the CeRA branch of its input hidden_states to its first output.

    `hidden_states` may come positionally (first arg) or as a keyword; a tuple output keeps its
    length and the other items untouched.
    """

    method = "parallel"
    why_not_mergeable = (
        "the branch is non-linear and spans a whole attention block, so no weight absorbs it; serve it unmerged"
    )

    @classmethod
    def features(cls, target: nn.Module, key: str) -> tuple[int, int]:
        """(input, output) width: the block's first Linear's in_features, last Linear's out_features.

        Why not model.config.hidden_size: this keeps the wrapper local to the module it wraps; in an
        attention block q_proj comes first and o_proj last, which gives d_model → d_model.
        """
        linears = [m for m in target.modules() if isinstance(m, nn.Linear)]
        if not linears:
            raise AdapterError(
                f"parallel adapter cannot wrap '{key}', a {type(target).__name__}: "
                "it has no nn.Linear to infer d_model from"
            )
        return linears[0].in_features, linears[-1].out_features

    def forward(self, *args: Any, adapter_names: list[str] | None = None, **kwargs: Any) -> Any:
        if "hidden_states" in kwargs:
            hidden = kwargs["hidden_states"]
        elif args:
            hidden = args[0]
        else:
            raise TypeError("the parallel adapter needs hidden_states, positionally or as a keyword")
        out = self.base_layer(*args, **kwargs)
        if isinstance(out, torch.Tensor):
            return self.add_branches(out, hidden, adapter_names)
        if type(out) is tuple:
            return (self.add_branches(out[0], hidden, adapter_names), *out[1:])
        raise TypeError(f"the parallel adapter expects a tensor or a tuple from the block, got {type(out).__name__}")


class ParallelModel(AdapterTuner):
    """PEFT tuner for the parallel adapter (see `cera.adapters.tuner.AdapterTuner`).

    It shares CeRA's layer (and so its tensor names); checkpoints still differ by peft_type and by
    the module path (`self_attn.cera_W_up` vs `self_attn.q_proj.cera_W_up`).
    """

    prefix: str = "parallel_"
    tuner_layer_cls = ParallelLayer
