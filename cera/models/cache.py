"""Build a cached directory once, even when several jobs ask for it at the same time.

Shared by every backbone that is expensive to produce (the embedded pre-trained tiny Llama, the
dequantized GGUF models): the first job takes a file lock, builds into a temp directory next to the
target and renames it into place; jobs that waited on the lock find it done and return at once. A
directory counts as built only when its marker file exists, so a job killed mid-build leaves
nothing that a later job would mistake for a finished build.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock


def build_once(target: Path, marker: str, build: Callable[[Path], None]) -> Path:
    """Return ``target``, first calling ``build(tmp_dir)`` under a lock unless ``target/marker`` exists.

    ``build`` must write ``marker`` last; the finished temp directory is renamed to ``target``.
    """
    if (target / marker).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if (target / marker).is_file():  # another job built it while we waited
            return target
        for stale in target.parent.glob(f".{target.name}.*"):  # left by a job killed mid-build
            shutil.rmtree(stale, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
        try:
            build(tmp)
            if not (tmp / marker).is_file():
                raise RuntimeError(f"build of {target.name} wrote no {marker}")
            if target.exists():  # a half-built leftover from a killed job
                shutil.rmtree(target)
            os.replace(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return target
