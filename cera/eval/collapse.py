"""State collapse on logistic-map problems (the paper's Table 2 case study, made measurable).

The paper shows LoRA iterating x_{n+1} = r x_n (1 − x_n) and getting stuck: it repeats its
previous value while the true state keeps moving. On a generation compared with the true
trajectory x_0..x_K (`meta["trajectory"]` of `cera.data.synthetic.complex.logistic_problem`):

    error_n    = |x̂_n − x_n|  for n = 1..K; NaN where step n is missing from the text
    eligible   = #{n ∈ 2..K : |x_n − x_{n−1}| ≥ 0.005}       (the true state moves)
    collapsed  = #{n eligible : x̂_n, x̂_{n−1} both parsed and |x̂_n − x̂_{n−1}| < 1e-9}
    state_collapse_rate = collapsed / eligible                  (NaN when nothing is eligible)

Steps where the truth itself stays put (a fixed point, e.g. r = 2.5) are not eligible: repeating
there is correct. A missing step is never a collapse; it is counted in `missing` instead.

Parsing follows the generator's format, "x_1 = 0.84, x_2 = 0.47\\n\\boxed{0.47}": each
assignment "x_n = …" (also "x1 =", "x_{1} =") gives step n the number after the *last* "=" of
its clause (so "x_2 = 3.5*0.84*(1-0.84) = 0.47" reads 0.47); a clause runs to the next
assignment or line end; the first assignment of a step wins. A text with no assignment at all
is read as a bare list: its numbers in order are x_1, x_2, ….
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

#: |x_n − x_{n−1}| at or above this means the true state moved (half the 0.01 rounding grid).
MOVE_THRESHOLD = 0.005
#: |x̂_n − x̂_{n−1}| below this means the model repeated its value.
REPEAT_TOLERANCE = 1e-9

_ASSIGNMENT = re.compile(r"x_?\{?(\d+)\}?\s*=")
_NUMBER = re.compile(r"-?(?:\d+\.?\d*|\.\d+)")


def parse_trajectory(text: str) -> dict[int, float]:
    """{step n: x̂_n} from a generation (see the module docstring for the rules)."""
    values: dict[int, float] = {}
    for line in text.splitlines():
        starts = list(_ASSIGNMENT.finditer(line))
        for match, following in zip(starts, [*starts[1:], None]):
            clause = line[match.end() : following.start() if following else len(line)]
            number = _NUMBER.search(clause.rsplit("=", 1)[-1])
            step = int(match.group(1))
            if number and step not in values:
                values[step] = float(number.group())
    if values:
        return values
    numbers = _NUMBER.findall(re.sub(r"\\boxed\{[^}]*\}", "", text))
    return {i: float(v) for i, v in enumerate(numbers, 1)}


def score_trajectory(text: str, trajectory: Sequence[float]) -> dict:
    """Compare a generation with the true [x_0, …, x_K].

    Returns {"errors": [|x̂_n − x_n| or NaN for n = 1..K], "mean_abs_error" (over parsed
    steps; NaN if none), "missing", "steps": K, "eligible", "collapsed", "state_collapse_rate"}.
    """
    truth = np.asarray(trajectory, dtype=np.float64)
    if truth.ndim != 1 or truth.size < 2:
        raise ValueError(f"trajectory must be [x_0, ..., x_K] with K >= 1, got {list(trajectory)!r}")
    steps = truth.size - 1
    parsed = parse_trajectory(text)
    guess = np.array([parsed.get(n, math.nan) for n in range(1, steps + 1)])
    errors = np.abs(guess - truth[1:])
    moves = np.abs(np.diff(truth[1:])) >= MOVE_THRESHOLD  # n = 2..K
    repeats = np.abs(np.diff(guess)) < REPEAT_TOLERANCE  # NaN compares False: missing never repeats
    eligible, collapsed = int(moves.sum()), int((moves & repeats).sum())
    present = ~np.isnan(errors)
    return {
        "errors": errors.tolist(),
        "mean_abs_error": float(errors[present].mean()) if present.any() else math.nan,
        "missing": int((~present).sum()),
        "steps": steps,
        "eligible": eligible,
        "collapsed": collapsed,
        "state_collapse_rate": collapsed / eligible if eligible else math.nan,
    }


def score_logistic(text: str, meta: Mapping) -> dict:
    """score_trajectory against a logistic problem's `meta["trajectory"]`."""
    if meta.get("task") != "logistic":
        raise ValueError(f"score_logistic needs a logistic problem's meta, got task {meta.get('task')!r}")
    return score_trajectory(text, meta["trajectory"])


def summarize_collapse(scores: Iterable[Mapping]) -> dict:
    """Pool per-problem scores: rate = Σ collapsed / Σ eligible (not a mean of ratios, so
    problems weigh by how many steps could collapse); error = mean over all parsed steps;
    missing_fraction = Σ missing / Σ steps."""
    scores = list(scores)
    if not scores:
        raise ValueError("summarize_collapse: no scores given")
    eligible = sum(s["eligible"] for s in scores)
    collapsed = sum(s["collapsed"] for s in scores)
    errors = np.array([e for s in scores for e in s["errors"]], dtype=np.float64)
    parsed = errors[~np.isnan(errors)]
    return {
        "problems": len(scores),
        "state_collapse_rate": collapsed / eligible if eligible else math.nan,
        "eligible": eligible,
        "collapsed": collapsed,
        "mean_abs_error": float(parsed.mean()) if parsed.size else math.nan,
        "missing_fraction": sum(s["missing"] for s in scores) / sum(s["steps"] for s in scores),
    }
