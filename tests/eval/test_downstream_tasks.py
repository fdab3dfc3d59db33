"""Task construction: local variants equal lm-eval's built-in tasks; synthetic prompts equal training's."""

from __future__ import annotations

import pytest

from cera.data import Example, format_prompt, load_splits
from cera.eval.config import EvalError
from cera.eval.downstream import build_requests, score_generations
from cera.eval.lmeval_tasks import builtin_yaml, local_data_files, prepare_tasks, write_local_real
from tests.eval.lmeval_helpers import (GSM8K_TEST, GSM8K_TRAIN, MATH_TEST, MATH_TRAIN, builtin_task, local_real_task,
                                       synthetic_task, write_jsonl)  # fmt: skip

DATA_KEYS = {"task", "dataset_path", "dataset_name", "dataset_kwargs", "metadata"}
GENERATIONS = ["#### 1,000", "So 1000.", "$\\frac12$", "\\boxed{2}", "$2$", "#### 5", "", "12"]


def _config_diff(a, b) -> set[str]:
    da, db = a.config.to_dict(), b.config.to_dict()
    return {k for k in da.keys() | db.keys() if da.get(k) != db.get(k)}


def _same_behaviour(local, builtin, shots: int):
    """Same prompts (few-shot context included) and same exact_match scores of the same generations."""
    li, bi = build_requests(local, None, shots, 1234), build_requests(builtin, None, shots, 1234)
    assert [i.arguments[0] for i in li] == [i.arguments[0] for i in bi]
    assert [i.arguments[1] for i in li] == [i.arguments[1] for i in bi]  # generation kwargs
    assert [local.doc_to_target(i.doc) for i in li] == [builtin.doc_to_target(i.doc) for i in bi]
    outputs = [GENERATIONS for _ in li]
    ours, theirs = score_generations(local, li, outputs), score_generations(builtin, bi, outputs)
    assert [{f: v["metrics"]["exact_match"] for f, v in s.items()} for s in ours] == \
        [{f: v["metrics"]["exact_match"] for f, v in s.items()} for s in theirs]  # fmt: skip
    return li


def test_local_gsm8k_is_the_builtin_task(tmp_path, monkeypatch):
    test = write_jsonl(tmp_path / "gsm8k" / "test.jsonl", GSM8K_TEST)
    train = write_jsonl(tmp_path / "gsm8k" / "train.jsonl", GSM8K_TRAIN)
    local = local_real_task(tmp_path / "eval", "gsm8k", tmp_path / "gsm8k", num_fewshot=None)
    builtin = builtin_task(monkeypatch, builtin_yaml("gsm8k"), "openai/gsm8k",
                           {"test": str(test), "train": str(train)})  # fmt: skip
    assert builtin.task_name == "gsm8k" and local.task_name == "cera_gsm8k_local"
    assert _config_diff(local, builtin) <= DATA_KEYS
    instances = _same_behaviour(local, builtin, shots=5)  # gsm8k's own default: 5-shot from train
    assert instances[0].arguments[0].count("Question:") == 6
    assert instances[0].arguments[0].endswith("Question: " + GSM8K_TEST[0]["question"] + "\nAnswer:")


@pytest.mark.parametrize("with_train", [True, False])
def test_local_hendrycks_math_is_the_builtin_task(tmp_path, monkeypatch, with_train):
    folder = tmp_path / "math"
    test = write_jsonl(folder / "test.jsonl", MATH_TEST)
    files = {"test": str(test)}
    if with_train:
        files["train"] = str(write_jsonl(folder / "train.jsonl", MATH_TRAIN))
    local = local_real_task(tmp_path / "eval", "hendrycks_math", folder, num_fewshot=0)
    builtin_files = files if with_train else {**files, "train": str(test)}  # the Hub has a train split
    builtin = builtin_task(monkeypatch, builtin_yaml("hendrycks_math"), "EleutherAI/hendrycks_math", builtin_files)
    allowed = DATA_KEYS | {"process_results", "metric_list"}  # + cera's MATH scoring (math_verify beside exact_match)
    allowed |= set() if with_train else {"training_split", "fewshot_split", "fewshot_config"}
    assert _config_diff(local, builtin) <= allowed
    instances = _same_behaviour(local, builtin, shots=0)
    assert instances[1].arguments[0] == "Problem: " + MATH_TEST[1]["problem"] + "\nAnswer:"
    assert instances[1].doc["answer"] == "2"  # hendrycks_math's own process_docs ran


def test_local_source_without_train_file_refuses_few_shot(tmp_path):
    source = write_jsonl(tmp_path / "gsm8k_test.jsonl", GSM8K_TEST)
    with pytest.raises(EvalError, match="no train file for the 5-shot prompt"):
        write_local_real("gsm8k", tmp_path / "eval", str(source), None)
    write_local_real("gsm8k", tmp_path / "eval", str(source), 0)  # zero-shot is fine


@pytest.mark.parametrize("source,fragment", [("/nonexistent/gsm8k", "does not exist"), ("empty", "no .jsonl")])
def test_bad_local_source(tmp_path, source, fragment):
    (tmp_path / "empty").mkdir()
    path = source if source.startswith("/") else str(tmp_path / source)
    with pytest.raises(EvalError, match=fragment):
        local_data_files(path, "eval.sources.gsm8k")


@pytest.mark.parametrize("name", ["basic", "complex"])
def test_synthetic_prompt_is_the_training_prompt(tmp_path, name):
    spec, = prepare_tasks({"tasks": [name], "limit": 5, "num_fewshot": None}, 3, tmp_path)
    expected = load_splits({"format": name, "source": "synthetic", "n_train": 0, "n_val": 0, "n_test": 5,
                            "seed": 3}).test  # fmt: skip
    task = synthetic_task_from_spec(spec, tmp_path)
    instances = build_requests(task, None, None, 0)
    assert [i.arguments[0] for i in instances] == [format_prompt(e) for e in expected]
    assert all(i.arguments[0].endswith("### Response:\n") for i in instances)
    assert [task.doc_to_target(i.doc) for i in instances] == [e.response for e in expected]


def synthetic_task_from_spec(spec, eval_dir):
    from cera.eval.lmeval_tasks import load_tasks

    (task,) = load_tasks([spec], eval_dir)[spec.name].values()
    return task


def test_synthetic_few_shot_is_training_format(tmp_path):
    pool = [Example(f"Q{i}", f"{i} + 1 = {i + 1}\n#### {i + 1}", answer=str(i + 1)) for i in range(4)]
    doc = Example("Q test", "1 + 1 = 2\n#### 2", answer="2")
    task = synthetic_task(tmp_path, "basic", [doc], pool)
    (instance,) = build_requests(task, None, 2, 0)
    prompt = instance.arguments[0]
    shots = prompt.split("\n\n### Instruction:")  # prompt + response blocks, then the test prompt
    assert prompt.count("### Instruction:") == 3 and prompt.endswith(format_prompt(doc))
    blocks = {format_prompt(e) + e.response for e in pool}
    assert shots[0] in blocks and "### Instruction:" + shots[1] in blocks


def test_basic_scores_like_gsm8k_strict_match():
    """cera_basic copies gsm8k.yaml's metric and strict-match filter; a drift upstream shows here."""
    from lm_eval.tasks._yaml_loader import load_yaml

    from cera.eval.lmeval_tasks import TASK_DIR

    ours = load_yaml(TASK_DIR / "cera_basic.yaml", resolve_func=False)
    gsm8k = load_yaml(builtin_yaml("gsm8k"), resolve_func=False)
    assert ours["metric_list"] == gsm8k["metric_list"]
    assert ours["filter_list"] == [f for f in gsm8k["filter_list"] if f["name"] == "strict-match"]
