"""The body of one job: validate, skip-if-done, build, train/resume, evaluate, record.

Ordering is the contract: everything that can reject the config (values, data files, data rows,
model path, target modules) runs before the run directory is created, so bad input leaves nothing
behind. After that point every outcome — done, diverged, failed — is written into the run directory.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import time
import traceback
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from cera.cluster.distributed import is_main_process, setup_distributed
from cera.config import lr_scale
from cera.io import atomic_write_json, atomic_write_text
from cera.provenance import provenance
from cera.preflight import PreflightError, check_writable
from cera.runs.lock import RunLock
from cera.runs.naming import cell_id, generators_of, run_dir_for, run_id
from cera.runs.record import read_run, write_status

log = logging.getLogger(__name__)


class UsageError(ValueError):
    """Bad input detected before any run directory exists; printed as one line, exit code 2."""


def _usage_errors() -> tuple[type[BaseException], ...]:
    from cera.adapters import AdapterError
    from cera.config import ConfigError
    from cera.data import DataError
    from cera.eval.config import EvalError
    from cera.models.load import ModelError

    from cera.preflight import PreflightError

    return ConfigError, DataError, ModelError, AdapterError, EvalError, PreflightError


def _prepare(cfg: DictConfig):
    """All the checks and builds that may reject the config; no file is written under runs/."""
    from transformers import set_seed

    from cera.adapters import attach
    from cera.config import validate
    from cera.data import SFTCollator, build_sft_dataset, load_splits
    from cera.eval.config import check_eval_config
    from cera.models import load_model
    from cera.preflight import check_adapter_fits, check_rows_kept

    adapter_cfg = validate(cfg)  # also PEFT's LoraConfig fields that PEFT accepts unchecked (lora_alpha)
    check_eval_config(cfg.eval)  # a bad eval setting must not surface only after training
    splits = load_splits(OmegaConf.to_container(cfg.data, resolve=True))
    model, tokenizer = load_model(OmegaConf.to_container(cfg.model, resolve=True), cfg.paths.cache_dir)
    check_adapter_fits(model, adapter_cfg)  # before an absurd rank is allocated
    max_len = cfg.train.max_seq_len
    data = {name: build_sft_dataset(tokenizer, getattr(splits, name), max_len) for name in ("train", "val", "test")}
    check_rows_kept({name: stats for name, (_, stats) in data.items()}, max_len)
    set_seed(cfg.seed)  # after load_model: a first run that builds the backbone must not shift the init
    model = attach(model, adapter_cfg)
    return model, tokenizer, data, SFTCollator(tokenizer.pad_token_id)


def _summary_row(run_dir: Path) -> dict:
    status, results, problem = read_run(run_dir)
    if problem:
        return {"run": run_dir.name, "state": "corrupt", "error": problem}
    return {"run": run_dir.name, "state": status.get("state", "missing"), **results}


def execute(cfg: DictConfig) -> dict:
    """Run one job under the run directory's lock (``RunBusy`` if another live process holds it)."""
    run_dir = run_dir_for(cfg)
    try:
        check_writable(cfg.paths.runs_dir, "paths.runs_dir")
    except PreflightError as exc:
        raise UsageError(str(exc)) from None
    # DDP: rank 0 alone holds the lock (and writes); the other ranks of its job train alongside it
    with RunLock(run_dir) if is_main_process() else contextlib.nullcontext():
        return _execute_locked(cfg, run_dir)


def _execute_locked(cfg: DictConfig, run_dir: Path) -> dict:
    previous, _, problem = read_run(run_dir)
    if problem:  # re-running repairs it: training resumes from the last good checkpoint
        log.warning("%s; running %s again", problem, run_dir.name)
    elif previous.get("state") == "done" and not cfg.force:
        log.info("skip %s: already done (force=true re-runs it)", run_dir.name)
        return _summary_row(run_dir)
    try:
        model, tokenizer, data, collator = _prepare(cfg)
    except _usage_errors() as exc:
        raise UsageError(str(exc).splitlines()[0]) from None
    if cfg.force and run_dir.exists() and is_main_process():  # keep, never delete, what a finished run wrote
        aside = run_dir.parent / ".replaced" / f"{run_dir.name}-{time.strftime('%Y%m%d-%H%M%S')}"
        aside.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(run_dir), aside)
        log.info("force=true: moved the previous %s to %s", run_dir.name, aside)
    return _train_and_record(cfg, run_dir, model, tokenizer, data, collator)


def _train_and_record(cfg, run_dir: Path, model, tokenizer, data, collator) -> dict:
    from cera.adapters import method_of, save_adapter
    from cera.adapters.api import trainable_parameters
    from cera.train import DivergedError, fit, perplexity

    setup_distributed()  # DDP (tasks_per_node > 1): the Trainer joins the process group (cera/cluster)
    main = is_main_process()  # every rank trains, only rank 0 writes the run directory
    trainable = trainable_parameters(model)
    total = sum(p.numel() for p in model.parameters())
    if main:
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(run_dir / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))
        data_stats = {name: stats for name, (_, stats) in data.items()}
        generators = {"generators": fp} if (fp := generators_of(cfg)) else {}  # cera.evaluate checks it
        write_status(run_dir, "running", run_id=run_id(cfg), method=method_of(model), arm=cfg.get("arm_name"),
                     started=time.time(), trainable_params=trainable, data=data_stats, **generators, **provenance())
    start = time.time()
    try:
        train_stats = fit(model, data["train"][0], data["val"][0], collator, cfg.train, cfg.lr, cfg.seed, run_dir)
        if not main:
            return {"run": run_dir.name, "state": "trained (rank > 0)"}
        save_adapter(model, run_dir / "adapter")
        test = {"ppl": None, "nll": None, "tokens": 0, "sequences": 0}
        if cfg.eval.test_ppl:
            test = perplexity(model, data["test"][0], collator, batch_size=cfg.train.eval_batch_size)
            atomic_write_json(run_dir / "ppl_sequences.json", test.pop("per_sequence"))
        results = {
            "method": method_of(model), "arm": cfg.get("arm_name"), "rank": cfg.rank,
            "paper_rank": cfg.get("paper_rank"), "dropout": cfg.dropout, "lr": cfg.lr,
            "paper_lr": cfg.lr / lr_scale(cfg.model), "seed": cfg.seed, "data": cfg.data.name, "model": cfg.model.name,
            "cell_id": cell_id(cfg), "budget": cfg.train.max_steps,
            "test_ppl": test["ppl"], "test_nll": test["nll"], "test_tokens": test["tokens"],
            "test_sequences": test["sequences"], "trainable_params": trainable, "total_params": total,
            **train_stats, "wall_seconds": round(time.time() - start, 2),
        }
        if cfg.eval.get("tasks") or cfg.eval.get("spectra"):  # exact match, pass@k, spectra (cera/eval/README.md)
            from cera.eval.run_eval import evaluate_run

            results["downstream"] = evaluate_run(cfg, model, tokenizer, run_dir)
        atomic_write_json(run_dir / "results.json", results)
        write_status(run_dir, "done", ended=time.time(), elapsed=results["wall_seconds"])
        (run_dir / "error.txt").unlink(missing_ok=True)  # an earlier failed attempt's traceback no longer applies
        from cera.runs.convergence import refresh

        refresh(run_dir.parent, cell=results["cell_id"], held=run_dir)  # this run may complete a budget/2x pair
        log.info("%s done: test PPL %s (%d trainable params, %.0fs)", run_dir.name,
                 f"{test['ppl']:.3f}" if test["ppl"] else "not measured", trainable, results["wall_seconds"])
    except DivergedError as exc:
        if not main:
            raise
        write_status(run_dir, "diverged", ended=time.time(), error=str(exc), step=exc.step)
        log.error("%s diverged: %s", run_dir.name, exc)
        return {**_summary_row(run_dir), "error": str(exc)}
    except KeyboardInterrupt:  # a second Ctrl-C, or one outside training: the last checkpoint stands
        if main:
            write_status(run_dir, "interrupted", ended=time.time(), signal="SIGINT")
        raise
    except Exception as exc:
        if not main:
            raise
        atomic_write_text(run_dir / "error.txt", traceback.format_exc())
        write_status(run_dir, "failed", ended=time.time(), error=f"{type(exc).__name__}: {exc}")
        log.error("%s failed: %s (traceback in %s)", run_dir.name, exc, run_dir / "error.txt")
        raise
    return _summary_row(run_dir)
