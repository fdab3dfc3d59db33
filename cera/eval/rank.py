"""Rank measures of a spectrum (SPEC §3): effective rank and AUC-90, per layer and aggregated.

The paper's claim is that CeRA's non-linear branch spends its rank budget more evenly than
LoRA's linear one. Two numbers summarise a spectrum σ_1 ≥ σ_2 ≥ … ≥ 0:

    effective rank  ER = exp(−Σ p_i ln p_i),  p_i = σ_i / Σ_j σ_j      (Roy & Vetterli 2007)
    AUC-90          smallest k with Σ_{i≤k} σ_i² ≥ 0.9 · Σ_i σ_i²

ER is the exponential of the Shannon entropy of the normalised spectrum: n equal values give n,
one non-zero value gives 1. AUC-90 counts the directions that hold 90% of the energy. Both are
0 for an all-zero spectrum (a fresh adapter with B = 0 adds nothing). Collecting spectra from a
model (hooks on a probe batch, ΔW of mergeable layers) is `cera.eval.spectral`, which re-exports
everything here.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence

import numpy as np
import torch

#: AUC-90 target; a relative slack of 1e-12 keeps hand-exact cases ([3, 1] → 1) exact in floats.
ENERGY_FRACTION = 0.9
_SLACK = 1e-12


def _singular_values(values, name: str) -> np.ndarray:
    s = np.asarray(values, dtype=np.float64).ravel()
    if not np.all(np.isfinite(s)):
        raise ValueError(f"{name}: singular values contain NaN or inf")
    if np.any(s < 0):
        raise ValueError(f"{name}: singular values must be >= 0, got min {s.min():g}")
    return s


def effective_rank(singular_values: Sequence[float]) -> float:
    """exp(−Σ p_i ln p_i), p_i = σ_i / Σσ over the non-zero σ_i; 0.0 if all are zero."""
    s = _singular_values(singular_values, "effective_rank")
    s = s[s > 0]
    if s.size == 0:
        return 0.0
    p = s / s.sum()
    return float(np.exp(-np.sum(p * np.log(p))))


def auc90(singular_values: Sequence[float], fraction: float = ENERGY_FRACTION) -> int:
    """Smallest k with Σ_{i≤k} σ_i² ≥ fraction · Σσ² (σ sorted descending); 0 if all are zero."""
    s = _singular_values(singular_values, "auc90")
    energy = np.sort(s)[::-1] ** 2
    total = energy.sum()
    if total == 0:
        return 0
    cumulative = np.cumsum(energy)
    return int(np.argmax(cumulative >= fraction * total * (1 - _SLACK))) + 1


def spectrum(matrix: torch.Tensor | np.ndarray) -> np.ndarray:
    """Singular values of a 2-D matrix, descending, float64 (torch.linalg.svdvals in float64)."""
    m = torch.as_tensor(matrix)
    if m.dim() != 2:
        raise ValueError(f"spectrum: expected a 2-D matrix, got shape {tuple(m.shape)}")
    return torch.linalg.svdvals(m.detach().to(torch.float64)).cpu().numpy()


def summarize(singular_values: Sequence[float]) -> dict:
    """{"singular_values": [...], "effective_rank": ER, "auc90": k}: one layer's JSON record."""
    s = _singular_values(singular_values, "summarize")
    return {"singular_values": s.tolist(), "effective_rank": effective_rank(s), "auc90": auc90(s)}


def mean_spectrum(per_layer: Mapping[str, Mapping]) -> dict:
    """summarize() of the layers' normalised spectra σ/Σσ averaged index by index, cut to the shortest
    (the CeRA authors' aggregation: `cera/metrics.py: get_singular_values`); all-zero layers count as zeros."""
    if not per_layer:
        raise ValueError("mean_spectrum: no layers given")
    spectra = [np.asarray(r["singular_values"], dtype=np.float64) for r in per_layer.values()]
    n = min(len(s) for s in spectra)
    normalised = [s[:n] / s.sum() if s.sum() > 0 else s[:n] for s in spectra]
    return summarize(np.mean(normalised, axis=0))


def module_type(layer_name: str) -> str:
    """The last component of a qualified name: 'model.layers.0.self_attn.q_proj' → 'q_proj'."""
    return layer_name.rsplit(".", 1)[-1]


def aggregate(per_layer: Mapping[str, Mapping]) -> dict:
    """Across-layer summary of {layer name: summarize(...) record}.

    Every layer counts once (no weighting by width or depth):
    {"layers": L,
     "effective_rank": {"mean", "median"}, "auc90": {"mean", "median"},
     "by_module": {module type: {"layers", "effective_rank" (mean), "auc90" (mean)}}}
    where the module type is `module_type(name)`, e.g. q_proj vs v_proj.
    """
    if not per_layer:
        raise ValueError("aggregate: no layers given")
    groups: dict[str, list[Mapping]] = defaultdict(list)
    for name, record in per_layer.items():
        groups[module_type(name)].append(record)
    ers = [float(r["effective_rank"]) for r in per_layer.values()]
    aucs = [float(r["auc90"]) for r in per_layer.values()]
    return {
        "layers": len(per_layer),
        "effective_rank": {"mean": statistics.fmean(ers), "median": statistics.median(ers)},
        "auc90": {"mean": statistics.fmean(aucs), "median": statistics.median(aucs)},
        "by_module": {
            kind: {
                "layers": len(records),
                "effective_rank": statistics.fmean(float(r["effective_rank"]) for r in records),
                "auc90": statistics.fmean(float(r["auc90"]) for r in records),
            }
            for kind, records in sorted(groups.items())
        },
    }
