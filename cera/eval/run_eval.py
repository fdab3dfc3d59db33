"""Evaluate one trained run: downstream exact match / pass@k and adapter spectra, per ``cfg.eval``.

Called at the end of training (``cera.runs.execute``) and by ``python -m cera.evaluate <run_dir>``
on a finished run. Writes into the run directory:

    eval/            generated task data (jsonl) and lm-eval task files, kept for inspection
    samples.jsonl    one row per problem: task, doc_id, prompt, target, greedy generation and its
                     correctness, the n sampled generations, their correctness, n, c (and meta)
    spectra.json     per-layer singular values, ER, AUC-90 (+ ΔW for lora/dora/pera), aggregates
    downstream.json  the returned summary: per task pass@1 (greedy), pass@k, 95% CIs, case study
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

from cera.config import plain
from cera.eval.config import check_eval_config
from cera.io import atomic_write_json, atomic_write_jsonl

log = logging.getLogger(__name__)


def finite(obj):
    """NaN/inf -> None, recursively, so the JSON files stay strict JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj


def run_spectra(cfg, model, tokenizer, eval_cfg: dict, run_dir: Path) -> dict:
    from cera.eval.probe import measure_spectra, probe_batch, probe_examples

    examples = probe_examples(plain(cfg.data), eval_cfg["probe_size"])
    record = measure_spectra(model, probe_batch(tokenizer, examples, int(cfg.train.max_seq_len)), eval_cfg["spectra"])
    atomic_write_json(run_dir / "spectra.json", finite(record))
    return {"file": "spectra.json", "probe": record["probe"], "options": record["options"],
            "summary": {k: v for k, v in record["summary"].items() if k != "singular_values"},
            "branch": record["branch_aggregate"], "delta_weight": record["delta_weight_aggregate"]}  # fmt: skip


def run_downstream(cfg, model, tokenizer, eval_cfg: dict, run_dir: Path) -> dict:
    from cera.eval.downstream import evaluate_tasks
    from cera.eval.lmeval_tasks import load_tasks, prepare_tasks

    eval_dir = run_dir / "eval"
    specs = prepare_tasks(eval_cfg, int(cfg.data.get("seed") or 0), eval_dir)
    summaries, rows = evaluate_tasks(model, tokenizer, load_tasks(specs, eval_dir), eval_cfg)
    atomic_write_jsonl(run_dir / "samples.jsonl", finite(rows))
    return summaries


def evaluate_run(cfg, model, tokenizer, run_dir: str | Path) -> dict | None:
    """Run what ``cfg.eval`` asks for on ``model`` (adapter attached); None if it asks for nothing."""
    eval_cfg = check_eval_config(cfg.eval)
    if not eval_cfg["tasks"] and not eval_cfg["spectra"]["enabled"]:
        return None
    run_dir = Path(run_dir)
    start = time.time()
    out: dict = {"tasks": {}, "spectra": None}
    if eval_cfg["spectra"]["enabled"]:
        out["spectra"] = run_spectra(cfg, model, tokenizer, eval_cfg, run_dir)
    if eval_cfg["tasks"]:
        out["tasks"] = run_downstream(cfg, model, tokenizer, eval_cfg, run_dir)
        out["samples"] = "samples.jsonl"
    from importlib.metadata import version

    out.update(config={k: v for k, v in eval_cfg.items() if k != "test_ppl"}, lm_eval_version=version("lm_eval"),
               seconds=round(time.time() - start, 2))  # fmt: skip
    out = finite(out)
    atomic_write_json(run_dir / "downstream.json", out)
    log.info("%s evaluated in %.0fs (%s)", run_dir.name, out["seconds"], ", ".join(out["tasks"]) or "spectra only")
    return out
