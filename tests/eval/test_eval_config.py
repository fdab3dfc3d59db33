"""The eval config group: every shipped file is valid; bad values fail in one line naming the key."""

from __future__ import annotations

import pytest

from cera.config import CONF_DIR
from cera.eval.config import EvalError, check_eval_config

EVAL_CONFIGS = sorted((CONF_DIR / "eval").glob("*.yaml"))


@pytest.mark.parametrize("path", EVAL_CONFIGS, ids=[p.stem for p in EVAL_CONFIGS])
def test_shipped_eval_configs_are_valid(compose, path):
    cfg = check_eval_config(compose(f"eval={path.stem}", "data=synthetic_math", tiny=False).eval)
    assert set(cfg["tasks"]) <= {"basic", "complex", "gsm8k", "hendrycks_math", "math500"}


def test_default_tasks_follow_the_data(compose):
    math = check_eval_config(compose("data=synthetic_math", tiny=False).eval)
    assert math["tasks"] == ["basic", "complex"] and math["spectra"] and math["test_ppl"]
    assert math["k"] == [1, 10] and math["n_samples"] == 10 and math["num_fewshot"] is None
    assert check_eval_config(compose("data=mathinstruct", tiny=False).eval)["tasks"] == ["gsm8k", "hendrycks_math"]
    instruct = check_eval_config(compose(tiny=False).eval)  # instruction data: perplexity, no exact match
    assert instruct["tasks"] == []
    assert instruct == check_eval_config({})  # the fallbacks of keys a config leaves out are the defaults


@pytest.mark.parametrize(
    "override,fragment",
    [
        ({"tasks": ["basic", "mmlu"]}, "unknown task 'mmlu'"),
        ({"tasks": "basic"}, "must be a list"),
        ({"tasks": ["basic", "basic"]}, "names a task twice"),
        ({"limit": 0}, "eval.limit=0 is invalid"),
        ({"n_samples": -1}, "eval.n_samples=-1"),
        ({"k": [1, 20]}, "each k must be an integer in [1, eval.n_samples=10]"),
        ({"k": []}, "eval.k=[] is invalid"),
        ({"temperature": 0}, "eval.temperature=0 is invalid"),
        ({"top_p": 0}, "eval.top_p=0 is invalid: must be in (0, 1]"),
        ({"top_p": 1.5}, "eval.top_p=1.5 is invalid"),
        ({"math_prompt": "cot"}, "eval.math_prompt='cot' is invalid: choose from answer, solution"),
        ({"sources": {"mmlu": "x"}}, "eval.sources.mmlu: no such real task"),
        ({"sources": {"gsm8k": 3}}, "eval.sources.gsm8k=3 is invalid"),
        ({"spectra": "yes"}, "eval.spectra='yes'"),
        ({"num_fewshot": -1}, "eval.num_fewshot=-1"),
        ({"tasks_": []}, "eval.tasks_ is not an eval option"),
    ],
)
def test_bad_values_one_line(override, fragment):
    with pytest.raises(EvalError) as err:
        check_eval_config({"tasks": ["basic"], **override})
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_k_is_not_checked_without_samples():
    assert check_eval_config({"n_samples": 0, "k": [10]})["n_samples"] == 0
