"""MATH answers scored by mathematical equivalence (math-verify) through the REAL lm-eval path.

A local MATH-500 file (the HuggingFaceH4/MATH-500 schema) runs as the ``math500`` task: lm-eval's own
``hendrycks_math500`` definition (prompt, ``process_docs``) plus ``cera/eval/tasks/math_verify.yaml``.
Each generation goes through the task's filters and ``process_results`` (``score_generations``), and
both metrics are checked against hand-decided answers:

* ``math_verify``: is the last ``\\boxed{}`` (no box: the last LaTeX expression or number) equal to the
  gold answer as mathematics? ``\\frac{1}{2}`` = ``0.5`` = ``\\dfrac12`` = ``\\frac{2}{4}``, ``2`` = ``2.0``;
  ``(1,2]`` != ``[1,2]``; a near miss (0.51, 5\\sqrt{3}) is wrong.
* ``exact_match``: lm-eval's hendrycks_math, unchanged: the raw response (or the span between its first
  and last ``$``), MATH's string normalisation, no ``\\boxed{}`` unwrapping.
"""

from __future__ import annotations

import json

import pytest

from cera.eval.config import check_eval_config
from cera.eval.lmeval_tasks import prepare_tasks
from tests.eval.lmeval_helpers import local_real_task, score, write_jsonl


def _row(i: int, answer: str, subject: str = "Algebra") -> dict:
    return {"problem": f"Problem {i}: find the value.", "solution": f"Work. So the answer is $\\boxed{{{answer}}}$.",
            "answer": answer, "subject": subject, "level": 3, "unique_id": f"test/{subject.lower()}/{i}.json"}  # fmt: skip


GOLD = ["\\frac{1}{2}", "2", "(1,2]", "\\text{(C)}", "5\\sqrt{2}", "\\frac{\\pi}{3}"]
MATH500 = [_row(i, a) for i, a in enumerate(GOLD)]
CASES = [  # (problem, generation, math_verify, exact_match)
    (0, "\\boxed{0.5}", 1, 0),  # hendrycks_math does not unwrap \boxed{}
    (0, "$\\boxed{\\dfrac{1}{2}}$", 1, 0),
    (0, "\\boxed{\\frac{2}{4}}", 1, 0),
    (0, "The answer is $\\frac{1}{2}$.", 1, 1),  # no box: the last LaTeX expression
    (0, "$0.5$", 1, 1),  # MATH's normalisation special-cases 0.5
    (0, "\\boxed{\\frac{1}{3}}", 0, 0),
    (0, "\\boxed{0.51}", 0, 0),  # near miss
    (0, "\\boxed{\\frac12} no wait, \\boxed{1}", 0, 0),  # the last box counts
    (1, "\\boxed{2.0}", 1, 0),
    (1, "$2$", 1, 1),
    (1, "\\boxed{2}", 1, 0),
    (1, "\\boxed{3}", 0, 0),
    (1, "\\boxed{-2}", 0, 0),
    (2, "\\boxed{(1, 2]}", 1, 0),
    (2, "$(1,2]$", 1, 1),
    (2, "\\boxed{[1,2]}", 0, 0),  # closed, not half-open
    (2, "\\boxed{(1,2)}", 0, 0),
    (3, "\\boxed{C}", 1, 0),  # \text{} wrapper and parentheses of a choice
    (3, "\\boxed{\\text{(C)}}", 1, 0),
    (3, "\\boxed{(D)}", 0, 0),
    (4, "\\boxed{\\sqrt{50}}", 1, 0),
    (4, "\\boxed{5\\sqrt{3}}", 0, 0),
    (4, "\\boxed{7.07}", 0, 0),  # a rounded decimal is not the exact value
    (5, "\\boxed{\\dfrac{\\pi}{3}}", 1, 0),
    (5, "\\boxed{\\frac{\\pi}{6}}", 0, 0),
    (5, "", 0, 0),
]


def _by_problem(n: int) -> list[list[str]]:
    outputs = [[] for _ in range(n)]
    for case in CASES:
        outputs[case[0]].append(case[1])
    return outputs


def _expected(n: int, column: int) -> list[list[int]]:
    out = [[] for _ in range(n)]
    for case in CASES:
        out[case[0]].append(case[column])
    return out


@pytest.fixture
def math500(tmp_path):
    source = write_jsonl(tmp_path / "math500" / "test.jsonl", MATH500)
    return local_real_task(tmp_path / "eval", "math500", source)


def test_math500_scores_by_mathematical_equivalence(math500):
    scored = score(math500, _by_problem(len(GOLD)))
    assert list(scored[0]) == ["none"]  # no filter: process_results sees the raw response
    assert [s["none"]["metrics"]["math_verify"] for s in scored] == _expected(len(GOLD), 2)
    assert [s["none"]["metrics"]["exact_match"] for s in scored] == _expected(len(GOLD), 3)
    assert [s["none"]["correct"] for s in scored] == _expected(len(GOLD), 2)  # math_verify is the primary metric


def test_math500_is_lm_evals_task_on_the_local_file(math500):
    from cera.eval.downstream import build_requests, metric_names

    instances = build_requests(math500, None, None, 0)
    assert [i.arguments[0] for i in instances] == [f"Problem: {r['problem']}\nAnswer:" for r in MATH500]
    assert [i.doc["answer"] for i in instances] == GOLD  # recomputed from the solution's last \boxed{}
    assert metric_names(math500) == ["math_verify", "exact_match"]


def test_hendrycks_math_local_gets_the_same_scoring(tmp_path):
    rows = [{"problem": r["problem"], "solution": r["solution"], "level": "Level 3", "type": "Algebra"}
            for r in MATH500]  # fmt: skip
    source = write_jsonl(tmp_path / "math" / "test.jsonl", rows)
    task = local_real_task(tmp_path / "eval", "hendrycks_math", source)
    scored = score(task, _by_problem(len(GOLD)))
    assert [s["none"]["metrics"]["math_verify"] for s in scored] == _expected(len(GOLD), 2)
    assert [s["none"]["metrics"]["exact_match"] for s in scored] == _expected(len(GOLD), 3)


def test_hub_math_tasks_are_generated_with_the_math_scoring(tmp_path):
    """From the Hub, hendrycks_math is a group of 7 generated subject files, each = built-in + scoring."""
    from lm_eval.tasks._yaml_loader import load_yaml

    cfg = check_eval_config({"tasks": ["hendrycks_math", "math500", "gsm8k"]})
    specs = {s.name: s for s in prepare_tasks(cfg, 0, tmp_path)}
    assert specs["gsm8k"].builtin and specs["math500"].lm_eval_name == "cera_hendrycks_math500"
    group = load_yaml(specs["hendrycks_math"].yaml_path)
    assert group["group"] == "cera_hendrycks_math" and len(group["task"]) == 7
    algebra = load_yaml(tmp_path / "tasks" / "cera_hendrycks_math_algebra.yaml")
    assert algebra["dataset_path"] == "EleutherAI/hendrycks_math" and algebra["dataset_name"] == "algebra"
    assert [m["metric"] for m in algebra["metric_list"]] == ["math_verify", "exact_match"]
    assert algebra["process_results"].__name__ == "process_math"
    assert json.dumps(load_yaml(specs["math500"].yaml_path)["dataset_path"]) == '"HuggingFaceH4/MATH-500"'


class BoxedLM:
    """Stands in for HFLM on one `complex` problem (gold 0.47): greedy "\\boxed{0.470}"; of 10 samples,
    3 "\\boxed{0.47}" (both metrics right), 3 "\\boxed{0.470}" (math_verify only), 4 "\\boxed{1}"."""

    max_length = 4096

    def __init__(self):
        self.j = -1

    def tok_encode(self, text: str) -> list[int]:
        return list(text.encode())

    def generate_until(self, requests) -> list[str]:
        out = []
        for r in requests:
            if not r.args[1]["do_sample"]:
                out.append("x2 = 0.47\n\\boxed{0.470}")
                continue
            self.j += 1
            out.append("\\boxed{0.47}" if self.j < 3 else "\\boxed{0.470}" if self.j < 6 else "\\boxed{1}")
        return out


def test_both_metrics_reach_the_summary(tmp_path):
    from cera.data import Example
    from cera.eval.downstream import evaluate_task, summarize_rows
    from tests.eval.lmeval_helpers import synthetic_task

    task = synthetic_task(tmp_path, "complex", [Example("Q logistic", "\\boxed{0.47}", answer="0.47")])
    cfg = check_eval_config({"tasks": ["complex"], "limit": None, "n_samples": 10, "k": [1, 10]})
    rows = evaluate_task(BoxedLM(), "complex", {"cera_complex": task}, cfg)
    assert rows[0]["greedy_by_metric"] == {"math_verify": 1, "exact_match": 0}
    assert [sum(v) for v in rows[0]["correct_by_metric"].values()] == [6, 3]
    summary = json.loads(json.dumps(summarize_rows(rows, [1, 10])))  # as downstream.json holds it
    assert summary["metric"] == "math_verify" and summary["pass@1"]["value"] == pytest.approx(0.6)
    mv, em = summary["by_metric"]["math_verify"], summary["by_metric"]["exact_match"]
    assert (mv["pass@1_greedy"]["value"], em["pass@1_greedy"]["value"]) == (1.0, 0.0)
    assert (mv["pass@1"]["value"], em["pass@1"]["value"]) == (pytest.approx(0.6), pytest.approx(0.3))
    assert mv["pass@10"]["value"] == em["pass@10"]["value"] == 1.0


def test_math_verify_runs_outside_the_main_thread():
    """math-verify's time limit uses SIGALRM (main thread only); in a worker thread it runs without one."""
    import threading

    from cera.eval.tasks.utils import math_verify_equal

    out = {}
    worker = threading.Thread(target=lambda: out.update(eq=math_verify_equal("\\frac{1}{2}", "0.5"),
                                                        ne=math_verify_equal("\\frac{1}{2}", "0.51")))  # fmt: skip
    worker.start()
    worker.join()
    assert out == {"eq": True, "ne": False}


def test_math_prompt_solution_is_the_authors_prompt(tmp_path):
    """eval.math_prompt=solution: "Problem: ...\\nSolution:" (the authors' evaluate.py); scoring unchanged."""
    from cera.eval.downstream import build_requests
    from cera.eval.lmeval_tasks import load_tasks, write_local_real

    source = write_jsonl(tmp_path / "math500" / "test.jsonl", MATH500)
    spec = write_local_real("math500", tmp_path / "eval", str(source), 0, math_prompt="solution")
    (task,) = load_tasks([spec], tmp_path / "eval")["math500"].values()
    instances = build_requests(task, None, None, 0)
    assert [i.arguments[0] for i in instances] == [f"Problem: {r['problem']}\nSolution:" for r in MATH500]
    assert instances[0].arguments[1]["until"] == ["Problem:"]  # lm-eval's stop string stays
    scored = score(task, _by_problem(len(GOLD)))
    assert [s["none"]["metrics"]["math_verify"] for s in scored] == _expected(len(GOLD), 2)
