"""Spectra of adapter updates in a model: branch activations on a probe batch, and ΔW.

Both read every method through the same two interfaces of `cera.adapters` (no method is special):

Activation spectrum (every method): for each adapter layer, H = `branch_output(layer, x)` (what the
adapter adds to the layer's output, in float64) stacked over the probe batch's real tokens
(tokens × d_out), then σ(H). A linear rank-r branch gives at most r non-zero σ; CeRA's
W_down(σ(W_up x)) is also bounded by r, but how evenly it fills those r directions on real
inputs is what ER and AUC-90 (`cera.eval.rank`, re-exported here) compare. DoRA's magnitude
rescales the whole output, so its "branch" is the total output change ΔW x, which is not low-rank
(rescaling rows of W0 is full-rank): DoRA's ER is not comparable with a rank-r branch's.

Weight spectrum (mergeable methods): σ(ΔW) of `delta_weight(layer)`, what a merge adds to W0:
    LoRA  ΔW = s · B A;     PERA  ΔW = s · Poly2(B) Poly2(A)
    DoRA  ΔW = diag(m / ‖W0 + s B A‖_row) (W0 + s B A) − W0   (the total merged change)
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

import torch
from torch import nn

from cera.adapters import AdapterError, branch_output, delta_weight, iter_adapter_layers
from cera.eval.rank import (ENERGY_FRACTION, aggregate, auc90, effective_rank, mean_spectrum, module_type, spectrum,
                            summarize)

__all__ = [
    "ENERGY_FRACTION", "aggregate", "auc90", "collect_branch_spectra", "delta_weight_spectra", "deepest_layers",
    "effective_rank", "mean_spectrum", "module_type", "spectrum", "summarize",
]  # fmt: skip

_LAYER_INDEX = re.compile(r"\.layers\.(\d+)\.")


def deepest_layers(names: list[str], fraction: float | None, num_layers: int | None = None) -> list[str]:
    """The names in the deepest `fraction` of the decoder layers (at least one layer; None: every name).

    The CeRA authors' spectra use layers 27–31 of Llama-3-8B's 32 (fraction 5/32); a fraction keeps that
    depth band on a backbone of any depth: max(1, round(fraction × layers)) layers, counted from the top.
    """
    if fraction is None:
        return list(names)
    index = {n: int(m.group(1)) for n in names if (m := _LAYER_INDEX.search(n))}
    if not index:
        raise AdapterError(f"eval.spectra.layers={fraction}: no adapter layer name holds a '.layers.<i>.' index")
    total = num_layers or max(index.values()) + 1
    keep = max(1, math.floor(fraction * total + 0.5))
    return [n for n in names if n in index and index[n] >= total - keep]


def _layer_input(args: tuple, kwargs: dict) -> torch.Tensor:
    """x of a Linear adapter (first positional), or a wrapped block's hidden_states."""
    return kwargs["hidden_states"] if "hidden_states" in kwargs else args[0]


def _token_rows(h: torch.Tensor, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """(tokens × d_out) rows of h; rows of padding tokens dropped when x is [batch, seq, d]."""
    if mask is not None and x.dim() == 3 and tuple(x.shape[:2]) == tuple(mask.shape):
        return h[mask.to(device=h.device, dtype=torch.bool)]
    return h.reshape(-1, h.shape[-1])


@torch.no_grad()
def collect_branch_spectra(
    model: nn.Module, batch: Mapping[str, torch.Tensor], max_tokens: int = 2048, *, center: bool = False,
    layers: float | None = None, mask_padding: bool = True,
) -> dict:
    """{layer name: {"singular_values", "effective_rank", "auc90", "tokens"}}.

    Runs one forward of `batch` (input_ids, attention_mask, …; labels are ignored) in eval mode
    under no_grad, with a forward hook on every adapter layer that recomputes `branch_output`
    on the layer's real input. Tokens with attention_mask 0 are excluded; at most `max_tokens`
    rows per layer are kept, in batch order (the first sequences first). Train/eval modes are
    restored afterwards. Unmerged adapters only (a merged layer's branch is already in W0).

    The CeRA authors' options (`eval.spectra.*`): `center` subtracts each layer's mean row before the
    SVD; `layers` keeps the deepest fraction of the decoder layers (`deepest_layers`); `mask_padding=False`
    runs the forward without the attention mask and keeps the padding positions' rows too.
    """
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be >= 1, got {max_tokens}")
    every = list(iter_adapter_layers(model))
    if not every:
        raise AdapterError(f"{type(model).__name__} has no adapter layer to probe")
    chosen = set(deepest_layers([n for n, _ in every], layers, getattr(getattr(model, "config", None),
                                                                       "num_hidden_layers", None)))
    layers = [(n, layer) for n, layer in every if n in chosen]
    device = next(model.parameters()).device
    inputs = {k: v.to(device) if torch.is_tensor(v) else v for k, v in batch.items() if k != "labels"}
    inputs["use_cache"] = False  # the hooks re-run each layer: a KV cache must not see it twice
    if not mask_padding:
        inputs.pop("attention_mask", None)
    mask = inputs.get("attention_mask")
    rows: dict[str, list[torch.Tensor]] = {name: [] for name, _ in layers}
    counts = dict.fromkeys(rows, 0)

    busy: set[str] = set()  # branch_output calls the layer again: its own hook must not recurse

    def make_hook(name: str):
        def hook(module, args, kwargs, output):
            room = max_tokens - counts[name]
            if room <= 0 or name in busy:
                return
            busy.add(name)
            try:
                h = branch_output(module, *args, **kwargs).float()
            finally:
                busy.discard(name)
            kept = _token_rows(h, _layer_input(args, kwargs), mask)[:room]
            rows[name].append(kept)
            counts[name] += kept.shape[0]

        return hook

    modes = {module: module.training for module in model.modules()}
    handles = [layer.register_forward_hook(make_hook(name), with_kwargs=True) for name, layer in layers]
    try:
        model.eval()
        model(**inputs)
    finally:
        for handle in handles:
            handle.remove()
        for module, training in modes.items():
            module.train(training)

    result = {}
    for name, layer in layers:
        if not rows[name]:
            raise AdapterError(f"adapter layer {name} saw no tokens during the probe forward")
        h = torch.cat(rows.pop(name))
        if center:
            h = h - h.mean(dim=0, keepdim=True)
        result[name] = {**summarize(spectrum(h)), "tokens": int(h.shape[0])}
    return result


@torch.no_grad()
def delta_weight_spectra(model: nn.Module) -> dict:
    """{layer name: {"singular_values", "effective_rank", "auc90", "shape"}} of each layer's ΔW.

    LoRA, DoRA and PERA; AdapterError for CeRA and the parallel adapter, which have no ΔW.
    """
    result = {}
    for name, layer in iter_adapter_layers(model):
        delta = delta_weight(layer)
        result[name] = {**summarize(spectrum(delta)), "shape": list(delta.shape)}
    if not result:
        raise AdapterError(f"{type(model).__name__} has no adapter layer")
    return result
