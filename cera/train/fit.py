"""One fine-tuning run: paper appendix A defaults on the HF Trainer, resumable from the run dir.

AdamW, cosine schedule with linear warm-up over ``warmup_ratio`` of the steps, bf16 autocast on
CUDA and fp32 on CPU, and identical batch / accumulation / sequence settings for every method
(they come from the shared ``train`` config, never from a method config).
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Mapping

import torch
from transformers import TrainerCallback, TrainingArguments

from cera.io import atomic_write_jsonl
from cera.train.checkpoints import last_good_checkpoint
from cera.runs.record import write_status
from cera.train.sampling import sorted_within_step
from cera.train.preempt import CheckpointOnSignal, Interrupted, PreemptionGuard, local_stop_signals
from cera.train.trackers import tracker_callbacks, trackers
from cera.train.trainer import AdapterTrainer

log = logging.getLogger(__name__)
PRECISIONS = ("auto", "bf16", "fp32")


class CurveWriter(TrainerCallback):
    """Rewrites ``curve.jsonl`` from the Trainer's log history at every log/eval.

    The history is restored from the checkpoint on resume, so the file never holds steps from an
    attempt that was rolled back.
    """

    def __init__(self, path: Path):
        self.path = path

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero:
            return
        rows = []
        for rec in state.log_history:
            row = {k: v for k, v in rec.items() if isinstance(v, (int, float, str))}
            if "eval_loss" in row:
                row["val_ppl"] = math.exp(row["eval_loss"]) if row["eval_loss"] < 700 else float("inf")
            rows.append(row)
        atomic_write_jsonl(self.path, rows)


class Throughput(TrainerCallback):
    """Tokens and seconds of this attempt only (a resumed run restores the earlier token count)."""

    def on_train_begin(self, args, state, control, **kwargs):
        self.tokens0, self.start = int(state.num_input_tokens_seen or 0), time.time()

    def on_train_end(self, args, state, control, **kwargs):
        self.tokens = int(state.num_input_tokens_seen or 0) - self.tokens0
        self.seconds = time.time() - self.start


def use_bf16(precision: str) -> bool:
    if precision not in PRECISIONS:
        raise ValueError(f"train.precision={precision!r} is invalid: choose from {', '.join(PRECISIONS)}")
    if precision == "bf16" and not torch.cuda.is_available():
        raise ValueError("train.precision=bf16 needs CUDA; use auto (fp32 on CPU) or fp32")
    return precision == "bf16" or (precision == "auto" and torch.cuda.is_available())


def training_arguments(cfg: Mapping, lr: float, seed: int, output_dir: Path, eval_on_start: bool) -> TrainingArguments:
    return TrainingArguments(
        output_dir=str(output_dir),
        max_steps=int(cfg["max_steps"]),
        per_device_train_batch_size=int(cfg["batch_size"]),
        per_device_eval_batch_size=int(cfg["eval_batch_size"]),
        gradient_accumulation_steps=int(cfg["grad_accum"]),
        learning_rate=float(lr),
        optim="adamw_torch",
        weight_decay=float(cfg["weight_decay"]),
        max_grad_norm=float(cfg["max_grad_norm"]),
        lr_scheduler_type=cfg["scheduler"],
        warmup_steps=math.ceil(float(cfg["warmup_ratio"]) * int(cfg["max_steps"])),
        logging_steps=int(cfg["log_every"]),
        logging_nan_inf_filter=False,
        eval_strategy="steps",
        eval_steps=int(cfg["eval_every"]),
        eval_on_start=eval_on_start,
        prediction_loss_only=True,
        save_strategy="steps",
        save_steps=int(cfg["save_every"]),
        save_total_limit=int(cfg["keep_checkpoints"]),
        bf16=use_bf16(cfg["precision"]),
        use_cpu=not torch.cuda.is_available(),
        seed=int(seed),
        data_seed=int(seed),
        # sorted_within_step: the row order is made here (fit), the Trainer reads it in order
        train_sampling_strategy="sequential" if cfg.get("sampling", "random") == "sorted_within_step" else "random",
        dataloader_num_workers=int(cfg["num_workers"]),
        remove_unused_columns=False,
        include_num_input_tokens_seen="non_padding",
        report_to=["wandb"] if "wandb" in trackers(cfg) else "none",  # TensorBoard: our callback (run_dir)
        gradient_checkpointing=bool(cfg.get("gradient_checkpointing", False)),
        gradient_checkpointing_kwargs={"use_reentrant": False},  # the frozen base's inputs need no grad
        disable_tqdm=not cfg.get("progress_bar", True),
    )


def fit(model, train_ds, val_ds, collator, cfg: Mapping, lr: float, seed: int, run_dir: Path,
        callbacks: tuple[TrainerCallback, ...] = ()) -> dict:
    """Train (or resume) in ``run_dir/checkpoints``; the curve goes to ``run_dir/curve.jsonl``."""
    ckpt_dir = run_dir / "checkpoints"
    last = last_good_checkpoint(ckpt_dir)  # a corrupt newest checkpoint falls back to the previous one
    if last:
        log.info("resuming from %s", last)
    args = training_arguments(cfg, lr, seed, ckpt_dir, eval_on_start=last is None)
    if cfg.get("sampling", "random") == "sorted_within_step":
        step_rows = args.per_device_train_batch_size * args.gradient_accumulation_steps * args.world_size
        order = sorted_within_step([len(x) for x in train_ds["input_ids"]], step_rows,
                                   args.max_steps * step_rows, int(seed))
        train_ds = train_ds.select(order)  # same rows on every process: the Trainer shards batches in order
    meter = Throughput()
    # SLURM preemption/time-out: checkpoint at once, then requeue; a local SIGTERM/Ctrl-C: checkpoint,
    # record ``interrupted`` and stop (preempt.py)
    guard = PreemptionGuard(extra=tuple(local_stop_signals()))
    trainer = AdapterTrainer(
        model=model,
        args=args,
        train_dataset=train_ds,
        eval_dataset=val_ds,
        data_collator=collator,
        callbacks=[CurveWriter(run_dir / "curve.jsonl"), meter, CheckpointOnSignal(guard),
                   *tracker_callbacks(cfg, run_dir), *callbacks],
    )
    with guard:
        out = trainer.train(resume_from_checkpoint=last)
    if guard.signalled:
        step = trainer.state.global_step
        if trainer.args.should_save:  # rank 0 (the run directory's one writer)
            write_status(run_dir, "interrupted", step=step, signal=guard.received.name if guard.received else None,
                         ended=time.time())
        if guard.local_stop:
            log.warning("interrupted by %s: checkpoint-%d saved in %s; relaunch to resume", guard.received.name,
                        step, ckpt_dir)
            raise Interrupted(guard.received, step)
        log.warning("interrupted: checkpoint-%d saved in %s; handing over to be requeued", step, ckpt_dir)
        guard.hand_over()
    return {
        "steps": trainer.state.global_step,
        "train_loss": out.training_loss,
        "train_seconds": round(meter.seconds, 2),
        "train_tokens": int(trainer.state.num_input_tokens_seen or 0),
        "train_tokens_per_s": round(meter.tokens / meter.seconds, 1) if meter.seconds > 0 else None,
        "resumed_from": Path(last).name if last else None,
        "world_size": trainer.args.world_size,  # processes that trained it (DDP: global batch = batch_size * grad_accum * world_size)
    }
