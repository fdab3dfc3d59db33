"""§4.5 claims from the benchmark JSONs (outputs/bench/*.json, written by `python -m cera.bench`).

The paper-shape record (Llama-3-8B layer shapes, a `shapes` field naming model, width, layers kept,
dtype, batch × sequence) is used when present, the embedded model's otherwise; the row states which.
A benchmark ratio is a median over R paired rounds; its MDE uses the normal approximation of the
median's SE, 1.2533 · σ / √R with σ ≈ IQR / 1.349 (analysis.power for the 2.8016 factor).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pandas as pd

from analysis.power import Z_MDE

PAPER_OVERHEAD = 1.06  # §4.5: CeRA ≈ 6% latency overhead over unmerged LoRA (Llama-3-8B)


def _shapes(record: dict) -> dict:
    return record.get("shapes") or (record.get("settings") or {}).get("shapes") or {}


def is_paper_shape(record: dict) -> bool:
    shapes, settings = _shapes(record), record.get("settings") or {}
    model = shapes.get("model") or settings.get("model") or ""
    hidden = shapes.get("hidden_size") or shapes.get("hidden") or 0
    return bool(shapes) and (str(model).startswith("llama3") or hidden >= 4096)


def choose_bench(outputs: str | Path) -> tuple[dict | None, str]:
    """(record, file name): the newest paper-shape benchmark, else the newest of any; (None, '') if none.
    An unreadable file is skipped."""
    records = []
    for path in sorted((Path(outputs) / "bench").glob("*.json")):
        try:
            records.append((json.loads(path.read_text()), path))
        except (OSError, ValueError):
            continue
    if not records:
        return None, ""
    paper = [r for r in records if is_paper_shape(r[0])]
    record, path = max(paper or records, key=lambda r: (r[0].get("created") or "", r[1].stat().st_mtime))
    return record, path.name


def describe(record: dict, name: str = "") -> str:
    """The shapes measured, as cera.bench states them (its `shapes.text`), and the device and file."""
    shapes, settings = _shapes(record), record.get("settings") or {}
    if shapes.get("text"):
        device = settings.get("device")
        return shapes["text"] + (f", {device}" if device else "") + (f" ({name})" if name else "")
    parts = [str(shapes.get("model") or settings.get("model") or "?")]
    for key, fmt in (("hidden_size", "d={}"), ("hidden", "d={}"), ("layers", "{} layers"),
                     ("weights_dtype", "{}"), ("dtype", "{}")):
        if shapes.get(key) is not None:
            parts.append(fmt.format(shapes[key]))
    cfg_shapes = (record.get("config") or {}).get("shapes") or {}
    batch, seq = shapes.get("batch", cfg_shapes.get("batch")), shapes.get("seq_len", cfg_shapes.get("seq_len"))
    if batch and seq:
        parts.append(f"batch {batch}×{seq}")
    parts.append(str(settings.get("device") or ""))
    return ", ".join(p for p in parts if p) + (f" ({name})" if name else "")


def _mde(target: dict, rounds: int | None) -> float:
    q1, q3 = target.get("q1"), target.get("q3")
    if not rounds or q1 is None or q3 is None:
        return math.nan
    return Z_MDE * 1.2533 * ((q3 - q1) / 1.349) / math.sqrt(rounds)


def bench_claims(record: dict | None, name: str = "") -> pd.DataFrame:
    """Rows: CeRA unmerged decode ≤ 1.06× unmerged LoRA per rank benchmarked; training memory."""
    if not record:
        return pd.DataFrame([{"claim": "§4.5: CeRA latency / memory", "verdict": "not run (no outputs/bench/*.json)"}])
    where = describe(record, name)
    rounds = (record.get("config") or {}).get("repeats")
    rows = []
    for t in record.get("targets", []):
        m = re.fullmatch(r"cera r=(\d+) unmerged decode / unmerged (\w+)", t.get("target", ""))
        if not m or t.get("measured") is None:
            continue
        q1, q3 = t.get("q1", t["measured"]), t.get("q3", t["measured"])
        verdict = ("reproduced" if q3 <= PAPER_OVERHEAD else "inside noise" if q1 <= PAPER_OVERHEAD
                   else "not reproduced")
        if verdict == "inside noise" and _mde(t, rounds) > PAPER_OVERHEAD - 1:
            verdict += ", underpowered (MDE > paper effect)"
        rows.append({"claim": f"§4.5: CeRA unmerged decode ≤ 1.06× unmerged {m.group(2)}, r{m.group(1)}",
                     "cells": where, "paper": "≈ 1.06× (Llama-3-8B, GPU)",
                     "ours (95% CI)": f"{t['measured']:.3f}× [q1–q3 {q1:.3f}–{q3:.3f}]",
                     "effect: ours / paper": f"{(t['measured'] - 1) * 100:+.1f}% / +6.0%",
                     "MDE (80%, 5%)": f"{_mde(t, rounds) * 100:.1f}%" if rounds else "—",
                     "verdict": verdict, "caveats": f"median over {rounds} paired rounds" if rounds else ""})
    mem = next((t for t in record.get("targets", []) if "peak train memory" in t.get("target", "")), None)
    if mem and mem.get("measured") is not None:
        rows.append({"claim": f"§4.5: training memory, {mem['target']} < 1", "cells": where, "paper": "lower",
                     "ours (95% CI)": f"{mem['measured']:.2f}×", "effect: ours / paper": f"{(mem['measured'] - 1) * 100:+.0f}% / —",
                     "MDE (80%, 5%)": "— (deterministic)",
                     "verdict": "reproduced" if mem["measured"] < 1 else "not reproduced", "caveats": ""})
    return pd.DataFrame(rows or [{"claim": "§4.5: CeRA latency / memory", "cells": where,
                                  "verdict": "not run (no CeRA rows in the benchmark)"}])
