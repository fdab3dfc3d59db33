"""Spectra of adapter updates in a model: branch activations on a probe batch, and ΔW.

Activation spectrum (every method): for each adapter layer, H = branch(x) stacked over the probe
batch's real tokens (tokens × d_out), then σ(H). A linear rank-r branch gives at most r non-zero
σ; CeRA's W_down(σ(W_up x)) is also bounded by r, but how evenly it fills those r directions on
real inputs is what ER and AUC-90 (`cera.eval.rank`, re-exported here) compare.

Weight spectrum (mergeable methods): σ(ΔW) of the update the merge would add to W0:
    LoRA  ΔW = s · B A;     PERA  ΔW = s · Poly2(B) Poly2(A)
    DoRA  ΔW = diag(m / ‖W0 + s B A‖_row) (W0 + s B A) − W0   (the total merged change)
DoRA has no additive branch (its magnitude m rescales the whole output), so its activation
"branch" is the total change it makes to the layer's output, output − base_layer(x) = ΔW x in
eval mode; its record says source="output_minus_base". Unlike the others this is not low-rank:
rescaling rows of W0 is full-rank, so DoRA's ER is not comparable with a rank-r branch's.
The output difference is taken in the model's dtype: probe DoRA in float32, not bf16.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from peft.tuners.lora import LoraLayer
from torch import nn

from cera.adapters import AdapterError, PeraLinear, branch_output, iter_adapter_layers
from cera.eval.rank import ENERGY_FRACTION, aggregate, auc90, effective_rank, module_type, spectrum, summarize

__all__ = [
    "ENERGY_FRACTION", "aggregate", "auc90", "collect_branch_spectra", "delta_weight_spectra",
    "effective_rank", "module_type", "spectrum", "summarize",
]  # fmt: skip


def _is_dora(layer: nn.Module) -> bool:
    return isinstance(layer, LoraLayer) and any(layer.use_dora.get(a, False) for a in layer.active_adapters)


def _layer_input(args: tuple, kwargs: dict) -> torch.Tensor:
    """x of a LoRA/CeRA/PERA Linear (first positional), or a ParallelAdapter's hidden_states."""
    if "hidden_states" in kwargs:
        return kwargs["hidden_states"]
    return args[0]


def _token_rows(h: torch.Tensor, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """(tokens × d_out) rows of h; rows of padding tokens dropped when x is [batch, seq, d]."""
    if mask is not None and x.dim() == 3 and tuple(x.shape[:2]) == tuple(mask.shape):
        return h[mask.to(device=h.device, dtype=torch.bool)]
    return h.reshape(-1, h.shape[-1])


@torch.no_grad()
def collect_branch_spectra(
    model: nn.Module, batch: Mapping[str, torch.Tensor], max_tokens: int = 2048
) -> dict:
    """{layer name: {"singular_values", "effective_rank", "auc90", "tokens", "source"}}.

    Runs one forward of `batch` (input_ids, attention_mask, …; labels are ignored) in eval mode
    under no_grad, with a forward hook on every adapter layer that recomputes the branch output
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
    mask = inputs.get("attention_mask")
    rows: dict[str, list[torch.Tensor]] = {name: [] for name, _ in layers}
    counts = dict.fromkeys(rows, 0)

    def make_hook(name: str):
        def hook(module, args, kwargs, output):
            room = max_tokens - counts[name]
            if room <= 0:
                return
            x = _layer_input(args, kwargs)
            if _is_dora(module):
                h = output.float() - module.base_layer(x).float()
            else:
                h = branch_output(module, x).float()
            kept = _token_rows(h, x, mask)[:room]
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
        source = "output_minus_base" if _is_dora(layer) else "branch"
        result[name] = {**summarize(spectrum(h)), "tokens": int(h.shape[0]), "source": source}
    return result


def _delta_weight(layer: nn.Module) -> torch.Tensor:
    """The d_out × d_in change a merge adds to W0 (see the module docstring), float64."""
    if isinstance(layer, PeraLinear):
        return layer.delta_weight().double() * layer.scale
    if isinstance(layer, LoraLayer):
        (name,) = layer.active_adapters
        s = layer.scaling[name]
        update = s * layer.lora_B[name].weight.double() @ layer.lora_A[name].weight.double()
        if not _is_dora(layer):
            return update
        w0 = layer.get_base_layer().weight.double()
        w0 = w0.T if layer.fan_in_fan_out else w0
        direction = w0 + update
        magnitude = layer.lora_magnitude_vector[name].weight.double().reshape(-1, 1)
        return magnitude / torch.linalg.norm(direction, dim=1, keepdim=True) * direction - w0
    raise AdapterError(
        f"{type(layer).__name__} has no ΔW: its branch is non-linear (cera, parallel); "
        "use collect_branch_spectra"
    )


@torch.no_grad()
def delta_weight_spectra(model: nn.Module) -> dict:
    """{layer name: {"singular_values", "effective_rank", "auc90", "shape"}} of each layer's ΔW.

    LoRA, DoRA and PERA; AdapterError for CeRA and the parallel adapter, which have no ΔW.
    """
    result = {}
    for name, layer in iter_adapter_layers(model):
        delta = _delta_weight(layer)
        result[name] = {**summarize(spectrum(delta)), "shape": list(delta.shape)}
    if not result:
        raise AdapterError(f"{type(model).__name__} has no adapter layer")
    return result
