"""The ``eval`` config group (conf/eval/default.yaml): its keys, their checks, one error type.

Checked before any generation, each failure one line naming the key and what is allowed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cera.config import check_int, plain

#: Task names accepted in ``eval.tasks`` (see cera.eval.lmeval_tasks).
TASKS = ("basic", "complex", "gsm8k", "hendrycks_math", "math500")
REAL_TASKS = ("gsm8k", "hendrycks_math", "math500")
KEYS = ("test_ppl", "tasks", "sources", "limit", "n_samples", "temperature", "top_p", "k", "max_new_tokens",
        "batch_size", "num_fewshot", "math_prompt", "seed", "spectra", "probe_size")  # fmt: skip
#: MATH prompts (``eval.math_prompt``): lm-eval's "Problem: …\nAnswer:" or the authors' "…\nSolution:".
MATH_PROMPTS = ("answer", "solution")
#: ``eval.spectra`` (conf/eval/default.yaml): paper defaults; the CeRA authors' code (protocol=authors_code):
#: center true, layers 0.15625 (Llama-3-8B's layers 27-31 of 32), mask_padding false, aggregate mean_spectrum.
SPECTRA_DEFAULTS = {"enabled": True, "center": False, "layers": None, "mask_padding": True, "aggregate": "per_layer"}
SPECTRA_AGGREGATES = ("per_layer", "mean_spectrum")
#: Values of keys a config leaves out (= conf/eval/default.yaml, checked by a test).
DEFAULTS = {"test_ppl": True, "tasks": [], "sources": {"gsm8k": None, "hendrycks_math": None, "math500": None},
            "limit": 32, "n_samples": 10, "temperature": 0.8, "top_p": 1.0, "k": [1, 10], "max_new_tokens": 256,
            "batch_size": 64, "num_fewshot": None, "math_prompt": "answer", "seed": 0, "spectra": SPECTRA_DEFAULTS,
            "probe_size": 16}  # fmt: skip


class EvalError(ValueError):
    """A bad evaluation setting or input (task, source, prompt too long); the message is one line."""


def _int(cfg: Mapping, key: str, low: int, nullable: bool = False) -> None:
    if cfg.get(key) is not None or not nullable:
        check_int(cfg.get(key), f"eval.{key}", low, " or null" if nullable else "", EvalError)


def check_eval_config(cfg: Any) -> dict:
    """Validate an ``eval`` config; return it as a plain dict with defaults for missing keys."""
    cfg = plain(cfg)
    unknown = sorted(set(cfg) - set(KEYS))
    if unknown:
        raise EvalError(f"eval.{unknown[0]} is not an eval option: allowed are {', '.join(KEYS)}")
    cfg = {**DEFAULTS, **cfg}
    tasks = cfg["tasks"] or []
    if isinstance(tasks, str) or not all(isinstance(t, str) for t in tasks):
        raise EvalError(f"eval.tasks={tasks!r} is invalid: must be a list such as [basic, complex]")
    for t in tasks:
        if t not in TASKS:
            raise EvalError(f"eval.tasks: unknown task {t!r}: choose from {', '.join(TASKS)}")
    if len(set(tasks)) != len(tasks):
        raise EvalError(f"eval.tasks={list(tasks)} names a task twice")
    cfg["tasks"] = list(tasks)
    sources = cfg["sources"] or {}
    if not isinstance(sources, Mapping):
        raise EvalError(f"eval.sources={sources!r} is invalid: must map {', '.join(REAL_TASKS)} to a path or null")
    for name, value in sources.items():
        if name not in REAL_TASKS:
            raise EvalError(f"eval.sources.{name}: no such real task: choose from {', '.join(REAL_TASKS)}")
        if value is not None and not (isinstance(value, str) and value):
            raise EvalError(f"eval.sources.{name}={value!r} is invalid: a local file/directory path or null (Hub)")
    cfg["sources"] = dict(sources)
    _int(cfg, "limit", 1, nullable=True)
    _int(cfg, "n_samples", 0)
    _int(cfg, "max_new_tokens", 1)
    _int(cfg, "batch_size", 1)
    _int(cfg, "num_fewshot", 0, nullable=True)
    _int(cfg, "seed", 0)
    _int(cfg, "probe_size", 1)
    if not isinstance(cfg["test_ppl"], bool):
        raise EvalError(f"eval.test_ppl={cfg['test_ppl']!r} is invalid: must be true or false")
    cfg["spectra"] = check_spectra(cfg["spectra"])
    if cfg["math_prompt"] not in MATH_PROMPTS:
        raise EvalError(f"eval.math_prompt={cfg['math_prompt']!r} is invalid: choose from {', '.join(MATH_PROMPTS)}")
    if cfg["n_samples"] > 0:
        top_p = cfg["top_p"]
        if isinstance(top_p, bool) or not isinstance(top_p, (int, float)) or not 0 < top_p <= 1:
            raise EvalError(f"eval.top_p={top_p!r} is invalid: must be in (0, 1] (1 = plain sampling)")
        temp = cfg["temperature"]
        if isinstance(temp, bool) or not isinstance(temp, (int, float)) or not temp > 0:
            raise EvalError(f"eval.temperature={temp!r} is invalid: must be > 0 (greedy pass@1 is always measured)")
        ks = cfg["k"]
        if not isinstance(ks, (list, tuple)) or not ks:
            raise EvalError(f"eval.k={ks!r} is invalid: must be a non-empty list of integers such as [1, 10]")
        for k in ks:
            if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= cfg["n_samples"]:
                raise EvalError(f"eval.k contains {k!r}: each k must be an integer in [1, eval.n_samples="
                                f"{cfg['n_samples']}]")  # fmt: skip
        cfg["k"] = sorted(set(ks))
    return cfg



def check_spectra(spectra: Any) -> dict:
    """``eval.spectra`` as a dict with every key (SPECTRA_DEFAULTS), each value checked."""
    if not isinstance(spectra, Mapping):
        raise EvalError(f"eval.spectra={spectra!r} is invalid: a mapping of {', '.join(SPECTRA_DEFAULTS)} "
                        "(e.g. eval.spectra.enabled=false)")
    unknown = sorted(set(spectra) - set(SPECTRA_DEFAULTS))
    if unknown:
        raise EvalError(f"eval.spectra.{unknown[0]} is not a spectra option: allowed are {', '.join(SPECTRA_DEFAULTS)}")
    out = {**SPECTRA_DEFAULTS, **spectra}
    for key in ("enabled", "center", "mask_padding"):
        if not isinstance(out[key], bool):
            raise EvalError(f"eval.spectra.{key}={out[key]!r} is invalid: must be true or false")
    layers = out["layers"]
    if layers is not None and (isinstance(layers, bool) or not isinstance(layers, (int, float)) or not 0 < layers <= 1):
        raise EvalError(f"eval.spectra.layers={layers!r} is invalid: null (every adapted layer) or the deepest "
                        "fraction of the decoder layers in (0, 1] (the authors' code: 0.15625 = 5/32)")
    if out["aggregate"] not in SPECTRA_AGGREGATES:
        raise EvalError(f"eval.spectra.aggregate={out['aggregate']!r} is invalid: choose from "
                        f"{', '.join(SPECTRA_AGGREGATES)}")
    return out
