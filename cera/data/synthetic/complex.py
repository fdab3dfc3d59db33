"""MATH-like problems that need iterated NON-LINEAR state updates (the paper's Table 2 theme).

A linear low-rank update struggles to carry such a state through several steps; that is the
capacity gap CeRA claims to close. Families (``meta["task"]``):

* ``logistic``: x_{n+1} = r x_n (1 - x_n), r in {2.5, 2.8, 3.2, 3.5, 3.7}, x_0 in 0.10..0.90.
  Every x_n is rounded to 2 decimals, halves up, before the next step; the problem states this
  rule and the answer is computed with ``decimal`` under exactly that rule, so it is reproducible
  on any machine. The paper's case (x_0 = 0.4, r = 3.5) is among the problems
  (``logistic_problem`` builds it directly). ``meta`` holds r, x0, steps and the trajectory.
* ``quadratic_mod``: x <- (x^2 + c) mod m.
* ``collatz``: steps of n -> n/2 | 3n+1, counted to 1 or applied k times.
* ``digit_squares``: n <- sum of the squares of its digits, k times.

Each response lists the steps and ends in ``\\boxed{answer}``; ``meta["level"]`` (1-5) grows with
the number of iterations.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from random import Random

from cera.data.types import Example

LOGISTIC_R = ("2.5", "2.8", "3.2", "3.5", "3.7")
MODULI = (7, 11, 13, 17, 19, 23, 29, 31)
_CENT = Decimal("0.01")


def logistic_trajectory(r: str, x0: str, steps: int) -> list[Decimal]:
    """[x_0, ..., x_steps] under the 2-decimal, half-up rounding rule stated in the problems."""
    rd, xs = Decimal(r), [Decimal(x0)]
    for _ in range(steps):
        x = xs[-1]
        xs.append((rd * x * (1 - x)).quantize(_CENT, rounding=ROUND_HALF_UP))
    return xs


def logistic_problem(r: str = "3.5", x0: str = "0.4", steps: int = 4, ask: str = "value") -> Example:
    """One logistic-map problem; ``ask``: "value" (find x_k), "what" (what is x_k?) or "trajectory"."""
    asks = {"value": f" Find x_{steps}.", "what": f" What is x_{steps}?", "trajectory": f" List x_1 to x_{steps}."}
    if ask not in asks:
        raise ValueError(f"ask={ask!r} must be one of {sorted(asks)}")
    xs = logistic_trajectory(r, x0, steps)
    q = f"x_{{n+1}} = {r}x_n(1-x_n), x_0 = {x0}; round x_n to 2 decimals, half up."
    q += asks[ask]
    answer = f"{xs[-1]:.2f}"
    steps_text = ", ".join(f"x{i} = {x:.2f}" for i, x in enumerate(xs[1:], 1))
    meta = {
        "task": "logistic", "type": "Dynamical Systems", "level": min(steps, 5), "r": float(r),
        "x0": float(x0), "steps": steps, "ask": ask, "trajectory": [float(x) for x in xs],
    }  # fmt: skip
    return Example(q, f"{steps_text}\n\\boxed{{{answer}}}", answer=answer, meta=meta)


def _logistic(rng: Random) -> Example:
    x0 = str(Decimal(rng.randint(10, 90)) / 100)  # "0.4", "0.45": exact, no float formatting
    ask = rng.choice(("value", "what", "trajectory"))
    return logistic_problem(rng.choice(LOGISTIC_R), x0, rng.randint(1, 5), ask)


def _quadratic_mod(rng: Random) -> Example:
    m = rng.choice(MODULI)
    c, x, k = rng.randint(1, m - 1), rng.randrange(m), rng.randint(1, 5)
    q = f"x_{{n+1}} = (x_n^2 + {c}) mod {m}, x_0 = {x}. Find x_{k}."
    parts, traj = [], [x]
    for _ in range(k):
        v = x * x + c
        x = v % m
        traj.append(x)
        parts.append(f"{v} mod {m} = {x}")
    meta = {"task": "quadratic_mod", "type": "Number Theory", "level": k, "steps": k, "trajectory": traj}
    return Example(q, ", ".join(parts) + f"\n\\boxed{{{x}}}", answer=str(x), meta=meta)


def _collatz_step(n: int) -> int:
    return n // 2 if n % 2 == 0 else 3 * n + 1


def _collatz(rng: Random) -> Example:
    rule = "n -> n/2 (n even) or 3n+1 (n odd)"
    if rng.random() < 0.5:  # count the steps to 1; starts with long orbits are redrawn
        seq = [0]
        while seq[-1] != 1:
            seq = [rng.randint(2, 64)]
            while seq[-1] != 1 and len(seq) <= 12:
                seq.append(_collatz_step(seq[-1]))
        k = len(seq) - 1
        q = f"From n = {seq[0]}, apply {rule}. Steps to reach 1?"
        answer, level = str(k), min(5, 1 + k // 3)
    else:  # value after k steps
        seq, k = [rng.randint(2, 99)], rng.randint(1, 5)
        for _ in range(k):
            seq.append(_collatz_step(seq[-1]))
        q = f"From n = {seq[0]}, apply {rule} {k} times. Result?"
        answer, level = str(seq[-1]), k
    meta = {"task": "collatz", "type": "Number Theory", "level": level, "steps": k, "trajectory": seq}
    return Example(q, " -> ".join(map(str, seq)) + f"\n\\boxed{{{answer}}}", answer=answer, meta=meta)


def _digit_squares(rng: Random) -> Example:
    n, k = rng.randint(10, 999), rng.randint(1, 5)
    q = f"Replace n = {n} by the sum of the squares of its digits, {k} times. Result?"
    parts, seq = [], [n]
    for _ in range(k):
        digits = [int(d) for d in str(seq[-1])]
        seq.append(sum(d * d for d in digits))
        parts.append("+".join(str(d * d) for d in digits) + f"={seq[-1]}")
    meta = {"task": "digit_squares", "type": "Number Theory", "level": k, "steps": k, "trajectory": seq}
    return Example(q, ", ".join(parts) + f"\n\\boxed{{{seq[-1]}}}", answer=str(seq[-1]), meta=meta)


FAMILIES = (("logistic", _logistic, 0.35), ("quadratic_mod", _quadratic_mod, 0.25),
            ("collatz", _collatz, 0.15), ("digit_squares", _digit_squares, 0.25))  # fmt: skip
_NAMES = [f[0] for f in FAMILIES]
_WEIGHTS = [f[2] for f in FAMILIES]
_FNS = {f[0]: f[1] for f in FAMILIES}


def sample(rng: Random) -> Example:
    """One complex problem from a family drawn with the weights in ``FAMILIES``."""
    return _FNS[rng.choices(_NAMES, weights=_WEIGHTS)[0]](rng)
