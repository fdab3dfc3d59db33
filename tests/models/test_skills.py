"""cera.models.skills: the probe of what a backbone knows before fine-tuning."""

from __future__ import annotations

import re
import subprocess
import sys
from decimal import Decimal

import pytest

from cera.data.synthetic.complex import logistic_step
from cera.models.skills import FAMILIES, GATES, copy_prompts, fact_prompts, gate_failures, is_correct, recall_prompts
from tests.conftest import REPO, TINY_MODEL


@pytest.mark.parametrize("completion,answer,ok", [
    ("0.84. 3.5*", "0.84", True),
    ("0.845", "0.84", False),     # a longer number is not the answer
    ("0.84.5", "0.84", False),
    ("17 and", "17", True),
    ("170", "17", False),
    (" 17", "17", False),         # the prompt ends where the answer starts
    ("wind.", "wind", True),
])
def test_is_correct_known_answers(completion, answer, ok):
    assert is_correct(completion, answer) is ok


def test_fact_prompts_are_true_facts():
    for prompt, answer in fact_prompts("logistic", 50):
        r, x, one_minus = re.fullmatch(r"([\d.]+)\*([\d.]+)\*([\d.]+)=", prompt).groups()
        assert Decimal(one_minus) == 1 - Decimal(x) and answer == f"{logistic_step(r, Decimal(x)):.2f}"
    for prompt, answer in fact_prompts("digit_squares", 50):
        assert sum(int(d) ** 2 for d in re.findall(r"(\d)\^2", prompt)) == int(answer)
    for prompt, answer in fact_prompts("cubic_mod", 50):
        x, c, p = map(int, re.fullmatch(r"\((\d+)\^3\+(\d+)\) mod (\d+)=", prompt).groups())
        assert (x**3 + c) % p == int(answer)
    for prompt, answer in fact_prompts("basic", 50):
        assert eval(prompt[:-1].replace("/", "//")) == int(answer)  # noqa: S307 - our own digits and operators
    with pytest.raises(ValueError, match="family='nope' is not one of basic"):
        fact_prompts("nope", 1)
    assert set(FAMILIES) == {"basic", "logistic", "cubic_mod", "digit_squares"}


@pytest.mark.parametrize("k", [1, 2, 3])
def test_recall_prompts_ask_a_bound_variable(k):
    for prompt, answer in recall_prompts(k, 30):
        binds = dict(re.findall(r"(\w) = (\d+(?:\.\d+)?)", prompt))
        asked = re.search(r"Then (\w) is $", prompt).group(1)
        assert len(binds) == k and binds[asked] == answer


def test_copy_prompts():
    for prompt, answer in copy_prompts(20):
        assert prompt == f"{answer}; again: "


def test_cli_prints_every_skill_on_the_test_backbone(cli_env):
    out = subprocess.run([sys.executable, "-m", "cera.models.skills", *TINY_MODEL, "n=3"], cwd=REPO, env=cli_env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = [ln for ln in out.stdout.splitlines() if re.match(r"(fact|recall|copy)\b", ln)]  # not the build's log
    assert [ln.split()[0] for ln in lines] == [*(f"fact/{f}" for f in FAMILIES), "recall/1var", "recall/2var",
                                               "recall/3var", "copy"]
    for ln in lines:
        assert 0.0 <= float(ln.split()[1].rstrip("%")) <= 100.0
    # a 3-step test backbone recalls nothing: the verdict names the missed gate with its measured value
    recall = float(next(ln for ln in lines if ln.startswith("recall/1var")).split()[1].rstrip("%")) / 100
    assert out.stdout.splitlines()[-1] == f"gate: FAILED (recall/1var {recall:.1%} < 90%)"


def test_gate_failures_known_answers():
    assert GATES == {"recall/1var": 0.90}  # the README's pre-declared gate
    assert gate_failures({"recall/1var": 0.90, "copy": 0.0}) == []  # the floor itself passes
    assert gate_failures({"recall/1var": 0.895}) == ["recall/1var 89.5% < 90%"]
    assert gate_failures({"copy": 1.0}) == ["recall/1var 0.0% < 90%"]  # not measured is not passed


def test_cli_rejects_a_bad_n(cli_env):
    out = subprocess.run([sys.executable, "-m", "cera.models.skills", "n=0x"], cwd=REPO, env=cli_env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and out.stderr.strip() == "cera.models.skills: error: n=0x is invalid: must be a positive integer"
