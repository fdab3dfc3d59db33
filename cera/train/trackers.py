"""`train.report_to`: experiment trackers that work offline (TensorBoard; W&B in offline mode).

TensorBoard event files go to `<run>/tensorboard` (our TensorBoardCallback with its own writer, so
nothing lands among the checkpoints); W&B runs offline unless WANDB_MODE says otherwise, with its
files under `<run>/wandb` (`wandb sync` uploads them later). Both are optional packages
(`pip install -e .[logging]`); asking for a missing one is a one-line error before any work.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Mapping

from transformers import TrainerCallback

TRACKERS = ("tensorboard", "wandb")
PACKAGES = {"tensorboard": "tensorboard", "wandb": "wandb"}


def trackers(train: Mapping) -> list[str]:
    """`train.report_to` as a list of tracker names ("none" and [] mean none)."""
    value = train.get("report_to") or []
    names = [value] if isinstance(value, str) else list(value)
    return [n for n in names if n != "none"]


def check_trackers(train: Mapping) -> None:
    """ValueError (one line) for an unknown tracker or one whose package is not installed."""
    for name in trackers(train):
        if name not in TRACKERS:
            raise ValueError(f"train.report_to: {name!r} is not a tracker: choose from {', '.join(TRACKERS)} "
                             "(a list, e.g. [tensorboard])")
        if importlib.util.find_spec(PACKAGES[name]) is None:
            raise ValueError(f"train.report_to: {name} needs the {PACKAGES[name]} package: pip install -e .[logging]")


def tracker_callbacks(train: Mapping, run_dir: Path) -> list[TrainerCallback]:
    """The callbacks (TensorBoard) and environment (W&B offline) for `train.report_to`."""
    callbacks: list[TrainerCallback] = []
    names = trackers(train)
    if "tensorboard" in names:
        from torch.utils.tensorboard import SummaryWriter
        from transformers.integrations import TensorBoardCallback

        callbacks.append(TensorBoardCallback(SummaryWriter(log_dir=str(run_dir / "tensorboard"))))
    if "wandb" in names:  # the Trainer adds its WandbCallback (report_to); it reads these variables
        os.environ.setdefault("WANDB_MODE", "offline")
        os.environ.setdefault("WANDB_DIR", str(run_dir))
    return callbacks
