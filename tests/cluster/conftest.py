"""Shared by the SLURM tests: the launcher overrides that fit a 2-core local cluster, and a skip
when this machine has no SLURM (CI starts one: `make slurm-up`, cera/cluster/local_slurm.sh)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, TINY

# one core and 2 GB per job so two jobs run at once on 2 cores; site settings of a conf/local/slurm.yaml
# are cleared so the tests always use the local cluster's default partition
SLURM = ["hydra/launcher=slurm", "hydra.launcher.cpus_per_task=1", "hydra.launcher.gpus_per_node=0",
         "hydra.launcher.mem_gb=2", "hydra.launcher.timeout_min=10", "hydra.launcher.partition=null",
         "hydra.launcher.account=null", "hydra.launcher.qos=null", "hydra.launcher.setup=null",
         "hydra.launcher.additional_parameters={}"]


@pytest.fixture
def slurm():
    if shutil.which("sinfo") is None:
        pytest.skip("no SLURM on this machine (sinfo not found); `make slurm-up` starts a local one")
    out = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True)
    if out.returncode != 0 or not {"idle", "mixed", "allocated", "completing"} & set(out.stdout.split()):
        pytest.fail(f"SLURM is installed but no node is up (sinfo: {out.stdout.strip() or out.stderr.strip()});"
                    " run `make slurm-up`")


def cera_run(args: list[str], env: dict, timeout: int = 300, module: str = "cera.run") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)


def run_dirs(outputs: Path) -> dict[str, Path]:
    """Run directories by method name."""
    return {p.name.split("-")[0]: p for p in sorted((outputs / "runs").iterdir())}


def status_of(run_dir: Path) -> dict:
    return json.loads((run_dir / "status.json").read_text())


__all__ = ["SLURM", "TINY", "cera_run", "run_dirs", "status_of"]
