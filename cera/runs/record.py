"""The status record of a run (``status.json``), written atomically at every state change.

States: ``running``, ``done``, ``failed`` (with ``error.txt`` holding the traceback), ``diverged``
(non-finite loss) and ``interrupted`` (SIGTERM/Ctrl-C/preemption: a checkpoint was saved, a
relaunch resumes). A job that died without a word leaves ``running`` and a stale heartbeat.
Readers show a run whose files cannot be read back as ``corrupt`` (``read_run``), never as done.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from cera.integrity import CorruptFile, read_json_checked
from cera.io import atomic_write_json

log = logging.getLogger(__name__)
STATES = ("running", "done", "failed", "diverged", "interrupted")
STATUS_FILE = "status.json"
RESULTS_FILE = "results.json"


def read_status(run_dir: str | Path) -> dict | None:
    """The status record, ``None`` if absent; ``CorruptFile`` if it is not a JSON object with a state."""
    return read_json_checked(Path(run_dir) / STATUS_FILE, dict, required=("state",))


def read_run(run_dir: str | Path) -> tuple[dict, dict, str | None]:
    """(status, results, problem) for readers that must not fail on one bad run: ``problem`` is the
    one-line reason when status.json or results.json is corrupt, or a done run has no results."""
    run_dir = Path(run_dir)
    try:
        status = read_status(run_dir) or {}
        results = read_json_checked(run_dir / RESULTS_FILE, dict) or {}
    except CorruptFile as exc:
        return {}, {}, str(exc)
    if status and status["state"] not in STATES:
        return {}, {}, f"{run_dir / STATUS_FILE} is corrupt: state {status['state']!r} is not one of {', '.join(STATES)}"
    ppl = results.get("test_ppl")
    if isinstance(ppl, bool) or not isinstance(ppl, (int, float, type(None))):
        return status, {}, f"{run_dir / RESULTS_FILE} is corrupt: test_ppl={ppl!r} is not a number"
    if status.get("state") == "done" and not results:
        return status, {}, f"{run_dir / RESULTS_FILE} is missing although the run is done"
    return status, results, None


def write_status(run_dir: str | Path, state: str, **fields) -> dict:
    """Update status.json; a new attempt (``running``) and a success (``done``) clear an earlier error."""
    if state not in STATES:
        raise ValueError(f"state={state!r} is invalid: choose from {', '.join(STATES)}")
    try:
        record = read_status(run_dir) or {}
    except CorruptFile as exc:
        log.warning("%s; starting a new status record", exc)
        record = {}
    now = time.time()
    if state in ("running", "done"):  # what an earlier attempt ended with no longer describes the run
        for key in ("error", "step", "signal"):
            record.pop(key, None)
    record.update(fields)
    record["state"] = state
    record["updated"] = now
    entry = {"state": state, "time": now, **({"error": fields["error"]} if "error" in fields else {})}
    record.setdefault("history", []).append(entry)
    atomic_write_json(Path(run_dir) / STATUS_FILE, record)
    return record
