"""§4.5 benchmark: the cost of each adapter relative to unmerged LoRA at the same rank.

    python -m cera.bench                      # conf/bench.yaml; table printed and written to outputs/bench/
    record = benchmark(cfg)                   # the same from Python, cfg composed from conf/bench.yaml

Modules: `settings` (config checks), `variants` (models sharing one base), `workloads` (train step,
prefill, decode), `timing` (CPU/CUDA timers and memory probes), `runner` (interleaved protocol),
`summary` (medians, paired ratios, targets), `report` (JSON + Markdown). See README.md here.
"""

from __future__ import annotations

import time

from omegaconf import DictConfig


def benchmark(cfg: DictConfig) -> dict:
    """Measure, write `<model>[-L<layers>]-<device>.json`/`.md` into `paths.bench_dir`; returns the JSON record
    with the Markdown table under the extra key `markdown` and the file paths under `files`."""
    from cera.bench.report import build_record, markdown, write
    from cera.bench.runner import run_bench

    started = time.perf_counter()
    raw = run_bench(cfg)
    record = build_record(cfg, raw, time.perf_counter() - started)
    json_path, md_path = write(record, cfg.paths.bench_dir)
    return {**record, "markdown": markdown(record), "files": [str(json_path), str(md_path)]}


__all__ = ["benchmark"]
