"""The benchmark's record: one JSON (config, provenance, every sample's summary, targets) and a
Markdown table, written atomically into `paths.bench_dir` as `<model>[-L<layers>]-<device>.json` /
`.md` (`-L<layers>` when `model.num_layers` truncated the model). `shapes` states what was measured.

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
        "shapes": shapes_of(cfg, raw),
        "config": OmegaConf.to_container(cfg, resolve=True),
        "provenance": provenance(),
        "rows": rows,
        "targets": targets(rows, cfg.reference),
        "mixed": raw.get("mixed", []),
    }


def shapes_of(cfg: DictConfig, raw: dict) -> dict:
    """What was measured, in one place: the model's shapes (as built), precision and workload sizes."""
    arch = raw["architecture"]
    return {
        "model": cfg.model.name,
        "init": cfg.model.get("init", "pretrained"),
        "hidden_size": arch["hidden_size"],
        "layers": arch["num_hidden_layers"],  # kept (after model.num_layers)
        "layers_truncated": cfg.model.get("num_layers") is not None,
        "intermediate_size": arch["intermediate_size"],
        "vocab_size": arch["vocab_size"],
        "weights_dtype": raw["weights_dtype"],
        "autocast": None if raw["amp"] is None else str(raw["amp"]).removeprefix("torch."),
        "batch": cfg.shapes.batch,
        "seq_len": cfg.shapes.seq_len,
        "decode_tokens": cfg.shapes.decode_tokens,
        "text": describe(cfg, raw),
    }


def describe(cfg: DictConfig, raw: dict) -> str:
    """e.g. 'llama3_8b (random init), 2 of its layers kept, d=4096, bfloat16, batch 1 × seq 256'."""
    arch, m = raw["architecture"], cfg.model
    init = " (random init)" if m.get("init", "pretrained") == "random" else ""
    n = arch["num_hidden_layers"]
    layers = f"{n} layer{'s' if n != 1 else ''}" + (" kept" if m.get("num_layers") is not None else "")
    amp = "" if raw["amp"] is None else f", {str(raw['amp']).removeprefix('torch.')} autocast"
    return (f"{m.name}{init}, {layers}, d={arch['hidden_size']}, {raw['weights_dtype']} weights{amp}, "
            f"batch {cfg.shapes.batch} × seq {cfg.shapes.seq_len}, {cfg.shapes.decode_tokens} decode tokens")


def stem(record: dict) -> str:
    """`<model>[-L<layers>]-<device>`: the layer count appears when model.num_layers truncated it."""
    sh, st = record["shapes"], record["settings"]
    layers = f"-L{sh['layers']}" if sh["layers_truncated"] else ""
    return f"{st['model']}{layers}-{st['device']}"


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
    ref = st["reference"]
    lines = [
        f"## cera §4.5 benchmark: {st['model']} on {st['device']} "
        f"(autocast {st['autocast'] or 'off'}, weights {st['weights_dtype']}, {st['threads']} thread{'s' if st['threads'] != 1 else ''})",
        "",
        f"Shapes: {record['shapes']['text']} (greedy decode with KV cache). "
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
    lines += _mixed_table(record.get("mixed") or [])
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


def _mixed_table(rows: list[dict]) -> list[str]:
    """The "N adapters in one batch" workload (cera.bench.mixed), one line per N and method."""
    if not rows:
        return []
    r0 = rows[0]
    lines = [f"### N adapters in one batch (r = {r0['rank']}, batch {r0['batch']}, row i uses adapter i mod N; "
             f"×ref: per-round ratio to PEFT {r0['reference']} serving the same mixed batch)", "",
             "| N | method | prefill ms | ×ref | decode ms | ×ref (time/token) | ref prefill ms | ref decode ms |",
             "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        cells = [str(r["adapters"]), r["method"], _ms(r["prefill_s"]), _x(r["ratios"]["prefill"]),
                 _ms(r["decode_s"]), _x(r["ratios"]["decode"]), _ms(r["prefill_ref_s"]), _ms(r["decode_ref_s"])]
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, ""]


def write(record: dict, bench_dir: str | Path) -> tuple[Path, Path]:
    """Write `<model>[-L<layers>]-<device>.json` and `.md`; returns both paths."""
    base = Path(bench_dir) / stem(record)
    json_path = atomic_write_json(f"{base}.json", record)
    md_path = atomic_write_text(f"{base}.md", markdown(record))
    return json_path, md_path
