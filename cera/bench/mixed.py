"""Workload "N adapters in one batch" (multi-tenant serving, the setting of the paper's §4.5).

One model carries N named adapters of one method; every prefill and decode step serves a batch
whose row i uses adapter i mod N (PEFT's `adapter_names`). CeRA's mixed batch is compared with
PEFT LoRA's at equal rank, interleaved round-robin, as per-round paired ratios like the rest of
the benchmark. A merged adapter cannot serve a mixed batch, so both methods run unmerged.
"""

from __future__ import annotations

import logging

import torch
from torch import nn

from cera.bench.runner import rotate
from cera.bench.settings import adapter_settings
from cera.bench.summary import paired, spread
from cera.bench.variants import shared_copy
from cera.bench.workloads import timed_inference

log = logging.getLogger(__name__)


def with_adapters(cfg, base: nn.Module, method: str, rank: int, count: int) -> nn.Module:
    """A shared copy of `base` with `count` adapters a0, a1, ... of `method` (random, non-zero)."""
    from cera.adapters import adapter_state_dict, attach

    adapter_cfg, _ = adapter_settings(cfg, method, rank)
    torch.manual_seed(cfg.seed)
    model = attach(shared_copy(base), adapter_cfg)
    for k in range(1, count):
        model.add_adapter(f"a{k}", adapter_settings(cfg, method, rank)[0])
    with torch.no_grad():  # the zero-initialised factor would make every adapter the same (and trivial)
        for name in row_names(count, count):
            model.set_adapter(name)
            for tensor in adapter_state_dict(model).values():
                tensor.normal_(0, 0.02)
    return model.eval()


def row_names(count: int, batch: int) -> list[str]:
    return ["default" if i % count == 0 else f"a{i % count}" for i in range(batch)]


def measure_mixed(cfg, base: nn.Module, ids: torch.Tensor, amp) -> list[dict]:
    """[{adapters, rank, batch, method, reference, prefill, decode}]: spreads of seconds and paired ratios."""
    mixed, reference = cfg.mixed, cfg.reference
    methods = [m for m in mixed.methods if m != reference]
    rows = []
    for count in mixed.adapters:
        names = row_names(count, ids.shape[0])
        models = {m: with_adapters(cfg, base, m, mixed.rank, count) for m in [reference, *methods]}
        samples = {m: {"prefill": [], "decode": []} for m in models}
        for k in range(cfg.warmup + cfg.repeats):
            for m in rotate(list(models), k):
                calls = [timed_inference(models[m], ids, cfg.shapes.decode_tokens, amp, adapter_names=names)
                         for _ in range(cfg.inner)]  # fmt: skip
                if k >= cfg.warmup:
                    samples[m]["prefill"].append(min(c[0] for c in calls))
                    samples[m]["decode"].append(min(c[1] for c in calls))
        for m in methods:
            rows.append({
                "adapters": count, "rank": mixed.rank, "batch": ids.shape[0], "method": m, "reference": reference,
                **{f"{w}_s": spread(samples[m][w]) for w in ("prefill", "decode")},
                **{f"{w}_ref_s": spread(samples[reference][w]) for w in ("prefill", "decode")},
                "ratios": {w: paired(samples[m][w], samples[reference][w]) for w in ("prefill", "decode")},
            })  # fmt: skip
        log.info("mixed batch: %d adapters done", count)
        del models
    return rows
