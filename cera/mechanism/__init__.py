"""The mechanism experiment: the paper's "linear ceiling" tested on one frozen layer (issue 10 §5).

    python -m cera.mechanism                # conf/mechanism.yaml; writes outputs/mechanism/mechanism.json
    record = run_mechanism(cfg)             # the same from Python, cfg composed from conf/mechanism.yaml

A frozen Linear W0 must learn y = W0 x + Δ(x) (`task`: a non-linear Δ and a rank-k linear control).
Every selected variant (LoRA, CeRA and its ablations; `fit`) fits Δ at every rank and seed with
r·(d_in + d_out) trainable parameters; the row records the held-out relative residual ‖ŷ − y‖²/‖Δ‖²
and whether the fit converged. `linear_optimum` rows give the closed-form best rank-r linear map:
the ceiling a linear adapter cannot pass. Why each setting is what it is: README.md here.
"""

from __future__ import annotations

import time
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

SCHEMA_VERSION = 2  # 2: rows carry objective_half, objective_end, gain (the per-fit rule) instead of residual_train_at_N
ROW_KEYS = ("target", "variant", "method", "activation", "dropout", "rank", "params", "seed",
            "residual_test", "residual_train", "objective_half", "objective_end", "gain", "steps", "converged")


def run_mechanism(cfg: DictConfig, progress: bool = True) -> dict:
    """Run every (target, seed, variant, rank) fit; write and return the mechanism.json record."""
    import torch
    from tqdm.auto import tqdm

    from cera.io import atomic_write_json
    from cera.mechanism.fit import fit
    from cera.mechanism.settings import check_mechanism
    from cera.mechanism.task import linear_optimum, make_task
    from cera.provenance import provenance

    variants = check_mechanism(cfg)
    torch.set_num_threads(cfg.threads)
    started = time.perf_counter()
    rows, optimum = [], []
    jobs = [(t, s, v, r) for t in cfg.targets for s in range(cfg.seeds) for v in variants[t] for r in cfg.ranks]
    tasks = {}
    bar = tqdm(jobs, desc="mechanism fits", disable=not progress, unit="fit")
    for target, seed, variant, rank in bar:
        bar.set_postfix_str(f"{target} s{seed} {variant.name} r{rank}")
        if (target, seed) not in tasks:
            task = tasks[(target, seed)] = make_task(target, cfg.d, cfg.n_train, cfg.n_test, seed,
                                                     width=cfg.target_width, rank=cfg.linear_rank)
            optimum += [{"target": target, "rank": r, "seed": seed, **linear_optimum(task, r)} for r in cfg.ranks]
        rows.append(fit(tasks[(target, seed)], variant, rank, seed, cfg.steps, cfg.max_steps, cfg.lr,
                        cfg.converge_tol, cfg.solved_floor))
    record = {
        "schema_version": SCHEMA_VERSION,
        "experiment": "linear ceiling on one frozen layer: relative held-out residual ‖ŷ − y‖²/‖Δ‖² "
                      "of each adapter vs rank at equal parameters r·(d_in + d_out)",
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "wall_seconds": time.perf_counter() - started,
        "config": OmegaConf.to_container(cfg, resolve=True),
        "provenance": provenance(),
        "rows": rows,
        "linear_optimum": optimum,
    }
    path = atomic_write_json(Path(cfg.paths.mechanism_dir) / "mechanism.json", record)
    return {**record, "file": str(path)}


__all__ = ["ROW_KEYS", "SCHEMA_VERSION", "run_mechanism"]
