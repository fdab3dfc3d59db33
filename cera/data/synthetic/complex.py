"""MATH-like problems that need iterated NON-LINEAR state updates (the paper's Table 2 theme).

A linear low-rank update struggles to carry such a state through several steps; that is the
capacity gap CeRA claims to close. Families (``meta["family"]`` = ``meta["task"]``):

* ``logistic``: x_{n+1} = r x_n (1 - x_n), r in {2.5, 2.8, 3.2, 3.5, 3.7}, x_0 in 0.10..0.90.
  Every x_n is rounded to 2 decimals, halves up, before the next step; the problem states this
  rule and the answer is computed with ``decimal`` under exactly that rule, so it is reproducible
  on any machine. The paper's case (x_0 = 0.4, r = 3.5) is among the problems
  (``logistic_problem`` builds it directly). ``meta`` holds r, x0, steps and the trajectory.
* ``quadratic_mod``: x <- (x^2 + c) mod m, m in {7, 11, 13}, c in 1..6.
* ``digit_squares``: n <- sum of the squares of its digits, from n in 10..199.

``meta["level"]`` (1-5) is the number of iterations k. The problem names its parameters
(``r = 3.5, x_0 = 0.40, k = 3``); the worked solution first restates them in that notation, as a careful
solver does, then writes one line per iteration, ``x<n>=<one step>=<value>, <k-n> left`` (e.g.
``x1=3.5*0.40*0.60=0.84, 2 left``), then ``\\boxed{x_k}``. Why the restatement: reading a value out of
the problem is then a copy of the text after a name seen before (what the corpus's "Let y = 0.40. Then
y is 0.40." teaches the backbone), and every iteration line reads only the line above it. Why the
countdown: without it the decision to stop needs n compared with a k stated lines earlier, and a
fine-tuned tiny model wrote x1..x5 whatever k was (README "Embedded tasks and budgets"); with it,
the count is read from the line above (k from the givens for the first line), decremented, and the
solver boxes the value after "0 left", as a person ticking off iterations would.

Why this shape (README "Embedded tasks and budgets"): a GSM8K/MATH-like miniature tests whether
fine-tuning teaches a *procedure* on top of knowledge the backbone already has, as MathInstruct
does on Llama-3. One step of every map is therefore a plain fact of the pre-training corpus
(``step_fact``, statement form, no question, no chain); the fine-tuned model must read the problem,
iterate the map k times by feeding each value back in, and box the last one. Difficulty grows with
k because every iteration is a chance to go wrong and errors propagate through the non-linear map
(measured, only in the chaotic regime: for r <= 3.2 the map contracts to a fixed point or a 2-cycle,
digit squares fall into 1 or a cycle, and an early error is often washed out; README calibration).
The state spaces are bounded (x on the 0.01 grid, x < 13, n <= 199) so that the backbone can hold
every one-step fact; Collatz (piecewise affine, unbounded orbits) was dropped for that reason.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from itertools import accumulate
from random import Random

from cera.data.types import Example

LOGISTIC_R = ("2.5", "2.8", "3.2", "3.5", "3.7")
MODULI = (7, 11, 13)
OFFSETS = (1, 2, 3, 4, 5, 6)
MAX_LEVEL = 5
_CENT = Decimal("0.01")
COUNTDOWN = ", {} left"  # appended to every iteration line: the stopping cue (module docs)


def logistic_step(r: str, x: Decimal) -> Decimal:
    """r x (1 - x) rounded to 2 decimals, halves up (the rule the problems state)."""
    return (Decimal(r) * x * (1 - x)).quantize(_CENT, rounding=ROUND_HALF_UP)


def logistic_trajectory(r: str, x0: str, steps: int) -> list[Decimal]:
    """[x_0, ..., x_steps] under the 2-decimal, half-up rounding rule stated in the problems."""
    xs = [Decimal(x0).quantize(_CENT)]
    for _ in range(steps):
        xs.append(logistic_step(r, xs[-1]))
    return xs


def logistic_line(r: str, x: Decimal) -> str:
    """One step as written in solutions and in the pre-training corpus: ``3.5*0.40*0.60=0.84``."""
    return f"{r}*{x:.2f}*{1 - x:.2f}={logistic_step(r, x):.2f}"


def quadratic_line(x: int, c: int, m: int) -> str:
    return f"({x}^2+{c}) mod {m}={(x * x + c) % m}"


def digit_squares_line(n: int) -> str:
    return "+".join(f"{d}^2" for d in str(n)) + f"={sum(int(d) ** 2 for d in str(n))}"


def _solution(given: str, lines: list[str], answer: str) -> str:
    k = len(lines)
    steps = "".join(f"x{i}={line}{COUNTDOWN.format(k - i)}\n" for i, line in enumerate(lines, 1))
    return given + "\n" + steps + f"\\boxed{{{answer}}}"


def logistic_problem(r: str = "3.5", x0: str = "0.4", steps: int = 4, ask: str = "value") -> Example:
    """One logistic-map problem; ``ask``: "value" (find x_k), "what" (what is x_k?) or "trajectory"."""
    asks = {"value": " Find x_k.", "what": " What is x_k?", "trajectory": " List x_1 to x_k."}
    if ask not in asks:
        raise ValueError(f"ask={ask!r} must be one of {sorted(asks)}")
    xs = logistic_trajectory(r, x0, steps)
    given = f"r = {r}, x_0 = {xs[0]:.2f}, k = {steps}"
    q = f"x_{{n+1}} = r x_n(1-x_n) with {given}; round x_n to 2 decimals, half up." + asks[ask]
    answer = f"{xs[-1]:.2f}"
    meta = {
        "task": "logistic", "family": "logistic", "type": "Dynamical Systems", "level": min(steps, MAX_LEVEL),
        "r": float(r), "x0": float(x0), "steps": steps, "ask": ask, "trajectory": [float(x) for x in xs],
    }  # fmt: skip
    return Example(q, _solution(given, [logistic_line(r, x) for x in xs[:-1]], answer), answer=answer, meta=meta)


def _levels(rng: Random) -> int:
    return rng.randint(1, MAX_LEVEL)


def _logistic(rng: Random) -> Example:
    x0 = str(Decimal(rng.randint(10, 90)) / 100)
    return logistic_problem(rng.choice(LOGISTIC_R), x0, _levels(rng), rng.choice(("value", "what", "trajectory")))


def _quadratic_mod(rng: Random) -> Example:
    m, c = rng.choice(MODULI), rng.choice(OFFSETS)
    x, k = rng.randrange(m), _levels(rng)
    ask = " Find x_k." if rng.random() < 0.5 else " What is x_k?"
    given = f"c = {c}, m = {m}, x_0 = {x}, k = {k}"
    q = f"x_{{n+1}} = (x_n^2 + c) mod m with {given}." + ask
    lines, traj = [], [x]
    for _ in range(k):
        lines.append(quadratic_line(x, c, m))
        x = (x * x + c) % m
        traj.append(x)
    meta = {"task": "quadratic_mod", "family": "quadratic_mod", "type": "Number Theory", "level": k, "steps": k,
            "trajectory": traj}  # fmt: skip
    return Example(q, _solution(given, lines, str(x)), answer=str(x), meta=meta)


def _digit_squares(rng: Random) -> Example:
    n, k = rng.randint(10, 199), _levels(rng)
    q = (f"Replace n = {n} by the sum of the squares of its digits k times, with k = {k}. Result?" if rng.random() < 0.5
         else f"Starting from n = {n}, k = {k}, replace n by the sum of the squares of its digits k times. Final n?")
    lines, seq = [], [n]
    for _ in range(k):
        lines.append(digit_squares_line(seq[-1]))
        seq.append(sum(int(d) ** 2 for d in str(seq[-1])))
    meta = {"task": "digit_squares", "family": "digit_squares", "type": "Number Theory", "level": k, "steps": k,
            "trajectory": seq}  # fmt: skip
    return Example(q, _solution(f"n = {n}, k = {k}", lines, str(seq[-1])), answer=str(seq[-1]), meta=meta)


FAMILIES = (("logistic", _logistic, 0.5), ("quadratic_mod", _quadratic_mod, 0.25),
            ("digit_squares", _digit_squares, 0.25))  # fmt: skip
_NAMES = [f[0] for f in FAMILIES]
_CUM = list(accumulate(f[2] for f in FAMILIES))  # cum_weights= draws exactly as weights=
_FNS = {f[0]: f[1] for f in FAMILIES}


def sample(rng: Random) -> Example:
    """One complex problem from a family drawn with the weights in ``FAMILIES``."""
    return _FNS[rng.choices(_NAMES, cum_weights=_CUM)[0]](rng)


def step_fact(rng: Random, kind: str | None = None) -> str:
    """One step of one map as a plain statement for the pre-training corpus (no question, no chain);
    ``kind`` fixes the family (``cera.models.skills`` probes each), else it is drawn as problems are.

    Covers every state a problem can reach: logistic x on the whole 0.01..0.99 grid, every x < m,
    every n <= 199 (a digit-square sum of n <= 199 is at most 1 + 81 + 81 = 163).
    """
    if kind is None:
        kind = rng.choices(_NAMES, cum_weights=_CUM)[0]
    elif kind not in _FNS:
        raise ValueError(f"kind={kind!r} is not one of {', '.join(_NAMES)}")
    if kind == "logistic":
        return logistic_line(rng.choice(LOGISTIC_R), Decimal(rng.randint(1, 99)) / 100) + "."
    if kind == "quadratic_mod":
        m = rng.choice(MODULI)
        return quadratic_line(rng.randrange(m), rng.choice(OFFSETS), m) + "."
    return digit_squares_line(rng.randint(1, 199)) + "."
