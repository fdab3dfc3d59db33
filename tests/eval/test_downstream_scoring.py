"""Known generations through the REAL lm-eval filters and process_results give hand-computed scores.

Each expected 0/1 below is worked out by hand from the task definition it names:
* cera_basic = gsm8k "strict-match": first "#### N", drop "," "$" and a trailing ".", compare strings;
* cera_complex: last \\boxed{} content; math_verify (primary: mathematical equivalence, 0.470 = 0.47)
  and exact_match (hendrycks_math is_equiv: \\frac12 = \\frac{1}{2}, 0.5 = 1/2, but 0.470 != 0.47);
* hendrycks_math (built-in definition on local rows), its exact_match: the answer is the whole output,
  or the span between its first and last "$" — a \\boxed{} is NOT unwrapped, so "\\boxed{2}" scores 0
  (cera's math_verify metric beside it does: tests/eval/test_math_equivalence.py);
* gsm8k (built-in definition on local rows): strict-match and flexible-extract (last number).
"""

from __future__ import annotations

import pytest

from cera.data import Example
from tests.eval.lmeval_helpers import (GSM8K_TEST, GSM8K_TRAIN, MATH_TEST, local_real_task, score, synthetic_task,
                                       write_jsonl)  # fmt: skip

BASIC = [
    Example("Q five", "2 + 3 = 5\n#### 5", answer="5"),
    Example("Q thousand", "500 + 500 = 1000\n#### 1000", answer="1000"),
    Example("Q negative", "5 - 8 = -3\n#### -3", answer="-3"),
]
BASIC_CASES = [  # (problem index, generation, correct)
    (0, "2 + 3 = 5\n#### 5", 1),
    (0, "#### 5.0", 0),  # "5.0" != "5": only a trailing "." is dropped
    (0, "#### 5.", 1),
    (0, "#### 5 apples", 1),
    (0, "#### 6", 0),
    (0, "The answer is 5", 0),  # strict: no "#### "
    (0, "#### 4\n#### 5", 0),  # the first "#### " counts
    (0, "", 0),
    (1, "#### 1,000", 1),  # "," is ignored
    (1, "#### 1000", 1),
    (1, "#### $1,000", 0),  # the regex needs a digit right after "#### "
    (1, "#### 1.000", 0),
    (2, "#### -3", 1),
    (2, "#### 3", 0),
    (2, "#### \u22123", 0),  # a unicode minus is not "-"
]
COMPLEX = [
    Example("Q half", "1 / 2 = 0.5\n\\boxed{\\frac{1}{2}}", answer="\\frac{1}{2}"),
    Example("Q logistic", "x1 = 0.84, x2 = 0.47\n\\boxed{0.47}", answer="0.47"),
]
COMPLEX_CASES = [  # (problem, generation, math_verify, exact_match)
    (0, "\\boxed{\\frac12}", 1, 1),
    (0, "\\boxed{\\frac{1}{2}}", 1, 1),
    (0, "so \\boxed{0.5}", 1, 1),  # MATH normalisation maps 0.5 to \\frac{1}{2}
    (0, "\\boxed{1/2}", 1, 1),
    (0, "\\boxed{\\dfrac{1}{2}}", 1, 1),
    (0, "\\boxed{\\frac{1}{3}}", 0, 0),
    (0, "1/2", 0, 0),  # no \\boxed{}
    (0, "\\boxed{3} no, \\boxed{\\frac12}", 1, 1),  # the last box counts
    (0, "\\boxed{\\frac12} no, \\boxed{3}", 0, 0),
    (0, "\\boxed{\\frac12", 0, 0),  # unbalanced
    (1, "x1 = 0.84, x2 = 0.47\n\\boxed{0.47}", 1, 1),
    (1, "\\boxed{.47}", 1, 1),
    (1, "\\boxed{ 0.47 }", 1, 1),
    (1, "\\boxed{0.470}", 1, 0),  # equal as numbers, not as strings
    (1, "\\boxed{0.48}", 0, 0),
    (1, "x2 = 0.47", 0, 0),
]
MATH_CASES = [
    (0, "$\\frac12$", 1),
    (0, "\\frac{1}{2}", 1),
    (0, "The answer is $\\frac{1}{2}$.", 1),
    (0, "$\\frac{1}{3}$", 0),
    (0, "\\boxed{\\frac{1}{2}}", 0),  # hendrycks_math does not unwrap \boxed{}
    (0, "$\\boxed{\\frac12}$", 0),
    (1, "$2$", 1),
    (1, "$x = 2$", 1),  # "x=" (<= 2 chars before "=") is dropped by strip_string
    (1, "2.0", 0),
]
GSM8K_CASES = [  # (problem, generation, strict-match, flexible-extract)
    (0, "#### 1,000", 1, 1),
    (0, "So she has 1000 apples.", 0, 1),
    (0, "The answer is $1,000.", 0, 1),
    (0, "#### 1000\nThen 7 more", 1, 0),  # flexible takes the LAST number
    (1, "#### 5.0", 0, 0),
    (1, "#### 5", 1, 1),
    (2, "3 * 4 = 12\n#### 12", 1, 1),
]


def _by_problem(cases, n: int) -> list[list[str]]:
    outputs = [[] for _ in range(n)]
    for case in cases:
        outputs[case[0]].append(case[1])
    return outputs


def _expected(cases, n: int, column: int = 2) -> list[list[int]]:
    out = [[] for _ in range(n)]
    for case in cases:
        out[case[0]].append(case[column])
    return out


@pytest.mark.parametrize("name,examples,cases", [("basic", BASIC, BASIC_CASES), ("complex", COMPLEX, COMPLEX_CASES)])
def test_synthetic_tasks_score_known_generations(tmp_path, name, examples, cases):
    task = synthetic_task(tmp_path, name, examples)
    scored = score(task, _by_problem(cases, len(examples)))
    (key,) = scored[0]  # one filter pipeline: strict-match | last-boxed
    assert key == {"basic": "strict-match", "complex": "last-boxed"}[name]
    assert [s[key]["correct"] for s in scored] == _expected(cases, len(examples))
    if name == "complex":
        assert [s[key]["metrics"]["math_verify"] for s in scored] == _expected(cases, len(examples))
        assert [s[key]["metrics"]["exact_match"] for s in scored] == _expected(cases, len(examples), 3)


def test_complex_extracts_the_last_box(tmp_path):
    task = synthetic_task(tmp_path, "complex", COMPLEX)
    scored = score(task, [["\\boxed{3} no, \\boxed{\\frac12}", "none"], ["\\boxed{ 0.47 }"]])
    assert scored[0]["last-boxed"]["extracted"] == ["\\frac12", None]
    assert scored[1]["last-boxed"]["extracted"] == [" 0.47 "]


def test_hendrycks_math_scores_the_raw_answer_not_the_box(tmp_path):
    source = write_jsonl(tmp_path / "math_test.jsonl", MATH_TEST)
    task = local_real_task(tmp_path / "eval", "hendrycks_math", source)
    scored = score(task, _by_problem(MATH_CASES, len(MATH_TEST)))
    assert [s["none"]["metrics"]["exact_match"] for s in scored] == _expected(MATH_CASES, len(MATH_TEST))


def test_gsm8k_strict_and_flexible_extract(tmp_path):
    write_jsonl(tmp_path / "gsm8k" / "test.jsonl", GSM8K_TEST)
    write_jsonl(tmp_path / "gsm8k" / "train.jsonl", GSM8K_TRAIN)
    task = local_real_task(tmp_path / "eval", "gsm8k", tmp_path / "gsm8k")
    scored = score(task, _by_problem(GSM8K_CASES, len(GSM8K_TEST)))
    assert list(scored[0]) == ["strict-match", "flexible-extract"]
    assert [s["strict-match"]["correct"] for s in scored] == _expected(GSM8K_CASES, 3, 2)
    assert [s["flexible-extract"]["correct"] for s in scored] == _expected(GSM8K_CASES, 3, 3)
