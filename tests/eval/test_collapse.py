"""State-collapse metric on hand-written logistic-map generations (the paper's Table 2 case)."""

from __future__ import annotations

import math

import pytest

from cera.data.synthetic.complex import logistic_problem
from cera.eval.collapse import parse_trajectory, score_logistic, score_trajectory, summarize_collapse

# The paper's case, x_0 = 0.4, r = 3.5, 5 steps: 0.84, 0.47, 0.87, 0.40, 0.84.
PAPER = logistic_problem("3.5", "0.4", steps=5, ask="trajectory")


def test_paper_case_trajectory_is_what_the_tests_assume():
    assert PAPER.meta["trajectory"] == [0.4, 0.84, 0.47, 0.87, 0.40, 0.84]


def test_the_generators_own_response_scores_perfectly():
    score = score_logistic(PAPER.response, PAPER.meta)
    assert score["errors"] == [0.0] * 5 and score["mean_abs_error"] == 0.0
    assert score["missing"] == 0 and score["collapsed"] == 0 and score["eligible"] == 4
    assert score["state_collapse_rate"] == 0.0


def test_stuck_generation_collapses_on_two_of_four_steps():
    text = "x_1 = 0.84, x_2 = 0.47, x_3 = 0.87, x_4 = 0.87, x_5 = 0.87\n\\boxed{0.87}"
    score = score_logistic(text, PAPER.meta)
    assert score["errors"] == pytest.approx([0, 0, 0, 0.47, 0.03])
    assert (score["eligible"], score["collapsed"]) == (4, 2)  # steps 4 and 5 repeat 0.87
    assert score["state_collapse_rate"] == 0.5


def test_missing_steps_are_nan_counted_and_never_collapse():
    score = score_logistic("x_1 = 0.84, x_2 = 0.84, x_4 = 0.84", PAPER.meta)
    assert score["missing"] == 2 and math.isnan(score["errors"][2]) and math.isnan(score["errors"][4])
    assert score["errors"][:2] == pytest.approx([0.0, 0.37])
    assert score["collapsed"] == 1  # step 2 repeats step 1; steps 3-5 touch a missing value
    assert score["mean_abs_error"] == pytest.approx((0 + 0.37 + 0.44) / 3)
    empty = score_logistic("I cannot solve this.", PAPER.meta)
    assert empty["missing"] == 5 and empty["collapsed"] == 0 and math.isnan(empty["mean_abs_error"])


def test_fixed_point_repeats_are_not_collapse():
    fixed = logistic_problem("2.5", "0.6", steps=3)  # 2.5 · 0.6 · 0.4 = 0.6
    assert fixed.meta["trajectory"] == [0.6] * 4
    score = score_logistic(fixed.response, fixed.meta)
    assert score["eligible"] == 0 and math.isnan(score["state_collapse_rate"]) and score["missing"] == 0


@pytest.mark.parametrize(
    "text, parsed",
    [("x1 = 0.84, x2 = 0.47", {1: 0.84, 2: 0.47}),
     ("x_{1} = 0.84\nx_2 = 3.5*0.84*(1-0.84) = 0.47.", {1: 0.84, 2: 0.47}),
     ("x_0 = 0.4, x_1 = 0.84, x_1 = 0.5", {0: 0.4, 1: 0.84}),   # the first value of a step wins
     ("0.84, 0.47, 0.87\n\\boxed{0.87}", {1: 0.84, 2: 0.47, 3: 0.87}),  # a bare list, in order
     ("x_1 = , x_2 = 0.47", {2: 0.47})],
)  # fmt: skip
def test_parse_trajectory(text, parsed):
    assert parse_trajectory(text) == parsed


def test_summary_pools_steps_across_problems():
    stuck = score_logistic("x_1 = 0.84, x_2 = 0.47, x_3 = 0.87, x_4 = 0.87, x_5 = 0.87", PAPER.meta)
    perfect = score_logistic(PAPER.response, PAPER.meta)
    short = score_trajectory("x_1 = 0.84", [0.4, 0.84, 0.47])
    summary = summarize_collapse([stuck, perfect, short])
    assert summary["state_collapse_rate"] == pytest.approx(2 / 9)  # 4 + 4 + 1 eligible steps
    assert summary["missing_fraction"] == pytest.approx(1 / 12)
    assert summary["mean_abs_error"] == pytest.approx(0.5 / 11)


def test_wrong_inputs_raise():
    with pytest.raises(ValueError, match="logistic"):
        score_logistic("x_1 = 3", {"task": "collatz", "trajectory": [6, 3]})
    with pytest.raises(ValueError, match="K >= 1"):
        score_trajectory("x_1 = 0.5", [0.4])
    with pytest.raises(ValueError, match="no scores"):
        summarize_collapse([])
