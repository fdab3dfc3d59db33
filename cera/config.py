"""Config checks and construction shared by every entry point.

Every check here runs before any expensive work (backbone build, data generation, training) and
before a run directory exists; each failure is one line naming the bad value and what is allowed.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping

from omegaconf import DictConfig, OmegaConf

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"
METHOD_META_KEYS = ("name", "lr", "_target_")  # method-config keys that are not adapter fields
LORA_KNOBS = ("init", "dora_norm")  # method keys of lora/dora that are ours, not LoraConfig's (cera.adapters.lora_knobs)


class ConfigError(ValueError):
    """A bad configuration value; the message is one line."""


def register_resolvers() -> None:
    if not OmegaConf.has_resolver("mul"):
        OmegaConf.register_new_resolver("mul", lambda a, b: a * b)
    if not OmegaConf.has_resolver("div"):
        OmegaConf.register_new_resolver("div", lambda a, b: a / b)
    if not OmegaConf.has_resolver("by_paper_rank"):
        OmegaConf.register_new_resolver("by_paper_rank", by_paper_rank)


def by_paper_rank(table: Any, *, _root_: DictConfig) -> Any:
    """A value that may depend on the run's Llama-3-8B rank (conf/protocol/: learning rates per method and rank).

    `table` is a value (returned as is) or a mapping {paper rank: value, ..., other: value}. The run's paper
    rank is `paper_rank`, or `rank / model.rank_scale` rounded when only `rank` is given (= rank on Llama-3-8B);
    a rank the table does not list takes `other`.
    """
    if not isinstance(table, (DictConfig, Mapping)):
        return table
    entries = {str(k): v for k, v in table.items()}
    if "other" not in entries:
        raise ConfigError(f"protocol.lr table {dict(entries)} has no 'other' entry: add other: <lr> (the value for "
                          "paper ranks it does not list)")
    paper_rank = _root_.get("paper_rank")
    if paper_rank is None:
        scale = _root_.model.get("rank_scale") or 1
        paper_rank = round(_root_.rank / scale)
    return entries.get(str(paper_rank), entries["other"])


register_resolvers()


def group_options(group: str) -> list[str]:
    """Config names available in a ``conf/<group>/`` folder."""
    folder = CONF_DIR / group
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def check_int(value: Any, key: str, minimum: int = 1, hint: str = "", error: type[Exception] | None = None) -> int:
    """`value` if it is an integer >= minimum (not a bool), else one line naming `key` (ConfigError)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        bound = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise (error or ConfigError)(f"{key}={value!r} is invalid: must be {bound}{hint}")
    return value


def plain(cfg: Any) -> dict:
    """A config section as a plain dict (a DictConfig resolved first)."""
    return dict(OmegaConf.to_container(cfg, resolve=True)) if isinstance(cfg, DictConfig) else dict(cfg)


def check_rank(value: Any) -> int:
    return check_int(value, "rank")


def check_dropout(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ConfigError(f"dropout={value!r} is invalid: must be a number in [0, 1)")
    return float(value)


def check_lr(value: Any, key: str = "lr") -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (value > 0 and math.isfinite(value)):
        raise ConfigError(f"{key}={value!r} is invalid: must be a finite number > 0")
    return float(value)


def check_seed(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**32:  # numpy's seed range
        raise ConfigError(f"seed={value!r} is invalid: must be an integer in [0, 2**32 - 1]")
    return value


def check_paper_rank(value: Any) -> int | None:
    return None if value is None else check_int(value, "paper_rank", hint=" (a Llama-3-8B rank, e.g. 64)")


def check_paper_lr(value: Any) -> float | None:
    return None if value is None else check_lr(value, "paper_lr")


def check_budget_factor(value: Any) -> int:
    return check_int(value, "budget_factor", hint=" (1 = the recipe's budget, 2 = the convergence check)")


SWEEP_KEYS = {"rank": check_rank, "dropout": check_dropout, "lr": check_lr, "seed": check_seed}
PAPER_WIDTH = 4096  # Llama-3-8B's hidden size: rank_scale = a model's hidden size / PAPER_WIDTH


def rank_for(paper_rank: int, rank_scale: float) -> int:
    """The rank with the same rank/width ratio as ``paper_rank`` on Llama-3-8B (round half up, at least 1)."""
    return max(1, math.floor(paper_rank * rank_scale + 0.5))


def resolve_rank(cfg: DictConfig, rank_given: bool = False, lr_given: bool = False) -> None:
    """Apply ``paper_rank``, ``paper_lr`` and ``budget_factor`` to ``cfg`` in place, before the run's identity.

    ``paper_rank`` keeps the paper's r/d on any backbone: rank = max(1, round(paper_rank x model.rank_scale)).
    ``paper_lr`` is a Llama-3-8B learning rate: lr = paper_lr x model.lr_scale (as the default lr is).
    ``budget_factor`` multiplies ``train.max_steps`` (2 = the convergence check of a cell's budget). The
    resolved rank and step count enter the run identity; the two knobs themselves do not, so the same
    training reached two ways is one run.
    """
    from omegaconf import open_dict

    paper_rank = check_paper_rank(cfg.get("paper_rank"))
    paper_lr = check_paper_lr(cfg.get("paper_lr"))
    factor = check_budget_factor(cfg.get("budget_factor", 1))
    with open_dict(cfg):
        if paper_rank is not None:
            if rank_given:
                raise _exclusive(paper_rank, cfg.rank)
            scale = cfg.model.get("rank_scale")
            if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not scale > 0:
                raise ConfigError(f"paper_rank needs model.rank_scale (hidden size / {PAPER_WIDTH}) but model "
                                  f"{cfg.model.get('name')!r} has rank_scale={scale!r}: add it to its config or give rank")
            cfg.rank = rank_for(paper_rank, float(scale))
        if paper_lr is not None:
            if lr_given:
                raise _exclusive(paper_lr, cfg.lr, "paper_lr", "lr", "lr_scale")
            cfg.lr = paper_lr * lr_scale(cfg.model)
        if factor != 1:
            check_train(cfg.train)
            cfg.train.max_steps = cfg.train.max_steps * factor
            cfg.budget_factor = 1  # applied: resolving twice must not compound
    _resolve_lr(cfg)


def _resolve_lr(cfg: DictConfig) -> None:
    """Resolve the learning rate now (a protocol's rank table, conf/protocol/): a bad table is one line here,
    before the run identity is taken, not a traceback from inside it."""
    from omegaconf.errors import InterpolationResolutionError

    try:
        cfg.get("lr")
    except InterpolationResolutionError as exc:
        cause = exc.__cause__ or exc.__context__  # OmegaConf re-raises the resolver's error inside its handler
        if isinstance(cause, ConfigError):
            raise ConfigError(str(cause)) from None
        raise


def lr_scale(model: Mapping) -> float:
    """``model.lr_scale`` (4096 / hidden size), 1 for a model config without it (the paper's lr as is)."""
    scale = model.get("lr_scale", 1.0)
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not (scale > 0 and math.isfinite(scale)):
        raise ConfigError(f"model.lr_scale={scale!r} is invalid: must be a finite number > 0 (4096 / hidden size)")
    return float(scale)


def _exclusive(paper: Any, absolute: Any, key: str = "paper_rank", abs_key: str = "rank",
               scale: str = "rank_scale") -> ConfigError:
    return ConfigError(f"{key}={paper} and {abs_key}={absolute} are mutually exclusive: give one "
                       f"({key} scales with model.{scale}, {abs_key} is absolute)")


def given_keys(overrides: list[str]) -> set[str]:
    """Keys set by command-line/sweep overrides (e.g. HydraConfig's ``overrides.task``), via Hydra's parser."""
    return {o.key_or_group for o in _parse_overrides(overrides) or []}


def check_seeds(value: Any) -> int:
    """`seeds` (conf/experiment/: seeds per cell); 0 would silently launch an empty sweep."""
    return check_int(value, "seeds", hint=" (seeds per cell)")


ARGV_CHECKS = {**SWEEP_KEYS, "seeds": check_seeds, "paper_rank": check_paper_rank, "paper_lr": check_paper_lr,
               "budget_factor": check_budget_factor}  # checked on the command line before composing
TRAIN_POSITIVE_INTS = ("max_steps", "batch_size", "eval_batch_size", "grad_accum", "max_seq_len", "log_every",
                       "eval_every", "save_every", "keep_checkpoints")


def check_train(train: Mapping) -> None:
    for key in TRAIN_POSITIVE_INTS:
        check_int(train.get(key), f"train.{key}")
    w = train.get("warmup_ratio")
    if not isinstance(w, (int, float)) or not 0 <= w < 1:
        raise ConfigError(f"train.warmup_ratio={w!r} is invalid: must be a number in [0, 1)")
    if train.get("precision") not in ("auto", "bf16", "fp32"):
        raise ConfigError(f"train.precision={train.get('precision')!r} is invalid: choose from auto, bf16, fp32")
    from cera.train.sampling import SAMPLINGS

    if train.get("sampling", "random") not in SAMPLINGS:
        raise ConfigError(f"train.sampling={train.get('sampling')!r} is invalid: choose from {', '.join(SAMPLINGS)}")
    if not isinstance(train.get("gradient_checkpointing", False), bool):
        raise ConfigError(f"train.gradient_checkpointing={train.get('gradient_checkpointing')!r} is invalid: "
                          "true or false")
    from cera.train.trackers import check_trackers

    try:
        check_trackers(train)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def did_you_mean(key: str, options) -> str:
    """' (did you mean x?)' when an option is close to `key` (difflib), else ''."""
    import difflib

    close = difflib.get_close_matches(key, list(options), n=1, cutoff=0.75)
    return f" (did you mean {close[0]}?)" if close else ""


def adapter_config(method: Mapping):
    """Build the adapter config (ours or ``peft.LoraConfig``) from a ``method`` config with
    ``hydra.utils.instantiate``; every key but ``name`` and ``lr`` is a field of the ``_target_``."""
    import dataclasses

    from hydra.errors import InstantiationException
    from hydra.utils import get_class, instantiate
    from peft import LoraConfig

    name = method.get("name")
    try:
        cls = get_class(method["_target_"])
    except Exception as exc:  # noqa: BLE001 - any import failure is a config error here
        raise ConfigError(f"method {name!r}: cannot import _target_={method.get('_target_')!r} ({exc})") from None
    fields = {k: v for k, v in method.items() if k not in METHOD_META_KEYS}
    knobs = {k: fields.pop(k) for k in LORA_KNOBS if k in fields} if issubclass(cls, LoraConfig) else {}
    allowed = {f.name for f in dataclasses.fields(cls) if f.init} if dataclasses.is_dataclass(cls) else set(fields)
    for key in sorted(set(fields) - allowed):
        raise ConfigError(f"method.{key} is not an option of method={name}{did_you_mean(key, allowed)}")
    try:
        config = instantiate({"_target_": method["_target_"], **fields}, _convert_="all")
    except InstantiationException as exc:
        cause = exc.__cause__ or exc
        raise ConfigError(f"method={name}: {str(cause).splitlines()[0]}") from None
    if hasattr(config, "lora_alpha"):  # PEFT's LoraConfig accepts any alpha; ours check theirs
        from cera.adapters.config import check_lora_alpha
        from cera.adapters.lora_knobs import configure

        try:
            check_lora_alpha(config.lora_alpha)
            configure(config, **knobs)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    return config


def validate(cfg: DictConfig) -> Any:
    """Check a composed run config; return the adapter config object it describes."""
    for key, check in SWEEP_KEYS.items():
        check(cfg[key])
    check_train(cfg.train)
    from cera.models.load import ModelError, check_model_config
    from cera.models.shape_only import check_use

    try:
        check_model_config(OmegaConf.to_container(cfg.model, resolve=True))
        check_use(cfg.model)  # random weights train only with model.allow_random=true
    except ModelError as exc:
        raise ConfigError(str(exc)) from None
    return adapter_config(OmegaConf.to_container(cfg.method, resolve=True))


def check_argv(argv: list[str]) -> None:
    """Check command-line overrides before Hydra composes anything (so a sweep fails at once).

    Covers config-group choices (``method=lora,foo``) and every value of the top-level sweep keys
    (``rank=64,0``); anything else is left to Hydra and to ``validate`` inside each job.
    """
    overrides = _parse_overrides(argv)
    if overrides is None:
        return
    keys = {o.key_or_group for o in overrides}
    given = {o.key_or_group: o.get_value_string() for o in overrides}
    for paper, absolute, scale in (("paper_rank", "rank", "rank_scale"), ("paper_lr", "lr", "lr_scale")):
        if {paper, absolute} <= keys and given[paper] not in ("null", "None"):
            raise _exclusive(given[paper], given[absolute], paper, absolute, scale)
    for o in overrides:
        if o.is_sweep_override() and not o.is_discrete_sweep():
            continue  # interval() sweeps: checked per job
        values = list(o.sweep_iterator()) if o.is_sweep_override() else [o.value()]
        key = o.key_or_group
        options = [] if key.startswith("hydra") else group_options(key)  # Hydra's own groups: Hydra checks
        if options:
            for v in values:
                if str(v) not in options:
                    raise ConfigError(f"{key}={v} is not a known {key}: choose from {', '.join(options)}")
        elif key in ARGV_CHECKS:
            for v in values:
                if not (isinstance(v, str) and v.startswith("${")):
                    ARGV_CHECKS[key](v)
    check_keys(overrides)


def _parse_overrides(argv: list[str]) -> list | None:
    """Hydra's parse of the key=value arguments; None when malformed (Hydra's own message follows)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        return OverridesParser.create().parse_overrides([a for a in argv if "=" in a and not a.startswith("-")])
    except Exception:  # noqa: BLE001 - malformed overrides get Hydra's own error message
        return None


def check_unknown_keys(argv: list[str], config_name: str) -> None:
    """`check_keys` for another entry point's config (conf/<config_name>.yaml), from its argv."""
    overrides = _parse_overrides(argv)
    if overrides is not None:
        check_keys(overrides, config_name)


def _first_value(o) -> str:
    return str(next(iter(o.sweep_iterator()))) if o.is_sweep_override() else str(o.value())


def _dotted_keys(node, prefix: str = "") -> set[str]:
    keys = set()
    for k, v in node.items_ex(resolve=False) if isinstance(node, DictConfig) else ():
        dotted = f"{prefix}{k}"
        keys.add(dotted)
        keys |= _dotted_keys(v, dotted + ".")
    return keys


def check_keys(overrides: list, config_name: str = "config") -> None:
    """Unknown keys are errors: every key set on the command line (also with `+`) must exist in the
    composed config (every group is closed); one line, with a close match if there is one.

    Composed once, with the group choices of the command line (first value of a sweep), so the keys
    of the chosen method, model, data, experiment and arm count as known.
    """
    from hydra import compose, initialize_config_dir

    groups = [o for o in overrides if group_options(o.key_or_group) and not o.is_delete()]
    keys = [o for o in overrides if not group_options(o.key_or_group) and not o.key_or_group.startswith("hydra")]
    if not keys:
        return
    choices = [f"{o.key_or_group}={_first_value(o)}" for o in groups if not o.is_sweep_override() or o.is_discrete_sweep()]
    register_resolvers()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name, overrides=choices)
    known = _dotted_keys(cfg)
    for o in keys:
        key = o.key_or_group
        if key not in known:
            entry = "cera.run" if config_name == "config" else f"cera.{config_name}"
            raise ConfigError(f"unknown key {key}{did_you_mean(key, known)}: every config key is fixed by conf/ "
                              f"(see `python -m {entry} --cfg job`)")
