"""Hydra entry point: ``python -m cera.run [-m] key=value ...`` (see README and conf/config.yaml).

One job = one run directory under ``paths.runs_dir``. In a multirun a failing job is recorded
(``failed`` + traceback in its run directory) and the sweep goes on; the summary printed at the end
lists every run. Bad input exits with code 2 and a one-line ``cera: error: ...``.
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
from cera.runs.naming import run_dir_for

log = logging.getLogger("cera.run")
POINTER = "run.json"  # written into Hydra's job dir: lets sweep summaries find each job's run dir


def _fail(message: str) -> None:
    print(f"cera: error: {message}", file=sys.stderr)
    sys.exit(2)


@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> dict | None:
    hc = HydraConfig.get()
    multirun = hc.mode == RunMode.MULTIRUN
    try:
        resolve_rank(cfg, rank_given="rank" in given_keys(list(hc.overrides.task)))  # before the run identity
        if is_main_process():  # DDP: several tasks of one job train one run; rank 0 alone writes
            atomic_write_json(f"{hc.runtime.output_dir}/{POINTER}", {"run_dir": str(run_dir_for(cfg))})
        return execute(cfg)
    except (UsageError, ConfigError) as exc:
        _fail(str(exc))
    except Exception:
        if not multirun:
            raise
        log.exception("job %s failed; the sweep goes on", hc.job.num)
        return {"state": "failed"}


def cli() -> None:
    try:
        check_argv(sys.argv[1:])
    except ConfigError as exc:
        _fail(str(exc))
    main()


if __name__ == "__main__":
    cli()
