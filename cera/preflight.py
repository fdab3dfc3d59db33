"""Checks that need more than a value's type, run before anything is trained or written: whether
the output path can be written, the adapter fits the machine's memory, and the sequence length
keeps any example. Each failure is one line naming the bad value and what would work.

Small functions on purpose: the config schema owns plain value checks; these need the filesystem,
the device or the built model.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from torch import nn

#: Bytes per trainable parameter while training: fp32 weight, gradient and AdamW's two moments.
TRAIN_BYTES_PER_PARAM = 16


class PreflightError(ValueError):
    """A config that cannot run on this machine; the message is one line."""


def check_writable(path: str | os.PathLike, key: str) -> None:
    """``path`` exists as a writable directory or can be created: the nearest existing ancestor is a
    directory in which a probe directory can be made (and is removed at once)."""
    path = Path(path).expanduser().absolute()
    existing = next((p for p in (path, *path.parents) if p.exists()), Path("/"))
    if not existing.is_dir():
        raise PreflightError(f"{key}={str(path)!r} is impossible: {existing} is a file, not a directory")
    try:
        os.rmdir(tempfile.mkdtemp(dir=existing, prefix=".cera-probe-"))
    except OSError as err:
        raise PreflightError(f"{key}={str(path)!r} is not writable: cannot create anything in {existing} "
                             f"({err.strerror})") from None


def _targets(targets, name: str) -> bool:
    if isinstance(targets, str):  # PEFT: a string is a regex matched against the full module name
        return re.fullmatch(targets, name) is not None
    return any(name == t or name.endswith("." + t) for t in targets or ())


def adapter_parameters(model: nn.Module, config) -> int:
    """Trainable scalars the adapter will add, from the config and the base model's shapes (no
    allocation: an absurd rank must be refused before it is built). PERA also materialises its
    Poly2 factors, r + r(r+1)/2 wide, which count here as if they were parameters."""
    import peft

    from cera.adapters.pera import PeraConfig, expanded_rank

    r = int(config.r)
    if isinstance(config, peft.LoraConfig):
        width = r
    elif isinstance(config, PeraConfig):
        width = r + expanded_rank(r)
    else:
        width = r
    total = 0
    for name, module in model.named_modules():
        if not name or not _targets(config.target_modules, name):
            continue
        linears = [module] if isinstance(module, nn.Linear) else [m for m in module.modules() if isinstance(m, nn.Linear)]
        if linears:  # a Linear (LoRA/DoRA/CeRA/PERA) or a block of Linears (parallel: first in -> last out)
            total += width * (linears[0].in_features + linears[-1].out_features)
    return total


def device_memory() -> tuple[int, str]:
    """(bytes, what) of the memory training uses: the first GPU's, else this machine's RAM."""
    import torch

    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        return props.total_memory, f"GPU memory ({props.name})"
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"), "RAM"


def check_adapter_fits(model: nn.Module, config, rank_key: str = "rank") -> None:
    """Refuse an adapter whose weights, gradients and optimizer state alone exceed the memory left
    beside the base model (a lower bound on what training needs: activations come on top)."""
    params = adapter_parameters(model, config)
    need = params * TRAIN_BYTES_PER_PARAM
    base = sum(p.numel() * p.element_size() for p in model.parameters())
    memory, what = device_memory()
    if need > memory - base:
        gib = 2**30
        raise PreflightError(
            f"{rank_key}={config.r} cannot fit: the adapter alone ({params:,} scalars) needs "
            f"~{need / gib:.1f} GiB for weights, gradients and AdamW state, but this machine has "
            f"{memory / gib:.1f} GiB of {what}, {base / gib:.1f} GiB of it taken by the base model; lower {rank_key}")


def check_rows_kept(stats: dict[str, dict], max_len: int) -> None:
    """Refuse a sequence length at which a split loses every example (``stats`` from build_sft_dataset)."""
    for split, s in stats.items():
        if s["n"] == 0 and s["dropped"] > 0:
            raise PreflightError(f"train.max_seq_len={max_len} drops all {s['dropped']} {split} examples (every "
                                 "prompt is longer): raise train.max_seq_len")
