"""GSM8K-like basic arithmetic word problems (1-3 steps, small non-negative integers).

Operands stay small (factors and addends <= 9, so sums and differences stay <= 18 except where a
product is carried on, results <= 90) so that every solution line is a
fact the embedded backbone saw in pre-training (``step_fact``); what fine-tuning must teach is the
GSM8K skill: read the story, pick the operations and chain the intermediate results.

The response is a worked solution, one ``a op b = c`` line per step, ending in GSM8K's
``#### N`` line (N an integer, no commas), so lm-eval's GSM8K answer extraction applies as is.
"""

from __future__ import annotations

from itertools import accumulate
from random import Random

from cera.data.synthetic.words import ITEMS, NAMES, OBJECTS
from cera.data.types import Example


def _people(rng: Random, k: int):
    return rng.sample(NAMES, k)


def _add(rng: Random):
    (name, pro), obj = rng.choice(NAMES), rng.choice(OBJECTS)
    a, b = rng.randint(2, 9), rng.randint(2, 9)
    q = f"{name} has {a} {obj}. {pro.capitalize()} gets {b} more. How many {obj} does {pro} have now?"
    return q, [f"{a} + {b} = {a + b}"], a + b


def _sub(rng: Random):
    (n1, _), (n2, _) = _people(rng, 2)
    obj = rng.choice(OBJECTS)
    b = rng.randint(1, 9)
    a = b + rng.randint(1, 9)
    q = f"{n1} had {a} {obj} and gave {b} to {n2}. How many {obj} does {n1} have left?"
    return q, [f"{a} - {b} = {a - b}"], a - b


def _mul(rng: Random):
    obj, a, b = rng.choice(OBJECTS), rng.randint(2, 9), rng.randint(2, 9)
    q = f"A bag holds {a} {obj}. How many {obj} are in {b} bags?"
    return q, [f"{b} * {a} = {a * b}"], a * b


def _div(rng: Random):
    (name, _), obj = rng.choice(NAMES), rng.choice(OBJECTS)
    each, k = rng.randint(2, 9), rng.randint(2, 9)
    q = f"{name} shares {each * k} {obj} equally among {k} friends. How many {obj} does each friend get?"
    return q, [f"{each * k} / {k} = {each}"], each


def _buy_give(rng: Random):
    (name, _), obj = rng.choice(NAMES), rng.choice(OBJECTS)
    a, b = rng.randint(2, 9), rng.randint(2, 9)
    c = rng.randint(1, a + b)
    q = f"{name} has {a} {obj}, buys {b} more and gives away {c}. How many {obj} are left?"
    return q, [f"{a} + {b} = {a + b}", f"{a + b} - {c} = {a + b - c}"], a + b - c


def _packs(rng: Random):
    (name, pro), obj = rng.choice(NAMES), rng.choice(OBJECTS)
    a, b, c = rng.randint(2, 9), rng.randint(2, 9), rng.randint(1, 9)
    q = f"{name} buys {a} packs of {b} {obj} and finds {c} more. How many {obj} does {pro} have?"
    return q, [f"{a} * {b} = {a * b}", f"{a * b} + {c} = {a * b + c}"], a * b + c


def _change(rng: Random):
    (name, pro), item = rng.choice(NAMES), rng.choice(ITEMS)
    p, k = rng.randint(2, 9), rng.randint(2, 5)
    bill = next(b for b in (10, 20, 50) if b >= p * k)
    q = f"A {item} costs ${p}. {name} buys {k} and pays with a ${bill} bill. How much change does {pro} get?"
    return q, [f"{k} * {p} = {k * p}", f"{bill} - {k * p} = {bill - k * p}"], bill - k * p


def _wages(rng: Random):
    (name, pro) = rng.choice(NAMES)
    rate, h1, h2 = rng.randint(2, 9), rng.randint(1, 4), rng.randint(1, 4)
    q = f"{name} earns ${rate} an hour and works {h1} hours on Monday and {h2} on Tuesday. How much does {pro} earn?"
    return q, [f"{h1} + {h2} = {h1 + h2}", f"{h1 + h2} * {rate} = {(h1 + h2) * rate}"], (h1 + h2) * rate


def _together(rng: Random):
    (n1, _), (n2, _), (n3, _) = _people(rng, 3)
    obj, a, b = rng.choice(OBJECTS), rng.randint(2, 9), rng.randint(1, 9)
    x = a + b
    q = f"{n1} has {a} {obj}. {n2} has {b} more than {n1}. {n3} has twice as many as {n2}. How many in total?"
    return q, [f"{a} + {b} = {x}", f"2 * {x} = {2 * x}", f"{a} + {x} + {2 * x} = {a + 3 * x}"], a + 3 * x


# (name, generator, steps, weight)
TEMPLATES = (
    ("add", _add, 1, 1.0), ("sub", _sub, 1, 1.0), ("mul", _mul, 1, 1.0), ("div", _div, 1, 1.0),
    ("buy_give", _buy_give, 2, 1.0), ("packs", _packs, 2, 1.0), ("change", _change, 2, 1.0),
    ("wages", _wages, 2, 1.0), ("together", _together, 3, 1.5),
)  # fmt: skip
_NAMES = [t[0] for t in TEMPLATES]
_CUM = list(accumulate(t[3] for t in TEMPLATES))  # cum_weights= draws exactly as weights=
_BY_NAME = {t[0]: t for t in TEMPLATES}


def sample(rng: Random) -> Example:
    """One word problem; ``answer`` is the integer after ``####`` as a string; level = steps."""
    name = rng.choices(_NAMES, cum_weights=_CUM)[0]
    _, fn, steps, _ = _BY_NAME[name]
    question, lines, result = fn(rng)
    response = "\n".join(lines) + f"\n#### {result}"
    meta = {"task": "basic", "family": name, "type": name, "steps": steps, "level": steps}
    return Example(question, response, answer=str(result), meta=meta)


def step_fact(rng: Random) -> str:
    """One solution line of a random problem as a plain statement for the pre-training corpus
    (``"7 * 6 = 42."``): the backbone knows every computation a problem needs, never the problem."""
    name = rng.choices(_NAMES, cum_weights=_CUM)[0]
    _, lines, _ = _BY_NAME[name][1](rng)
    return rng.choice(lines) + "."
