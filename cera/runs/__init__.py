"""Run directories: deterministic names, status records, the job body and sweep summaries."""

from cera.runs.naming import run_dir_for, run_id
from cera.runs.record import STATES, read_status, write_status

__all__ = ["run_id", "run_dir_for", "STATES", "read_status", "write_status"]
