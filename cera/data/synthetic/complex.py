"""MATH-like problems that need iterated NON-LINEAR state updates (the paper's Table 2 theme).

A linear low-rank update struggles to carry such a state through several steps; that is the
capacity gap CeRA claims to close. Families (``meta["family"]`` = ``meta["task"]``):

* ``logistic``: x_{n+1} = r x_n (1 - x_n), r in {3.6, 3.8, 3.9} (chaotic regime), x_0 in 0.10..0.90.
  Every x_n is rounded to 2 decimals, halves up, before the next step; the problem states this
  rule and the answer is computed with ``decimal`` under exactly that rule, so it is reproducible
  on any machine. ``logistic_problem`` builds the paper's own case (x_0 = 0.4, r = 3.5) directly;
  r = 3.5 is not drawn (see "Why these maps"). ``meta`` holds r, x0, steps and the trajectory.
* ``cubic_mod``: x <- (x^3 + c) mod p, p in {11, 17, 23}, c in 1..6.
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
k because every iteration is a chance to go wrong and errors propagate through the non-linear map.

Why these maps: that last sentence holds only for maps that neither forget an error nor funnel every
start into a few answers within k <= 5 steps (``attractor_profile`` measures both; tests pin them).
The first generator drew r in {2.5, 2.8, 3.2, 3.5, 3.7} and x^2 + c mod {7, 11, 13}: for r <= 3.5 the
rounded map contracts to a fixed point or a short cycle, so a wrong x_1 was washed out by x_5 in
41-92% of cases and one answer covered up to 95% of level-5 problems; squaring mod m merges states
the same way (up to 67%). Fine-tuned pass@1 was then flat in k (README calibration). Kept: logistic
r in {3.6, 3.8, 3.9} (k = 5 wash-out <= 17%, most common answer <= 22%; r = 3.7 has 35%), cubes mod
a prime p with 3 not dividing p - 1 (x -> x^3 + c is then a permutation: no error is ever washed
out and every answer is equally likely), and digit squares (wash-out 5%, most common answer 16%).
The state spaces are bounded (x on the 0.01 grid, x < 23, n <= 199) so that the backbone can hold
every one-step fact; Collatz (piecewise affine, unbounded orbits) was dropped for that reason.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from itertools import accumulate
from random import Random

from cera.data.types import Example

LOGISTIC_R = ("3.6", "3.8", "3.9")
PRIMES = (11, 17, 23)  # 3 does not divide p - 1: x -> x^3 + c mod p is a bijection
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


def cubic_step(x: int, c: int, p: int) -> int:
    return (x**3 + c) % p


def cubic_line(x: int, c: int, p: int) -> str:
    return f"({x}^3+{c}) mod {p}={cubic_step(x, c, p)}"


def _digit_square_sum(n: int) -> int:
    return sum(int(d) ** 2 for d in str(n))


def digit_squares_line(n: int) -> str:
    return "+".join(f"{d}^2" for d in str(n)) + f"={_digit_square_sum(n)}"


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


def _cubic_mod(rng: Random) -> Example:
    p, c = rng.choice(PRIMES), rng.choice(OFFSETS)
    x, k = rng.randrange(p), _levels(rng)
    ask = " Find x_k." if rng.random() < 0.5 else " What is x_k?"
    given = f"c = {c}, p = {p}, x_0 = {x}, k = {k}"
    q = f"x_{{n+1}} = (x_n^3 + c) mod p with {given}." + ask
    lines, traj = [], [x]
    for _ in range(k):
        lines.append(cubic_line(x, c, p))
        x = cubic_step(x, c, p)
        traj.append(x)
    meta = {"task": "cubic_mod", "family": "cubic_mod", "type": "Number Theory", "level": k, "steps": k,
            "trajectory": traj}  # fmt: skip
    return Example(q, _solution(given, lines, str(x)), answer=str(x), meta=meta)


def _digit_squares(rng: Random) -> Example:
    n, k = rng.randint(10, 199), _levels(rng)
    q = (f"Replace n = {n} by the sum of the squares of its digits k times, with k = {k}. Result?" if rng.random() < 0.5
         else f"Starting from n = {n}, k = {k}, replace n by the sum of the squares of its digits k times. Final n?")
    lines, seq = [], [n]
    for _ in range(k):
        lines.append(digit_squares_line(seq[-1]))
        seq.append(_digit_square_sum(seq[-1]))
    meta = {"task": "digit_squares", "family": "digit_squares", "type": "Number Theory", "level": k, "steps": k,
            "trajectory": seq}  # fmt: skip
    return Example(q, _solution(f"n = {n}, k = {k}", lines, str(seq[-1])), answer=str(seq[-1]), meta=meta)


def _orbits(family: str):
    """(step, x_0, wrong x_1 values) for every start a problem of ``family`` can draw."""
    if family == "logistic":
        cent, near = Decimal("0.01"), (-2, -1, 1, 2)  # the slips seen in samples: a digit or two off
        for r in LOGISTIC_R:
            for i in range(10, 91):
                x1 = logistic_step(r, Decimal(i) / 100)
                wrong = [x1 + d * cent for d in near if 0 < x1 + d * cent < 1]
                yield (lambda x, r=r: logistic_step(r, x)), Decimal(i) / 100, wrong
    elif family == "cubic_mod":
        for p in PRIMES:
            for c in OFFSETS:
                for x0 in range(p):
                    x1 = cubic_step(x0, c, p)
                    yield (lambda x, c=c, p=p: cubic_step(x, c, p)), x0, [v for v in range(p) if v != x1]
    elif family == "digit_squares":
        for n in range(10, 200):
            x1 = _digit_square_sum(n)
            yield _digit_square_sum, n, [v for v in (x1 - 10, x1 - 1, x1 + 1, x1 + 10) if v > 0]
    else:
        raise ValueError(f"family={family!r} is not one of {', '.join(_NAMES)}")


def attractor_profile(family: str) -> dict[int, dict[str, float]]:
    """Per level k: ``washout``, the share of wrong x_1 values that still end on the right x_k, and
    ``top_answer``, the share of problems whose x_k is the most common one (exhaustive over starts).

    Both must stay low for difficulty to grow with k: a washed-out error costs nothing, and a
    dominant answer can be guessed without iterating (module docs, "Why these maps").
    """
    out = {}
    for k in range(1, MAX_LEVEL + 1):
        answers: dict = {}
        washed = tried = 0
        for step, x0, wrong in _orbits(family):
            x = x0
            for _ in range(k):
                x = step(x)
            answers[x] = answers.get(x, 0) + 1
            for y in wrong:
                for _ in range(k - 1):
                    y = step(y)
                washed, tried = washed + (y == x), tried + 1
        out[k] = {"washout": washed / tried, "top_answer": max(answers.values()) / sum(answers.values())}
    return out


FAMILIES = (("logistic", _logistic, 0.5), ("cubic_mod", _cubic_mod, 0.25),
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

    Covers every state a problem can reach: logistic x on the whole 0.01..0.99 grid, every x < p,
    every n <= 199 (a digit-square sum of n <= 199 is at most 1 + 81 + 81 = 163).
    """
    if kind is None:
        kind = rng.choices(_NAMES, cum_weights=_CUM)[0]
    elif kind not in _FNS:
        raise ValueError(f"kind={kind!r} is not one of {', '.join(_NAMES)}")
    if kind == "logistic":
        return logistic_line(rng.choice(LOGISTIC_R), Decimal(rng.randint(1, 99)) / 100) + "."
    if kind == "cubic_mod":
        p = rng.choice(PRIMES)
        return cubic_line(rng.randrange(p), rng.choice(OFFSETS), p) + "."
    return digit_squares_line(rng.randint(1, 199)) + "."
