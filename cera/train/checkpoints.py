"""Pick the checkpoint to resume from: the newest one that reads back whole.

A checkpoint can be half-written (a job killed while the Trainer saved it) or damaged later. Resuming
from it would crash, or worse, continue from garbage. Each ``checkpoint-N`` is checked newest first:
the adapter (readable, matching its content hash), ``trainer_state.json`` (a JSON object with
``global_step``), and ``optimizer.pt`` / ``scheduler.pt`` / ``rng_state*.pth`` (complete torch
archives, every member matching its CRC; nothing is unpickled). A bad one is moved to
``checkpoints/.corrupt/`` (kept, and out of the Trainer's sight) with a logged reason; with none
left the run starts from scratch.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

from cera.integrity import CorruptFile, check_torch_archive, load_json

log = logging.getLogger(__name__)
REQUIRED = ("trainer_state.json", "optimizer.pt", "scheduler.pt")


def checkpoint_problem(path: Path) -> str | None:
    """Why ``path`` cannot be resumed from (one line naming the file), or None if it is whole."""
    from cera.adapters import AdapterError
    from cera.adapters.checkpoint import read_adapter_tensors

    for name in REQUIRED:
        if not (path / name).is_file():
            return f"{path / name} is missing"
    try:
        load_json(path / "trainer_state.json", dict, required=("global_step",))
        for archive in [path / "optimizer.pt", path / "scheduler.pt", *sorted(path.glob("rng_state*.pth"))]:
            check_torch_archive(archive)
        read_adapter_tensors(path)
    except (CorruptFile, AdapterError) as exc:
        return str(exc)
    return None


def _step(path: Path) -> int:
    return int(path.name.split("-")[1])


def last_good_checkpoint(ckpt_dir: Path) -> str | None:
    """The newest whole ``checkpoint-N`` under ``ckpt_dir`` (None: start from scratch); corrupt newer
    ones are moved aside to ``ckpt_dir/.corrupt/`` and logged."""
    if not ckpt_dir.is_dir():
        return None
    found = sorted((p for p in ckpt_dir.iterdir() if p.is_dir() and p.name.startswith("checkpoint-")
                    and p.name.split("-")[1].isdigit()), key=_step, reverse=True)
    for i, path in enumerate(found):
        problem = checkpoint_problem(path)
        if problem is None:
            return str(path)
        aside = ckpt_dir / ".corrupt" / f"{path.name}-{time.strftime('%Y%m%d-%H%M%S')}"
        aside.parent.mkdir(exist_ok=True)
        shutil.move(str(path), aside)
        fallback = found[i + 1].name if i + 1 < len(found) else "nothing: the run restarts from scratch"
        log.warning("%s; not resuming from %s (moved to %s), falling back to %s", problem, path.name, aside, fallback)
    return None
