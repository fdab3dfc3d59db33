"""Evaluate a finished run again: ``python -m cera.evaluate <run_dir> [eval=<name>] [eval.key=value ...]``.

    python -m cera.evaluate outputs/runs/cera-r64-...-1a2b3c4d                      # the run's own eval config
    python -m cera.evaluate outputs/runs/cera-r64-... eval.tasks=[basic] eval.limit=64
    python -m cera.evaluate outputs/runs/cera-r64-... eval.tasks=[gsm8k] eval.sources.gsm8k=data/gsm8k/

Re-loads the run's config.yaml, rebuilds its base model (``cera.models.load_model``), loads the saved
adapter (``cera.adapters.load_adapter``) and runs ``cera.eval.run_eval.evaluate_run``. The eval
config is conf/eval/default.yaml, overlaid by the run's recorded ``eval`` section, then by
``eval=<name>`` (conf/eval/<name>.yaml) and by ``eval.*`` overrides, in that order. Training keys
cannot be changed here (they define the run). Writes downstream.json, samples.jsonl and
spectra.json into the run directory and updates the ``downstream`` key of its results.json.
Bad input exits with code 2 and one line ``cera: error: ...``.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

log = logging.getLogger("cera.evaluate")
USAGE = "usage: python -m cera.evaluate <run_dir> [eval=<name>] [eval.<key>=<value> ...]"


class CliError(ValueError):
    """Printed as one line ``cera: error: ...``, exit code 2."""


def _finished_run(arg: str) -> Path:
    """A done run whose status and results read back whole."""
    from cera.runs.record import read_run

    run_dir = Path(arg).expanduser()
    if not run_dir.is_dir():
        raise CliError(f"run directory {run_dir} does not exist")
    if not (run_dir / "config.yaml").is_file():
        raise CliError(f"{run_dir} is not a run directory (no config.yaml)")
    status, _, problem = read_run(run_dir)
    if problem:
        raise CliError(problem)
    state = status.get("state", "missing")
    if state != "done":
        raise CliError(f"run {run_dir.name} is not finished (state: {state}); only a done run can be evaluated")
    if not (run_dir / "adapter" / "adapter_config.json").is_file():
        raise CliError(f"run {run_dir.name} has no saved adapter ({run_dir / 'adapter'})")
    return run_dir


def _run_config(run_dir: Path) -> DictConfig:
    path = run_dir / "config.yaml"
    try:
        cfg = OmegaConf.load(path)
    except Exception as exc:  # noqa: BLE001 - YAML errors, in one line naming the file
        raise CliError(f"{path} is corrupt: {str(exc).splitlines()[0]}") from None
    if not isinstance(cfg, DictConfig):
        raise CliError(f"{path} is corrupt: not a mapping")
    return cfg


def eval_config(recorded, overrides: list[str], data_tasks: list[str] | None = None):
    """default.yaml <- the run's recorded eval <- eval=<name> <- eval.key=value overrides.

    default.yaml's ``tasks`` follows the data config (``${data.eval_tasks}``); outside a composed
    run config it is the run's recorded ``data.eval_tasks`` (none for an older run).
    """
    from cera.config import CONF_DIR, group_options

    default = OmegaConf.load(CONF_DIR / "eval" / "default.yaml")
    default.tasks = list(data_tasks or [])
    if isinstance(recorded, DictConfig) and isinstance(recorded.get("spectra"), bool):  # runs before eval.spectra.*
        recorded = OmegaConf.create({**OmegaConf.to_container(recorded), "spectra": {"enabled": recorded.spectra}})
    layers = [default, recorded]
    dotted = []
    for arg in overrides:
        key, sep, value = arg.partition("=")
        if not sep:
            raise CliError(f"override {arg!r} is not key=value ({USAGE})")
        if key == "eval":
            options = group_options("eval")
            if value not in options:
                raise CliError(f"eval={value} is not a known eval config: choose from {', '.join(options)}")
            layers.append(OmegaConf.load(CONF_DIR / "eval" / f"{value}.yaml"))
        elif key.startswith("eval."):
            dotted.append(arg)
        else:
            raise CliError(f"override {key} is not an eval key: only eval=<name> and eval.<key>=<value> can change "
                           "(training keys define the run)")  # fmt: skip
    try:
        layers.append(OmegaConf.from_dotlist(dotted).get("eval", {}))
    except Exception as exc:  # noqa: BLE001 - OmegaConf's grammar errors, in one line
        raise CliError(f"cannot parse {dotted}: {str(exc).splitlines()[0]}") from None
    return OmegaConf.merge(*layers)


def evaluate(run_dir: Path, overrides: list[str]) -> dict:
    """Evaluate a finished run under its lock (``RunBusy`` if a job or another evaluation writes it)."""
    from cera.runs.lock import RunLock

    with RunLock(run_dir):
        return _evaluate_locked(run_dir, overrides)


def _evaluate_locked(run_dir: Path, overrides: list[str]) -> dict:
    from cera.adapters import load_adapter
    from cera.adapters.checkpoint import read_adapter_tensors
    from cera.eval.config import check_eval_config
    from cera.eval.run_eval import evaluate_run
    from cera.io import atomic_write_json
    from cera.runs.convergence import refresh
    from cera.runs.record import read_run
    from cera.models import load_model
    from cera.models.shape_only import check_use

    cfg = _run_config(run_dir)
    cfg.eval = eval_config(cfg.get("eval") or {}, overrides, (cfg.get("data") or {}).get("eval_tasks"))
    check_eval_config(cfg.eval)  # one-line errors before the model is built
    check_use(cfg.model, "evaluating")  # random weights only with model.allow_random=true
    read_adapter_tensors(run_dir / "adapter")  # AdapterError if truncated, garbage or tampered: before the build
    model, tokenizer = load_model(OmegaConf.to_container(cfg.model, resolve=True), cfg.paths.cache_dir)
    model = load_adapter(model, run_dir / "adapter")
    summary = evaluate_run(cfg, model, tokenizer, run_dir)
    if summary is None:
        raise CliError("nothing to evaluate: eval.tasks is empty and eval.spectra.enabled is false")
    _, results, _ = read_run(run_dir)  # checked whole by _finished_run
    results["downstream"] = summary
    atomic_write_json(run_dir / "results.json", results)
    if results.get("cell_id"):  # a refresh that skipped this run while we held it left its record to us
        refresh(run_dir.parent, cell=results["cell_id"], held=run_dir)
    return summary


def _report(summary: dict) -> str:
    lines = []
    for name, t in summary["tasks"].items():
        parts = [f"{key} {v['value']:.3f} [{v['lo']:.3f}, {v['hi']:.3f}]" for key, v in t.items()
                 if key.startswith("pass@")]  # fmt: skip
        lines.append(f"{name}: {t['problems']} problems, " + ", ".join(parts))
    if summary.get("spectra"):
        er = summary["spectra"]["summary"]
        lines.append(f"spectra: effective rank {er['effective_rank']:.2f} ({er['how']}; spectra.json)")
    return "\n".join(lines + [f"evaluated in {summary['seconds']:.0f}s"])


def main(argv: list[str] | None = None) -> int:
    from cera.adapters import AdapterError
    from cera.data import DataError
    from cera.eval.config import EvalError
    from cera.models.load import ModelError
    from cera.runs.lock import RunBusy

    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s][%(name)s][%(levelname)s] - %(message)s")
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    try:
        if not argv or argv[0].startswith("-") or "=" in argv[0]:
            raise CliError(f"no run directory given ({USAGE})")
        summary = evaluate(_finished_run(argv[0]), argv[1:])
    except (CliError, EvalError, DataError, ModelError, AdapterError, RunBusy) as exc:
        print(f"cera: error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    print(_report(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
