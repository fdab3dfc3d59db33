"""The switches the README's "Paper text versus the authors' code" table names as available today do
what the table says: each composes, passes validation, and sets the value the authors' code uses."""

from __future__ import annotations

import pytest

from cera.config import validate
from cera.eval.config import check_eval_config


def test_cera_without_scale(compose):
    """method.alpha=${rank}: s = alpha / r = 1, the authors' unscaled B(D(σ(A x)))."""
    config = validate(compose("method=cera", "rank=8", "method.alpha=${rank}"))
    assert config.scale == 1.0
    assert validate(compose("method=cera", "rank=8")).scale == 2.0  # the paper's default, alpha = 2r


def test_lora_alpha_32_no_dropout(compose):
    """method.lora_alpha=32 dropout=0: the authors' LoRAWrapper defaults (s = 32 / r)."""
    config = validate(compose("method=lora", "rank=64", "method.lora_alpha=32", "dropout=0"))
    assert (config.lora_alpha, config.lora_dropout, config.lora_alpha / config.r) == (32, 0.0, 0.5)


def test_constant_learning_rate(compose):
    """train.scheduler=constant train.warmup_ratio=0: AdamW at a constant LR, as the authors' trainer."""
    from transformers import SchedulerType

    cfg = compose("train.scheduler=constant", "train.warmup_ratio=0", "lr=1e-3")
    validate(cfg)
    assert SchedulerType(cfg.train.scheduler) is SchedulerType.CONSTANT and cfg.lr == 1e-3


def test_llama31_base_model(compose):
    cfg = compose("model=llama3_8b", "model.path=meta-llama/Llama-3.1-8B", tiny=False)
    assert cfg.model.path == "meta-llama/Llama-3.1-8B" and list(cfg.model.target_modules) == ["q_proj", "v_proj"]


@pytest.mark.parametrize("overrides,expected", [
    (("eval.top_p=0.95", "eval.temperature=0.8"), {"top_p": 0.95, "temperature": 0.8}),
    (("eval.math_prompt=solution", "eval.max_new_tokens=1024"), {"math_prompt": "solution", "max_new_tokens": 1024}),
    (("eval.tasks=[hendrycks_math]", "eval.sources.hendrycks_math=/data/math/test.jsonl", "eval.limit=500"),
     {"limit": 500}),
    (("eval.tasks=[gsm8k]", "eval.num_fewshot=0"), {"num_fewshot": 0}),
])  # fmt: skip
def test_eval_switches(compose, overrides, expected):
    cfg = check_eval_config(compose("data=synthetic_math", *overrides, tiny=False).eval)
    assert {k: cfg[k] for k in expected} == expected
