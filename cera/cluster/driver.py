"""The body of a detached sweep's driver job (``python -m cera.submit``).

It is the same blocking ``python -m cera.run -m ...`` a user would type, run inside a small SLURM
job instead of the user's shell. It runs as a subprocess outside this job's SLURM environment
(``submitit.helpers.clean_env``): inherited ``SLURM_*`` variables would otherwise leak into the
sweep's own sbatch/srun calls.
"""

from __future__ import annotations

import subprocess
import sys

import submitit


def run_sweep(args: list[str], cwd: str) -> int:
    """Run the Hydra multirun to its end (its summary goes to this job's log); return its exit code."""
    with submitit.helpers.clean_env():
        return subprocess.run([sys.executable, "-m", "cera.run", "-m", *args], cwd=cwd, check=False).returncode
