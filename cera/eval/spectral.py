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

from collections.abc import Mapping

import torch
from torch import nn

from cera.adapters import AdapterError, branch_output, delta_weight, iter_adapter_layers
from cera.eval.rank import ENERGY_FRACTION, aggregate, auc90, effective_rank, module_type, spectrum, summarize

__all__ = [
    "ENERGY_FRACTION", "aggregate", "auc90", "collect_branch_spectra", "delta_weight_spectra",
    "effective_rank", "module_type", "spectrum", "summarize",
]  # fmt: skip


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
    model: nn.Module, batch: Mapping[str, torch.Tensor], max_tokens: int = 2048
) -> dict:
    """{layer name: {"singular_values", "effective_rank", "auc90", "tokens"}}.

    Runs one forward of `batch` (input_ids, attention_mask, …; labels are ignored) in eval mode
    under no_grad, with a forward hook on every adapter layer that recomputes `branch_output`
    on the layer's real input. Tokens with attention_mask 0 are excluded; at most `max_tokens`
    rows per layer are kept, in batch order (the first sequences first). Train/eval modes are
    restored afterwards. Unmerged adapters only (a merged layer's branch is already in W0).
    """
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be >= 1, got {max_tokens}")
    layers = list(iter_adapter_layers(model))
    if not layers:
        raise AdapterError(f"{type(model).__name__} has no adapter layer to probe")
    device = next(model.parameters()).device
    inputs = {k: v.to(device) if torch.is_tensor(v) else v for k, v in batch.items() if k != "labels"}
    inputs["use_cache"] = False  # the hooks re-run each layer: a KV cache must not see it twice
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
