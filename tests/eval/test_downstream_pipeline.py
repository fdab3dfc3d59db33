"""Generation and per-sample scoring: every sample scored, pass@k + CIs, HFLM on a tiny model."""

from __future__ import annotations

import math

import peft
import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from cera.data import Example, format_prompt
from cera.eval.config import EvalError, check_eval_config
from cera.eval.downstream import (SFT_STOP, breakdown, case_study, check_prompt_lengths, evaluate_task, generate,
                                  make_lm, summarize_rows)  # fmt: skip
from cera.eval.passk import pass_at_k
from cera.tokenizer import build_tokenizer
from tests.eval.lmeval_helpers import synthetic_task

PROBLEMS = [Example(f"Q{i}", f"{i} + 1 = {i + 1}\n#### {i + 1}", answer=str(i + 1)) for i in range(3)]
CORRECT_SAMPLES = [3, 0, 10]  # of 10 samples per problem


class ScriptedLM:
    """Stands in for HFLM: answers from a script and records the generation kwargs it was given."""

    max_length = 4096

    def __init__(self):
        self.kwargs, self.seen = [], {}

    def tok_encode(self, text: str) -> list[int]:
        return list(text.encode())

    def generate_until(self, requests) -> list[str]:
        out = []
        for r in requests:
            prompt, kwargs = r.args
            self.kwargs.append(kwargs)
            i = int(prompt.split("Q")[-1].split("\n")[0])
            if not kwargs["do_sample"]:  # greedy: right on problem 0 only
                out.append(f"#### {i + 1}" if i == 0 else "#### 0")
                continue
            j = self.seen[i] = self.seen.get(i, -1) + 1  # the j-th sample of problem i
            out.append(f"{i} + 1 = {i + 1}\n#### {i + 1}" if j < CORRECT_SAMPLES[i] else f"#### {i + 7}")
        return out


CFG = check_eval_config({"tasks": ["basic"], "limit": None, "n_samples": 10, "k": [1, 2, 10], "seed": 0})


def test_every_sample_is_scored(tmp_path):
    task = synthetic_task(tmp_path, "basic", PROBLEMS)
    lm = ScriptedLM()
    rows = evaluate_task(lm, "basic", {"cera_basic": task}, CFG)
    assert [r["n"] for r in rows] == [10, 10, 10]
    assert [r["c"] for r in rows] == CORRECT_SAMPLES  # lm-eval's take_first would see 1, 0, 1
    assert [sum(r["correct"]) for r in rows] == CORRECT_SAMPLES
    assert [r["greedy_correct"] for r in rows] == [1, 0, 0]
    assert rows[0]["prompt"] == format_prompt(PROBLEMS[0]) and rows[0]["target"] == PROBLEMS[0].response
    assert rows[0]["extracted"][:3] == ["1", "1", "1"] and rows[0]["extracted"][3] == "7"
    greedy = [k for k in lm.kwargs if not k["do_sample"]]
    sampled = [k for k in lm.kwargs if k["do_sample"]]
    assert len(greedy) == 3 and len(sampled) == 30
    assert greedy[0]["temperature"] == 0.0 and "top_k" not in greedy[0]
    assert sampled[0]["temperature"] == 0.8 and sampled[0]["top_k"] == 0 and sampled[0]["top_p"] == 1.0
    assert all(k["until"][-1] == SFT_STOP and k["max_gen_toks"] == 256 for k in lm.kwargs)


def test_summary_pass_at_k_with_intervals(tmp_path):
    task = synthetic_task(tmp_path, "basic", PROBLEMS)
    summary = summarize_rows(evaluate_task(ScriptedLM(), "basic", {"cera_basic": task}, CFG), [1, 2, 10])
    assert summary["problems"] == 3 and summary["n_samples"] == 10 and summary["filter"] == "strict-match"
    assert summary["pass@1_greedy"]["value"] == pytest.approx(1 / 3)
    for k in (1, 2, 10):
        expected = sum(pass_at_k(10, c, k) for c in CORRECT_SAMPLES) / 3
        assert summary[f"pass@{k}"]["value"] == pytest.approx(expected)
        assert summary[f"pass@{k}"]["lo"] <= expected <= summary[f"pass@{k}"]["hi"]
    assert summary["pass@1"]["value"] == pytest.approx(13 / 30)
    assert summary["pass@10"]["value"] == pytest.approx(2 / 3)


def test_greedy_only_when_no_samples(tmp_path):
    task = synthetic_task(tmp_path, "basic", PROBLEMS)
    cfg = {**CFG, "n_samples": 0}
    rows = evaluate_task(ScriptedLM(), "basic", {"cera_basic": task}, cfg)
    assert all(r["n"] == 0 and r["generations"] == [] for r in rows)
    assert set(summarize_rows(rows, [])) >= {"pass@1_greedy"} and "pass@1" not in summarize_rows(rows, [])


def test_case_study_on_logistic_rows():
    meta = {"task": "logistic", "trajectory": [0.4, 0.84, 0.47, 0.87]}
    rows = [{"meta": meta, "greedy_generation": "x1 = 0.84, x2 = 0.84, x3 = 0.84\n\\boxed{0.84}",
             "generations": ["x1 = 0.84, x2 = 0.47, x3 = 0.87\n\\boxed{0.87}"]},
            {"meta": {"task": "collatz"}, "greedy_generation": "", "generations": []}]  # fmt: skip
    out = case_study(rows)
    assert out["problems"] == 1
    assert out["greedy"]["state_collapse_rate"] == 1.0 and out["sampled"]["state_collapse_rate"] == 0.0
    assert out["greedy"]["per_step_abs_error"] == pytest.approx([0.0, 0.37, 0.03])
    assert case_study([rows[1]]) is None


def test_breakdown_by_family_and_level():
    def row(family, level, correct):
        return {"meta": {"task": "x", "family": family, "level": level}, "greedy_correct": correct}

    rows = [row("logistic", 1, 1), row("logistic", 1, 0), row("logistic", 3, 0), row("add", 1, 1),
            {"meta": None, "greedy_correct": 1}]  # fmt: skip
    out = breakdown(rows)
    assert out["by_family"]["logistic"]["problems"] == 3
    assert out["by_family"]["logistic"]["pass@1_greedy"]["value"] == pytest.approx(1 / 3)
    assert out["by_level"]["1"]["pass@1_greedy"]["value"] == pytest.approx(2 / 3)
    assert out["by_family_level"]["logistic/1"]["pass@1_greedy"]["value"] == 0.5
    assert out["by_family_level"]["add/1"] == {"problems": 1, "pass@1_greedy": {"value": 1.0, "lo": 1.0, "hi": 1.0}}
    assert set(out["by_family_level"]) == {"logistic/1", "logistic/3", "add/1"}  # the meta-less row is left out
    assert breakdown([{"meta": None, "greedy_correct": 0}]) is None


def test_summary_has_the_breakdown_of_synthetic_problems(tmp_path):
    problems = [Example(e.instruction, e.response, answer=e.answer, meta={"family": "add", "level": 1 + (i > 0)})
                for i, e in enumerate(PROBLEMS)]  # fmt: skip
    task = synthetic_task(tmp_path, "basic", problems)
    summary = summarize_rows(evaluate_task(ScriptedLM(), "basic", {"cera_basic": task}, CFG), [1])
    levels = summary["breakdown"]["by_family_level"]
    assert set(levels) == {"add/1", "add/2"} and levels["add/2"]["problems"] == 2
    assert levels["add/1"]["pass@1_greedy"]["value"] == 1.0 and levels["add/2"]["pass@1_greedy"]["value"] == 0.0


# ---- the real HFLM on a tiny random Llama with the byte tokenizer --------------------------------


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    tok = build_tokenizer(model_max_length=160)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=160,
                         bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                         pad_token_id=tok.pad_token_id)  # fmt: skip
    return LlamaForCausalLM(config).eval(), tok


def test_prompt_tokens_are_the_training_tokens(tiny):
    model, tok = tiny
    lm = make_lm(model, tok, batch_size=2)
    prompt = format_prompt(PROBLEMS[0])
    ids = lm.tok_encode(prompt)
    assert ids == tok(prompt, add_special_tokens=False)["input_ids"]
    assert ids[-1] != tok.eos_token_id and ids[0] != tok.bos_token_id
    batch, _ = lm.tok_batch_encode([prompt])
    assert batch[0].tolist() == ids


def test_left_padded_batches_generate_what_single_prompts_do(tmp_path, tiny):
    model, tok = tiny
    task = synthetic_task(tmp_path, "basic", [Example("Q" * n, "#### 1", answer="1") for n in (1, 9, 30)])
    from cera.eval.downstream import build_requests, generation_kwargs

    instances = build_requests(task, None, 0, 0)
    kwargs = generation_kwargs(task, 12, None)
    batched = generate(make_lm(model, tok, batch_size=3), instances, kwargs, 1)
    single = generate(make_lm(model, tok, batch_size=1), instances, kwargs, 1)
    assert batched == single and all(len(g[0]) > 0 for g in batched)
    for inst, (text,) in zip(instances, single, strict=True):  # = plain transformers greedy decoding
        ids = tok(inst.arguments[0], add_special_tokens=False, return_tensors="pt")["input_ids"]
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=12, do_sample=False)
        assert text == tok.decode(out[0, ids.shape[1] :], skip_special_tokens=True).split(SFT_STOP)[0]


def test_long_prompts_are_refused_not_truncated(tmp_path, tiny):
    model, tok = tiny
    task = synthetic_task(tmp_path, "basic", [Example("word " * 20, "#### 1", answer="1")])
    from cera.eval.downstream import build_requests

    instances = build_requests(task, None, 0, 0)
    lm = make_lm(model, tok, batch_size=1)
    assert check_prompt_lengths(lm, "basic", instances, 16) == len(format_prompt(Example("word " * 20, "")))
    with pytest.raises(EvalError, match="1 of 1 prompts are longer than 60 tokens"):
        check_prompt_lengths(lm, "basic", instances, 100)


def test_peft_model_is_unwrapped(tiny):
    model, tok = tiny
    lora = peft.get_peft_model(LlamaForCausalLM(model.config), peft.LoraConfig(r=2, target_modules=["q_proj"]))
    lm = make_lm(lora, tok, batch_size=1)
    assert lm.model is lora.get_base_model() and lm.max_length == 160


def test_sampling_is_seeded(tmp_path, tiny):
    model, tok = tiny
    task = synthetic_task(tmp_path, "basic", PROBLEMS[:2])
    cfg = {**CFG, "n_samples": 3, "k": [1], "max_new_tokens": 8}
    runs = [evaluate_task(make_lm(model, tok, 4), "basic", {"cera_basic": task}, cfg) for _ in range(2)]
    assert [r["generations"] for r in runs[0]] == [r["generations"] for r in runs[1]]
    assert not math.isnan(summarize_rows(runs[0], [1])["pass@1"]["value"])


def test_top_p_reaches_the_sampler(tmp_path):
    task = synthetic_task(tmp_path, "basic", PROBLEMS)
    lm = ScriptedLM()
    evaluate_task(lm, "basic", {"cera_basic": task}, {**CFG, "top_p": 0.95})
    sampled = [k for k in lm.kwargs if k["do_sample"]]
    assert {k["top_p"] for k in sampled} == {0.95} and {k["top_k"] for k in sampled} == {0}
    assert all("top_p" not in k for k in lm.kwargs if not k["do_sample"])  # greedy stays greedy
