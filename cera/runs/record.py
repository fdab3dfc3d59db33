"""The status record of a run (``status.json``), written atomically at every state change.

States: ``running`` (or interrupted: a job that died leaves ``running`` and a stale heartbeat),
``done``, ``failed`` (with ``error.txt`` holding the traceback) and ``diverged`` (non-finite loss).
"""

from __future__ import annotations

import time
from pathlib import Path

from cera.io import atomic_write_json, read_json

STATES = ("running", "done", "failed", "diverged")
STATUS_FILE = "status.json"


def read_status(run_dir: str | Path) -> dict | None:
    return read_json(Path(run_dir) / STATUS_FILE)


def write_status(run_dir: str | Path, state: str, **fields) -> dict:
    if state not in STATES:
        raise ValueError(f"state={state!r} is invalid: choose from {', '.join(STATES)}")
    record = read_status(run_dir) or {}
    now = time.time()
    record.update(fields)
    record["state"] = state
    record["updated"] = now
    record.setdefault("history", []).append({"state": state, "time": now})
    atomic_write_json(Path(run_dir) / STATUS_FILE, record)
    return record
