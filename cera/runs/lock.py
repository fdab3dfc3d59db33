"""One writer per run directory: an exclusive ``flock`` held by the job for its whole life.

The lock file is ``<runs_dir>/.locks/<run id>.lock`` (beside the run directory, not in it, so that
``force=true`` can move a finished directory aside without moving the lock with it). It holds the
holder's pid, host and SLURM job, so a second launch can say who is writing. The kernel drops the
lock when its holder dies, however it dies (SIGKILL, OOM, node reboot on NFS after lease expiry), so
a stale file never blocks a relaunch; the file itself is removed on a clean release.

Why ``fcntl.flock`` and not the ``filelock`` package: ``filelock`` truncates the file when it opens
it, which would erase the holder's identity that the loser needs to report. Which filesystems honour
the lock across machines is in the README ("Reliability").
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import time
from pathlib import Path

log = logging.getLogger(__name__)
LOCKS = ".locks"


class RunBusy(RuntimeError):
    """Another live process holds the run directory; the message is one line naming it."""


def lock_path(run_dir: Path) -> Path:
    return run_dir.parent / LOCKS / f"{run_dir.name}.lock"


def holder_identity() -> dict:
    env = os.environ
    job = env.get("SLURM_ARRAY_JOB_ID") and f"{env['SLURM_ARRAY_JOB_ID']}_{env.get('SLURM_ARRAY_TASK_ID', '')}"
    return {"pid": os.getpid(), "host": socket.gethostname(), "job": job or env.get("SLURM_JOB_ID"),
            "since": time.time()}


def describe_holder(path: Path) -> str:
    try:
        h = json.loads(path.read_text(encoding="utf-8"))
        who = f"pid {h['pid']} on {h['host']}" + (f" (SLURM job {h['job']})" if h.get("job") else "")
        return who + f" since {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(h['since']))}"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process (its identity is not written yet)"


class RunLock:
    """Context manager: hold the run directory's lock or raise ``RunBusy`` at once (never waits)."""

    def __init__(self, run_dir: str | os.PathLike):
        self.run_dir = Path(run_dir)
        self.path = lock_path(self.run_dir)
        self.fd: int | None = None

    def acquire(self) -> "RunLock":
        for _ in range(100):  # retried only when a releasing holder removes the file under us
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except FileNotFoundError:  # a folder removed between mkdir and open by a releasing job
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise RunBusy(f"run {self.run_dir.name} is being written by {describe_holder(self.path)}; "
                              f"wait for it to end or stop it (lock: {self.path})") from None
            except OSError as err:  # e.g. Lustre mounted with noflock, NFS without lockd: ENOLCK/ENOSYS
                os.close(fd)
                log.warning("cannot lock %s (%s): this filesystem does not support flock, so two launches of "
                            "run %s are not kept apart (README: Reliability)", self.path, err.strerror, self.run_dir.name)
                return self
            try:  # the file we locked may have been unlinked by its previous holder meanwhile
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                os.ftruncate(fd, 0)
                os.write(fd, (json.dumps(holder_identity()) + "\n").encode())
                self.fd = fd
                return self
            os.close(fd)
        raise RunBusy(f"run {self.run_dir.name}: could not take the lock {self.path}")

    def release(self) -> None:
        if self.fd is None:
            return
        self.path.unlink(missing_ok=True)  # unlink first, under the lock: see the inode check above
        os.close(self.fd)  # closing the only descriptor drops the flock
        self.fd = None
        for folder in (self.path.parent, self.run_dir.parent):  # leave nothing behind if nothing else is there
            try:
                folder.rmdir()
            except OSError:
                break

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
