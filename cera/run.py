"""Hydra entry point: ``python -m cera.run [-m] key=value ...`` (see README and conf/config.yaml).

One job = one run directory under ``paths.runs_dir``. In a multirun a failing job is recorded
(``failed`` + traceback in its run directory) and the sweep goes on; the summary printed at the end
lists every run. Bad input exits with code 2 and a one-line ``cera: error: ...``; so does a run
directory that another live job is writing (in a multirun that job is recorded as ``skipped``).
A single run that diverges exits 1; SIGTERM or Ctrl-C checkpoints at the end of the current step,
records ``interrupted`` and exits 128 + the signal number (a relaunch resumes).
"""

from __future__ import annotations

import logging
import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from cera.cluster.distributed import is_main_process
from cera.config import ConfigError, check_argv, given_keys, resolve_rank
from cera.io import atomic_write_json
from cera.runs.execute import UsageError, execute
from cera.runs.lock import RunBusy
from cera.runs.naming import run_dir_for
from cera.train.preempt import Interrupted

log = logging.getLogger("cera.run")
POINTER = "run.json"  # written into Hydra's job dir: lets sweep summaries find each job's run dir


def _fail(message: str) -> None:
    print(f"cera: error: {message}", file=sys.stderr)
    sys.exit(2)


@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> dict | None:
    hc = HydraConfig.get()
    multirun = hc.mode == RunMode.MULTIRUN
    pointer = f"{hc.runtime.output_dir}/{POINTER}"
    try:
        given = given_keys(list(hc.overrides.task))
        resolve_rank(cfg, rank_given="rank" in given, lr_given="lr" in given)  # before the run identity
        if is_main_process():  # DDP: several tasks of one job train one run; rank 0 alone writes
            atomic_write_json(pointer, {"run_dir": str(run_dir_for(cfg))})
        row = execute(cfg)
    except Interrupted as exc:  # SIGTERM / Ctrl-C: checkpoint saved and ``interrupted`` recorded; a sweep stops too
        print(f"cera: run {run_dir_for(cfg).name} interrupted: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:  # a second Ctrl-C, or one outside training: the last checkpoint stands
        print(f"cera: run {run_dir_for(cfg).name} interrupted by Ctrl-C; relaunch to resume", file=sys.stderr)
        sys.exit(130)
    except (UsageError, ConfigError) as exc:
        _fail(str(exc))
    except RunBusy as exc:  # another live job writes this run: never touch its directory
        if not multirun:
            _fail(str(exc))
        log.warning("job %s skipped: %s", hc.job.num, exc)
        atomic_write_json(pointer, {"run_dir": str(run_dir_for(cfg)), "skipped": str(exc)})
        return {"state": "skipped"}
    except Exception:
        if not multirun:
            raise
        log.exception("job %s failed; the sweep goes on", hc.job.num)
        return {"state": "failed"}
    if not multirun:  # a sweep records a diverged run and goes on
        exit_if_diverged(row)
    return row


def exit_if_diverged(row: dict) -> None:
    """A single run that diverged is a failure for the shell (exit 1), with one line saying why."""
    if row.get("state") == "diverged":
        print(f"cera: error: run {row['run']} diverged: {row.get('error')}", file=sys.stderr)
        sys.exit(1)


def _output_dir(argv: list[str]) -> str | None:
    """The ``paths.output_dir`` Hydra will write its job folders under (None: a sweep or interpolation)."""
    import os

    given = [a.split("=", 1)[1] for a in argv if a.startswith(("paths.output_dir=", "++paths.output_dir="))]
    value = given[-1] if given else os.environ.get("CERA_OUTPUTS", "outputs")
    return None if any(c in value for c in ",${[") else value


def normalize_argv(argv: list[str]) -> list[str]:
    """experiment and arm are optional groups of the defaults list (no `+` needed); the older
    `+experiment=` / `+arm=` spelling, which Hydra would now refuse, still works."""
    return [a.removeprefix("+") if a.startswith(("+experiment=", "+arm=")) else a for a in argv]


def cli() -> None:
    sys.argv[1:] = normalize_argv(sys.argv[1:])
    from cera.preflight import PreflightError, check_writable

    try:
        check_argv(sys.argv[1:])
        out = _output_dir(sys.argv[1:])
        if out is not None:  # Hydra creates its job folder there before any of our code runs
            check_writable(out, "paths.output_dir")
    except (ConfigError, PreflightError) as exc:
        _fail(str(exc))
    main()


if __name__ == "__main__":
    cli()
