"""A Trainer that checkpoints only adapter weights and stops on a non-finite loss.

Why a subclass: a full-model checkpoint of Llama-3-8B is 16 GB per save, while the adapter is
tens of MB; and the stock Trainer logs NaN losses away (``logging_nan_inf_filter``) and trains on.
The only private Trainer API we rely on is ``_load_from_checkpoint`` (resume); it is overridden
here and nowhere else, and the resume test in tests/train exercises it.
"""

from __future__ import annotations

import math

import torch
from transformers import Trainer

from cera.adapters import load_adapter, save_adapter


class DivergedError(RuntimeError):
    """Training produced a non-finite loss; the run is recorded as ``diverged``."""

    def __init__(self, step: int, loss: float):
        super().__init__(f"non-finite training loss {loss} at step {step}")
        self.step, self.loss = step, loss


class AdapterTrainer(Trainer):
    def training_step(self, model, inputs, num_items_in_batch=None) -> torch.Tensor:
        loss = super().training_step(model, inputs, num_items_in_batch)
        value = float(loss.detach())
        if not math.isfinite(value):
            raise DivergedError(self.state.global_step + 1, value)
        return loss

    def save_model(self, output_dir: str | None = None, _internal_call: bool = False) -> None:
        if self.args.should_save:
            save_adapter(self.accelerator.unwrap_model(self.model), output_dir or self.args.output_dir)

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model=None) -> None:
        load_adapter(self.accelerator.unwrap_model(model or self.model), resume_from_checkpoint)
