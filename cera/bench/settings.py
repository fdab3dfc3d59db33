"""Checks for conf/bench.yaml and the per-(method, rank) adapter configs it implies.

Every check runs before the backbone is loaded, and each failure is one line (ConfigError), as in
`cera.run`. Method configs are the same conf/method/*.yaml files a training run uses, resolved with
`rank`, `dropout` and `model` set per variant, so the benchmark measures exactly what is trained.
"""

from __future__ import annotations

from typing import Any, Mapping

from omegaconf import DictConfig, OmegaConf

from cera.config import CONF_DIR, ConfigError, check_dropout, check_int, check_rank, check_seed, group_options

DEVICES = ("auto", "cpu", "cuda")
DTYPES = ("auto", "bf16", "fp32")
SHAPES = ("batch", "seq_len", "decode_tokens")


def check_bench(cfg: DictConfig) -> None:
    """Raise ConfigError for the first bad value of a composed bench config."""
    options = group_options("method")
    methods = list(cfg.methods or [])
    if not methods:
        raise ConfigError(f"methods is empty: list some of {', '.join(options)}")
    for name in methods:
        if name not in options:
            raise ConfigError(f"methods: {name} is not a known method: choose from {', '.join(options)}")
    if len(set(methods)) != len(methods):
        raise ConfigError(f"methods={methods} lists a method twice")
    if cfg.reference not in methods:
        raise ConfigError(f"reference={cfg.reference} is not in methods={methods}: ratios need it measured")
    ranks = list(cfg.ranks or [])
    if not ranks:
        raise ConfigError("ranks is empty: give at least one adapter rank, e.g. ranks=[64]")
    for rank in ranks:
        check_rank(rank)
    if len(set(ranks)) != len(ranks):
        raise ConfigError(f"ranks={ranks} lists a rank twice")
    caps = cfg.get("max_rank") or {}
    for name, cap in caps.items():
        if name not in options:
            raise ConfigError(f"max_rank.{name}: {name} is not a known method: choose from {', '.join(options)}")
        if cap is not None:
            check_int(cap, f"max_rank.{name}")
    if not all(included(cfg, cfg.reference, rank) for rank in ranks):
        raise ConfigError(f"max_rank.{cfg.reference}={caps.get(cfg.reference)} drops the reference at some of "
                          f"ranks={ranks}: every rank needs it")
    check_dropout(cfg.dropout)
    check_seed(cfg.seed)
    for key in SHAPES:
        check_int(cfg.shapes[key], f"shapes.{key}")
    check_int(cfg.repeats, "repeats")
    check_int(cfg.inner, "inner")
    _check_mixed(cfg, options)
    check_int(cfg.warmup, "warmup", minimum=0)
    if cfg.device not in DEVICES:
        raise ConfigError(f"device={cfg.device!r} is invalid: choose from {', '.join(DEVICES)}")
    if cfg.dtype not in DTYPES:
        raise ConfigError(f"dtype={cfg.dtype!r} is invalid: choose from {', '.join(DTYPES)}")
    if cfg.threads is not None:
        check_int(cfg.threads, "threads")
    from cera.models.load import ModelError, check_model_config

    try:
        check_model_config(OmegaConf.to_container(cfg.model, resolve=True))
    except ModelError as exc:
        raise ConfigError(str(exc)) from None
    for rank in ranks:  # an invalid method field fails now, not after the model is loaded
        for name in methods:
            if included(cfg, name, rank):
                adapter_settings(cfg, name, rank)


def _check_mixed(cfg: DictConfig, options: list[str]) -> None:
    mixed = cfg.get("mixed") or {}
    counts = list(mixed.get("adapters") or [])
    if not counts:
        return
    for n in counts:
        check_int(n, "mixed.adapters[]")
    for name in mixed.get("methods") or []:
        if name not in options:
            raise ConfigError(f"mixed.methods: {name} is not a known method: choose from {', '.join(options)}")
        if name == "dora":
            raise ConfigError("mixed.methods: dora cannot serve mixed-adapter batches (PEFT refuses adapter_names "
                              "with DoRA)")
    check_rank(mixed.get("rank"))
    if check_int(mixed.get("batch"), "mixed.batch") < max(counts):
        raise ConfigError(f"mixed.batch={mixed.batch} is smaller than the largest mixed.adapters={max(counts)}: "
                          "every adapter needs a row")


def included(cfg: DictConfig, name: str, rank: int) -> bool:
    """False when `max_rank` caps `name` below `rank` (that variant is skipped)."""
    cap = (cfg.get("max_rank") or {}).get(name)
    return cap is None or rank <= cap


def method_config(cfg: DictConfig, name: str, rank: int) -> dict:
    """conf/method/<name>.yaml resolved for this rank (its ${rank}, ${dropout}, ${model.*}) under the paper
    protocol (its ${protocol.*}: conf/protocol/paper.yaml)."""
    root = OmegaConf.create({
        "rank": rank,
        "paper_rank": None,
        "dropout": cfg.dropout,
        "model": OmegaConf.to_container(cfg.model, resolve=True),
        "protocol": OmegaConf.load(CONF_DIR / "protocol" / "paper.yaml").protocol,
        "method": OmegaConf.load(CONF_DIR / "method" / f"{name}.yaml"),
    })
    return OmegaConf.to_container(root.method, resolve=True)


def adapter_settings(cfg: DictConfig, name: str, rank: int) -> tuple[Any, float]:
    """(adapter config object for `attach`, the method's learning rate)."""
    from cera.config import adapter_config, check_lr

    method: Mapping = method_config(cfg, name, rank)
    return adapter_config(method), check_lr(method["lr"])
