"""Medians, spreads and paired ratios of the raw measurements, and the §4.5 targets checked on them.

A ratio is always (variant's time) / (reference's time) for the same round, so > 1 means slower
(or, for memory, larger); decode compares time per token, which is the inverse of tokens/s. Rows
are grouped by rank: each group holds the methods at that rank, their merged copies and the base,
all compared with the reference (unmerged LoRA by default) at that rank.
"""

from __future__ import annotations


import numpy as np

from cera.bench.variants import BASE

RATIO_KEYS = {"train_step": "train_step_s", "prefill": "prefill_s", "decode": "decode_s"}


def spread(values: list[float]) -> dict | None:
    """Median, quartiles (linear interpolation), min, max and n; None for no values."""
    if not values:
        return None
    q1, median, q3 = (float(x) for x in np.quantile(values, [0.25, 0.5, 0.75]))  # linear interpolation
    return {"median": median, "q1": q1, "q3": q3, "min": min(values), "max": max(values), "n": len(values)}


def paired(a: list[float], b: list[float]) -> dict | None:
    """Spread of the per-round ratios a[k] / b[k]."""
    if not a or len(a) != len(b):
        return None
    return spread([x / y for x, y in zip(a, b)])


def _ratio(a: int | None, b: int | None) -> float | None:
    return a / b if a and b else None


def build_rows(raw: dict, reference: str, batch: int, new_tokens: int) -> list[dict]:
    """One row per (rank group, variant); the base appears in every group."""
    samples, memory = raw["samples"], raw["memory"]
    ranks = list(dict.fromkeys(v.rank for v in raw["variants"] if v.rank is not None))
    rows = []
    for group in ranks:
        ref = f"{reference}-r{group}"
        members = [v for v in raw["variants"] if v.rank == group or v.method == BASE]
        for v in members:
            s = samples[v.name]
            ratios = {key: paired(s[m], samples[ref][m]) for key, m in RATIO_KEYS.items()}
            ratios["train_peak_memory"] = _ratio(memory.get(v.name), memory.get(ref))
            rows.append({
                "group": group,
                "variant": v.name,
                "method": v.method,
                "rank": v.rank,
                "merged": v.merged,
                "trainable_params": v.trainable_params,
                "train_step_s": spread(s["train_step_s"]),
                "train_peak_bytes": memory.get(v.name),
                "prefill_s": spread(s["prefill_s"]),
                "decode_s": spread(s["decode_s"]),
                "decode_tokens_per_s": spread([batch * new_tokens / t for t in s["decode_s"]]),
                "ratios": ratios,
                "ratios_vs_base": {k: paired(s[RATIO_KEYS[k]], samples[BASE][RATIO_KEYS[k]])
                                   for k in ("prefill", "decode")},
            })
    return rows


def _row(rows: list[dict], group: int, variant: str) -> dict | None:
    return next((r for r in rows if r["group"] == group and r["variant"] == variant), None)


def _check(target: str, ratio: dict | float | None, limit: float | None, paper: str = "") -> dict:
    """meets: median <= limit; MISSES: even q1 > limit; inside noise: q1 <= limit < median."""
    s = {"median": ratio, "q1": ratio, "q3": ratio} if isinstance(ratio, (int, float)) else ratio
    value, ok, verdict = (s or {}).get("median"), None, "as measured"
    if value is None:
        verdict = "not measured"
    elif limit is not None:
        ok = True if value <= limit else (False if s["q1"] > limit else None)
        verdict = {True: "meets", False: "MISSES", None: "inside noise (q1 ≤ target < median)"}[ok]
    return {"target": target, "measured": value, "q1": s and s["q1"], "q3": s and s["q3"], "limit": limit,
            "ok": ok, "verdict": verdict, "paper": paper}


def targets(rows: list[dict], reference: str) -> list[dict]:
    """The §4.5 claims as checks (limit None: report the measured value, no pass/fail)."""
    out = []
    groups = list(dict.fromkeys(r["group"] for r in rows))
    for g in groups:
        cera, dora, pera = (_row(rows, g, f"{m}-r{g}") for m in ("cera", "dora", "pera"))
        pera_merged = _row(rows, g, f"pera-r{g}-merged")
        if cera:
            out.append(_check(f"cera r={g} train step / {reference}", cera["ratios"]["train_step"], 1.05))
            for k in ("prefill", "decode"):
                out.append(_check(f"cera r={g} unmerged {k} / unmerged {reference}", cera["ratios"][k], 1.03,
                                  "1.06 (Llama-3-8B)"))
        if dora:
            for k in ("train_step", "prefill", "decode"):
                out.append(_check(f"dora r={g} {k.replace('_', ' ')} / {reference}", dora["ratios"][k], None))
        if pera:
            out.append(_check(f"pera r={g} train step / {reference}", pera["ratios"]["train_step"], None))
        if pera_merged:
            for k in ("prefill", "decode"):
                out.append(_check(f"pera r={g} merged {k} / base", pera_merged["ratios_vs_base"][k], 1.03))
    cera_low = _row(rows, min(groups), f"cera-r{min(groups)}") if groups else None
    ref_high = _row(rows, max(groups), f"{reference}-r{max(groups)}") if groups else None
    if cera_low and ref_high and len(groups) > 1:
        value = _ratio(cera_low["train_peak_bytes"], ref_high["train_peak_bytes"])
        out.append(_check(f"cera r={min(groups)} / {reference} r={max(groups)} peak train memory", value, 1.0))
    return out
