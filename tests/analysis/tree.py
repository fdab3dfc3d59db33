"""A small outputs tree in the real run-directory schema, with known values."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

TRAIN = {"max_steps": 150, "batch_size": 16}


def write_run(outputs: Path, method: str, rank: int, seed: int, *, ppl: float | None = None, data="synthetic_instruct",
              dropout=0.1, lr=3e-4, activation="silu", state="done", er=None, auc=None, math_acc=None,
              model="tiny", paper_rank=None, convergence=None, train=None, ended=None, spread=0.0, problems=None,
              suffix="x", model_cfg=None, generators=None) -> Path:
    """One run directory. `spread`: per-sequence NLL ± spread around the pooled value (sequence noise);
    `model_cfg`: more model config keys; `generators`: the synthetic generators' fingerprint in status.json."""
    name = f"{method}{'' if activation == 'silu' else '_' + activation}-r{rank}-do{dropout}-lr{lr}-s{seed}-{data}-{model}-{suffix}"
    run = outputs / "runs" / name
    run.mkdir(parents=True)
    cfg = {"method": {"name": method, "activation": activation}, "rank": rank, "dropout": dropout, "lr": lr,
           "seed": seed, "data": {"name": data}, "model": {"name": model, **(model_cfg or {})}, "train": {**TRAIN, **(train or {})}}
    if paper_rank is not None:
        cfg["paper_rank"] = paper_rank
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))
    (run / "status.json").write_text(json.dumps({"state": state, **({"ended": ended} if ended else {}),
                                                 **({"generators": generators} if generators else {})}))
    if state != "done":
        return run
    results = {"test_ppl": ppl, "trainable_params": rank * 1792, "method": method, "rank": rank}
    if convergence is not None:
        results["convergence"] = convergence
    if math_acc is not None:
        cell = {"value": math_acc, "lo": max(0.0, math_acc - 0.1), "hi": min(1.0, math_acc + 0.1)}
        results["downstream"] = {"tasks": {
            "complex": {"pass@1_greedy": cell, "pass@1": cell, "pass@10": cell, "problems": problems},
            "basic": {"pass@1_greedy": cell, "problems": problems}}}
    (run / "results.json").write_text(json.dumps(results))
    # 4 sequences of 10 tokens whose pooled NLL gives exactly log(ppl) per token
    import math
    nll = [10 * math.log(ppl) + spread * (-1) ** i for i in range(4)]
    (run / "ppl_sequences.json").write_text(json.dumps({"nll_sum": nll, "tokens": [10] * 4}))
    if er is not None:
        (run / "spectra.json").write_text(json.dumps({
            "branch": {"l0.q_proj": {"singular_values": [4.0, 2.0, 1.0], "effective_rank": er, "auc90": auc}},
            "branch_aggregate": {"effective_rank": {"mean": er}, "auc90": {"mean": auc}}}))
    curve = [{"step": s, "val_ppl": ppl * (1 + (150 - s) / 150)} for s in (0, 50, 100, 150)]
    (run / "curve.jsonl").write_text("\n".join(json.dumps(c) for c in curve) + "\n")
    return run


def small_tree(outputs: Path) -> Path:
    """LoRA/CeRA at r16 and r512 (2 seeds), Table 3 arms, two math runs, one failed and one diverged run."""
    for seed, (a, b) in enumerate([(5.0, 4.0), (5.02, 4.02)]):
        write_run(outputs, "lora", 16, seed, ppl=a, er=2.0, auc=1.0)
        write_run(outputs, "lora", 512, seed, ppl=b, er=6.0, auc=3.0)
        write_run(outputs, "cera", 16, seed, ppl=a + 1, er=2.5, auc=1.5)
    write_run(outputs, "cera", 128, 0, ppl=7.0)
    write_run(outputs, "parallel", 128, 0, ppl=6.5)
    write_run(outputs, "cera", 128, 0, ppl=6.9, activation="relu")
    write_run(outputs, "cera", 128, 0, ppl=7.1, dropout=0.0)
    write_run(outputs, "lora", 64, 0, ppl=9.0, data="synthetic_math", math_acc=0.25)
    write_run(outputs, "lora", 512, 0, ppl=8.0, data="synthetic_math", math_acc=0.5)  # the math grid's top
    write_run(outputs, "cera", 512, 0, state="failed")
    write_run(outputs, "cera", 128, 0, activation="identity", state="diverged")
    return outputs
