"""``python -m cera.submit [--driver-time MIN] <the arguments of python -m cera.run -m>``: submit a
sweep to SLURM and return at once (the shell is free; follow it with ``python -m cera.status``).

How: the Hydra driver itself — the process that expands the sweep, submits the jobs through the
submitit launcher, waits for them and prints the summary — is submitted with submitit as a small
SLURM job (1 CPU). Why this and not a background process on the login node: the driver then
survives logout and login-node reboots, shows up in ``squeue``, and needs no change to Hydra's
launcher. Its cost is one CPU slot for the sweep's duration. If the driver dies, the jobs it
submitted go on and ``cera.status`` still reports them; re-submitting the same sweep re-runs only
what is not ``done``.

The sweep directory is fixed here (``<outputs>/sweeps/<time>``, or ``hydra.sweep.dir=...``) so
it can be printed before the driver starts; the driver's own log is in ``<sweep>/.driver/``.
Without a ``hydra/launcher=`` argument the jobs go through ``hydra/launcher=slurm``; the driver job
takes the jobs' partition, account and qos (so ``conf/local/slurm.yaml`` applies to both).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

LAUNCHER_KEYS = ("hydra/launcher=", "hydra.launcher.", "paths.", "hydra.sweep.dir=")


def _fail(message: str) -> None:
    print(f"cera: error: {message}", file=sys.stderr)
    sys.exit(2)


def _launcher_config(args: list[str]):
    """The composed config restricted to what the driver needs: paths and the launcher settings."""
    from hydra import compose, initialize_config_dir

    from cera.config import CONF_DIR, register_resolvers

    register_resolvers()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose("config", overrides=[a for a in args if a.startswith(LAUNCHER_KEYS)], return_hydra_config=True)


def parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(
        prog="python -m cera.submit",
        usage="python -m cera.submit [--driver-time MIN] [--driver-mem-gb GB] <arguments of python -m cera.run -m>",
        description="Submit a sweep to SLURM and return at once; follow it with python -m cera.status <sweep dir>. "
                    "The Hydra driver runs as a small SLURM job (see cera/cluster/README.md).")
    parser.add_argument("--driver-time", type=int, default=4320, metavar="MIN",
                        help="time limit of the driver job in minutes (default 3 days); the sweep's jobs "
                             "keep running if it ends first, only its summary is lost")
    parser.add_argument("--driver-mem-gb", type=int, default=2, metavar="GB", help="memory of the driver job (GB)")
    opts, args = parser.parse_known_args(argv)
    for bad in [a for a in args if a.startswith("-") and a not in ("-m", "--multirun")]:
        _fail(f"{bad} is not an option of cera.submit: choose from --driver-time, --driver-mem-gb "
              "(everything else is a Hydra override)")
    if opts.driver_time <= 0 or opts.driver_mem_gb <= 0:
        _fail(f"--driver-time={opts.driver_time} / --driver-mem-gb={opts.driver_mem_gb}: must be positive")
    return opts, [a for a in args if a not in ("-m", "--multirun")]


def main(argv: list[str] | None = None) -> None:
    from cera.config import ConfigError, check_argv

    opts, args = parse(sys.argv[1:] if argv is None else argv)
    try:
        check_argv(args)  # a bad method or rank fails here, not in the driver job
    except ConfigError as exc:
        _fail(str(exc))
    if shutil.which("sbatch") is None:
        _fail("cera.submit needs SLURM (sbatch not found); without a cluster run "
              "`nohup python -m cera.run -m ... &` or start a local one with `make slurm-up`")
    if not any(a.startswith("hydra/launcher=") for a in args):
        args.append("hydra/launcher=slurm")
    cfg = _launcher_config(args)
    sweep_dir = Path(cfg.hydra.sweep.dir if any(a.startswith("hydra.sweep.dir=") for a in args)
                     else Path(cfg.paths.output_dir) / "sweeps" / time.strftime("%Y-%m-%d_%H-%M-%S")).absolute()
    args = [a for a in args if not a.startswith("hydra.sweep.dir=")] + [f"hydra.sweep.dir={sweep_dir}"]

    import submitit

    from cera.cluster.driver import run_sweep

    launcher = cfg.hydra.launcher
    executor = submitit.AutoExecutor(folder=sweep_dir / ".driver" / "%j", cluster="slurm")
    executor.update_parameters(name="cera-sweep-driver", timeout_min=opts.driver_time, cpus_per_task=1,
                               mem_gb=opts.driver_mem_gb, tasks_per_node=1, nodes=1,
                               slurm_partition=launcher.get("partition"), slurm_account=launcher.get("account"),
                               slurm_qos=launcher.get("qos"))
    job = executor.submit(run_sweep, args, os.getcwd())
    print(f"submitted sweep driver job {job.job_id}\n  sweep dir: {sweep_dir}\n"
          f"  status:    python -m cera.status {sweep_dir}\n  driver log: {sweep_dir}/.driver/{job.job_id}/")


if __name__ == "__main__":
    main()
