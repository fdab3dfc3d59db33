"""The models under test: one per method × rank, a merged copy of each mergeable one, and the base.

Why they all live in one process at once: the methods are measured interleaved (round-robin within
each repeat), so machine drift, thermal state and neighbours hit every method alike. To afford that
on Llama-3-8B, every variant shares the one frozen copy of the base weights; each has its own
adapter and AdamW. A merged copy owns private copies of the weights `merge` writes into (the
adapted layers' base weights) and shares the rest.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass

import torch
from omegaconf import DictConfig
from torch import nn

from cera.adapters import AdapterError, attach, iter_adapter_layers, merge, trainable_parameters
from cera.bench.settings import adapter_settings, included

BASE = "base"


@dataclass
class Variant:
    name: str  # e.g. "cera-r64", "pera-r64-merged", "base"
    method: str  # a conf/method name, or "base" for the bare backbone
    rank: int | None
    merged: bool
    model: nn.Module
    optimizer: torch.optim.Optimizer | None = None  # only unmerged adapters train
    trainable_params: int = 0


def shared_copy(model: nn.Module, private: Iterable[nn.Parameter] = ()) -> nn.Module:
    """A deep copy that reuses every parameter object of `model` except those in `private`."""
    private_ids = {id(p) for p in private}
    memo = {id(p): p for p in model.parameters() if id(p) not in private_ids}
    return copy.deepcopy(model, memo)


def merged_copy(model: nn.Module) -> nn.Module | None:
    """`merge` applied to a copy of an adapted model; None when the method cannot merge."""
    private = [p for _, layer in iter_adapter_layers(model) for p in layer.get_base_layer().parameters()]
    try:
        return merge(shared_copy(model, private)).eval()
    except AdapterError:  # non-linear adapters (cera, parallel) have no merged form
        return None


def build_variants(cfg: DictConfig, base: nn.Module) -> list[Variant]:
    """Variants in table order: per rank, the methods unmerged, then their merged copies; base last."""
    variants: list[Variant] = []
    for rank in cfg.ranks:
        unmerged, merged = [], []
        for name in (m for m in cfg.methods if included(cfg, m, rank)):
            adapter_cfg, lr = adapter_settings(cfg, name, rank)
            torch.manual_seed(cfg.seed)  # same initialisation as a training run with this seed
            model = attach(shared_copy(base), adapter_cfg)
            params = [p for p in model.parameters() if p.requires_grad]
            optimizer = torch.optim.AdamW(params, lr=lr)
            unmerged.append(Variant(f"{name}-r{rank}", name, rank, False, model, optimizer, trainable_parameters(model)))
            folded = merged_copy(model)
            if folded is not None:
                merged.append(Variant(f"{name}-r{rank}-merged", name, rank, True, folded))
        variants += unmerged + merged
    return [*variants, Variant(BASE, BASE, None, False, base.eval())]
