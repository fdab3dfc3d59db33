"""The benchmark's record: one JSON (config, provenance, every sample's summary, targets) and a
Markdown table, written atomically into `paths.bench_dir` as `<model>-<device>.json` / `.md`.

Absolute times are shown only beside a ratio to the reference measured in the same rounds: an
absolute time alone says more about the machine than about the method.
"""

from __future__ import annotations

import time
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from cera.bench.summary import build_rows, targets
from cera.io import atomic_write_json, atomic_write_text
from cera.provenance import provenance

SCHEMA_VERSION = 1
MEMORY_MEANING = {
    "cuda": "peak training memory = resident tensors (weights, adapter, AdamW state) + the step's peak rise of "
            "torch.cuda.memory_allocated; fragmentation and the CUDA context are not counted",
    "cpu": "peak training memory = resident tensors (weights, adapter, AdamW state) + the step's peak rise of torch "
           "CPU tensor allocations replayed from the profiler (profile_memory=True); not RSS, not Python objects",
}


def build_record(cfg: DictConfig, raw: dict, wall_seconds: float) -> dict:
    shapes = cfg.shapes
    rows = build_rows(raw, cfg.reference, shapes.batch, shapes.decode_tokens)
    device = raw["device"].type
    return {
        "schema_version": SCHEMA_VERSION,
        "benchmark": "cera §4.5: training step, peak memory, prefill, decode; ratios vs unmerged "
                     f"{cfg.reference} at equal rank",
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "wall_seconds": wall_seconds,
        "settings": {
            "model": cfg.model.name,
            "device": device,
            "autocast": None if raw["amp"] is None else str(raw["amp"]).removeprefix("torch."),
            "weights_dtype": raw["weights_dtype"],
            "threads": raw["threads"],
            "reference": cfg.reference,
            "memory_meaning": MEMORY_MEANING.get(device, MEMORY_MEANING["cuda"]),
            "ratio_meaning": "per-round paired ratio variant/reference (time or bytes; > 1 = slower or larger); "
                             "median with q1/q3 and min/max over measured rounds",
        },
        "config": OmegaConf.to_container(cfg, resolve=True),
        "provenance": provenance(),
        "rows": rows,
        "targets": targets(rows, cfg.reference),
    }


def _ms(s: dict | None) -> str:
    return "—" if s is None else f"{s['median'] * 1e3:.1f} [{s['q1'] * 1e3:.1f}–{s['q3'] * 1e3:.1f}]"


def _x(s: dict | float | None) -> str:
    if s is None:
        return "—"
    if isinstance(s, float):
        return f"{s:.2f}"
    return f"{s['median']:.3f} [{s['q1']:.3f}–{s['q3']:.3f}]"


def _rate(s: dict | None) -> str:
    return "—" if s is None else f"{s['median']:.0f} [{s['q1']:.0f}–{s['q3']:.0f}]"


def _mb(b: int | None) -> str:
    return "—" if b is None else f"{b / 2**20:.1f}"


def _label(row: dict) -> str:
    if row["method"] == "base":
        return "base (no adapter)"
    return f"{row['method']} merged" if row["merged"] else row["method"]


COLUMNS = ("variant", "trainable", "train step ms", "×ref", "peak train MB", "×ref", "prefill ms", "×ref",
           "decode tok/s", "×ref (time/token)")


def markdown(record: dict) -> str:
    st, cfg = record["settings"], record["config"]
    sh = cfg["shapes"]
    ref = st["reference"]
    lines = [
        f"## cera §4.5 benchmark: {st['model']} on {st['device']} "
        f"(autocast {st['autocast'] or 'off'}, weights {st['weights_dtype']}, {st['threads']} thread{'s' if st['threads'] != 1 else ''})",
        "",
        f"batch {sh['batch']} × seq {sh['seq_len']}, {sh['decode_tokens']} greedy decode tokens (KV cache); "
        f"{cfg['repeats']} measured rounds after {cfg['warmup']} warm-up, methods interleaved round-robin, each "
        f"sample the best of {cfg['inner']} back-to-back calls. "
        f"Cells: median [q1–q3] over rounds. ×ref: per-round ratio to unmerged {ref} at the same rank "
        "(> 1 = slower / larger). Merged variants and the base do not train.",
        "",
    ]
    for group in dict.fromkeys(r["group"] for r in record["rows"]):
        lines += [f"### r = {group} (reference: unmerged {ref} r={group})", "",
                  "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
        for r in (r for r in record["rows"] if r["group"] == group):
            x = r["ratios"]
            cells = [_label(r), f"{r['trainable_params']:,}" if r["trainable_params"] else "—",
                     _ms(r["train_step_s"]), _x(x["train_step"]), _mb(r["train_peak_bytes"]),
                     _x(x["train_peak_memory"]), _ms(r["prefill_s"]), _x(x["prefill"]),
                     _rate(r["decode_tokens_per_s"]), _x(x["decode"])]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["### Targets", ""]
    for t in record["targets"]:
        limit = f" (target ≤ {t['limit']:g})" if t["limit"] is not None else ""
        paper = f"; paper {t['paper']}" if t["paper"] else ""
        value = "n/a" if t["measured"] is None else f"{t['measured']:.3f}"
        if t["measured"] is not None and t["q1"] != t["q3"]:
            value += f" [{t['q1']:.3f}–{t['q3']:.3f}]"
        lines.append(f"- {t['target']}: {value}{limit}: {t['verdict']}{paper}")
    lines += ["", f"Memory: {st['memory_meaning']}.", ""]
    return "\n".join(lines)


def write(record: dict, bench_dir: str | Path) -> tuple[Path, Path]:
    """Write `<model>-<device>.json` and `.md`; returns both paths."""
    stem = Path(bench_dir) / f"{record['settings']['model']}-{record['settings']['device']}"
    json_path = atomic_write_json(f"{stem}.json", record)
    md_path = atomic_write_text(f"{stem}.md", markdown(record))
    return json_path, md_path
