"""The measurement protocol: warm-up rounds, then interleaved measured rounds, then memory.

One round runs every variant once per workload, round-robin, starting one variant later each round
so that no method always runs first (cold caches) or last. Sample k of every variant comes from
round k, so ratios are taken per round (paired) before the median: drift between rounds cancels.
Warm-up rounds (allocator growth, lazy initialisation, first AdamW state) are discarded. A sample
is the best of `inner` back-to-back calls (as `timeit` advises): on a shared or virtualised machine
preemption only ever adds time, and the minimum filters those spikes out. Peak memory
is measured last, in one extra untimed training step per variant, because the CPU probe (the
profiler) slows the step it watches.
"""

from __future__ import annotations

import gc
import logging
import time
from typing import TypeVar

import torch
from omegaconf import DictConfig, OmegaConf

from cera.bench.settings import check_bench
from cera.bench.timing import autocast_dtype, resident_bytes, resolve_device, step_peak_bytes
from cera.bench.variants import Variant, build_variants
from cera.bench.workloads import timed_inference, timed_train_step, token_batch, train_step
from cera.config import ConfigError

log = logging.getLogger(__name__)
T = TypeVar("T")
METRICS = ("train_step_s", "prefill_s", "decode_s")
ARCHITECTURE_KEYS = ("hidden_size", "num_hidden_layers", "intermediate_size", "num_attention_heads",
                     "num_key_value_heads", "vocab_size", "tie_word_embeddings")


def rotate(items: list[T], k: int) -> list[T]:
    k %= max(len(items), 1)
    return items[k:] + items[:k]


def measure(variants: list[Variant], ids: torch.Tensor, new_tokens: int, amp, warmup: int, repeats: int,
            inner: int = 1) -> dict:
    """{variant name: {metric: [seconds per measured round]}}; each a best of `inner` back-to-back calls."""
    samples = {v.name: {m: [] for m in METRICS} for v in variants}
    trainable = [v for v in variants if v.optimizer is not None]
    for k in range(warmup + repeats):
        keep = k >= warmup
        gc.collect()
        for v in rotate(trainable, k):
            seconds = min(timed_train_step(v.model, v.optimizer, ids, amp) for _ in range(inner))
            if keep:
                samples[v.name]["train_step_s"].append(seconds)
        for v in rotate(variants, k):
            calls = [timed_inference(v.model, ids, new_tokens, amp) for _ in range(inner)]
            prefill, decode = min(c[0] for c in calls), min(c[1] for c in calls)
            if keep:
                samples[v.name]["prefill_s"].append(prefill)
                samples[v.name]["decode_s"].append(decode)
        log.info("round %d/%d done (%s)", k + 1, warmup + repeats, "measured" if keep else "warm-up")
    return samples


def measure_memory(variants: list[Variant], ids: torch.Tensor, amp) -> dict:
    """{variant name: peak training bytes or None}, see cera.bench.timing for the definition."""
    out = {}
    for v in variants:
        if v.optimizer is None:
            continue
        gc.collect()
        step = step_peak_bytes(lambda v=v: train_step(v.model, v.optimizer, ids, amp), ids.device)
        out[v.name] = None if step is None else resident_bytes(v.model, v.optimizer) + step
    return out


def run_bench(cfg: DictConfig) -> dict:
    """Check the config, load the backbone, measure every variant; returns the raw measurements."""
    from cera.models import load_model

    check_bench(cfg)
    try:
        device = resolve_device(cfg.device)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    amp = autocast_dtype(cfg.dtype, device)
    model_cfg = OmegaConf.to_container(cfg.model, resolve=True)
    started = time.perf_counter()
    base, _ = load_model(model_cfg, cfg.paths.cache_dir, device)  # init=random builds on the device
    shapes = cfg.shapes
    limit = getattr(base.config, "max_position_embeddings", None)
    if limit is not None and shapes.seq_len + shapes.decode_tokens > limit:
        raise ConfigError(f"shapes.seq_len + shapes.decode_tokens = {shapes.seq_len + shapes.decode_tokens} "
                          f"exceeds the model's max_position_embeddings={limit}")
    base = base.to(device)
    variants = build_variants(cfg, base)
    ids = token_batch(base.config.vocab_size, shapes.batch, shapes.seq_len, cfg.seed, device)
    log.info("%d variants, %d warm-up + %d measured rounds on %s", len(variants), cfg.warmup, cfg.repeats, device)
    samples = measure(variants, ids, shapes.decode_tokens, amp, cfg.warmup, cfg.repeats, cfg.inner)
    memory = measure_memory(variants, ids, amp) if cfg.memory else {}
    mixed = []
    if cfg.mixed.adapters:
        from cera.bench.mixed import measure_mixed

        mixed_ids = token_batch(base.config.vocab_size, cfg.mixed.batch, shapes.seq_len, cfg.seed, device)
        mixed = measure_mixed(cfg, base, mixed_ids, amp)
    return {
        "variants": variants,
        "samples": samples,
        "memory": memory,
        "mixed": mixed,
        "device": device,
        "amp": amp,
        "weights_dtype": str(next(base.parameters()).dtype).removeprefix("torch."),
        "architecture": {key: getattr(base.config, key, None) for key in ARCHITECTURE_KEYS},
        "threads": torch.get_num_threads(),
        "measure_seconds": time.perf_counter() - started,
    }
