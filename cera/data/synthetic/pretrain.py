"""Plain-text corpus for pre-training the embedded byte-level backbone.

The backbone must know bytes, words, numbers and simple facts, so that adapters have a capable
model to adapt; it must NOT see the SFT template (``### Instruction:``) nor the tasks' question
phrasing, so that fine-tuning has something real to learn. Documents are therefore statements
("3 + 4 = 7", "apple backwards is elppa", "grass is green"), never instruction/answer pairs.
Each document is at most ``MAX_DOC_BYTES`` UTF-8 bytes.

7/16 of the sentences are the one-step computations of the math tasks (``basic.step_fact``:
"7 * 6 = 42.", ``complex.step_fact``: "3.6*0.40*0.60=0.86.", "(4^3+3) mod 11=1.", "3^2+7^2=58."),
drawn over every state the problems can reach: the backbone knows the arithmetic, as Llama-3 does
before MathInstruct, and fine-tuning has to teach the procedure (read the problem, iterate, answer).
No question text, no multi-step chain and no answer format ever appears here.
"""

from __future__ import annotations

from itertools import accumulate
from random import Random

from cera.data.synthetic import basic, complex as complex_problems
from cera.data.synthetic.words import (
    ADJECTIVES,
    COLORS,
    DAYS,
    MONTHS,
    NAMES,
    OBJECTS,
    OPPOSITES,
    VERBS,
    WORDS,
    number_word,
)  # fmt: skip

MAX_DOC_BYTES = 256
_NOUNS = tuple(w for w in WORDS if len(w) <= 6)
_COLOR_ITEMS = tuple(sorted(COLORS.items()))
_OPPOSITE_ITEMS = tuple(sorted(OPPOSITES.items()))


def _story(rng: Random) -> str:
    (name, pro), obj = rng.choice(NAMES), rng.choice(OBJECTS)
    if rng.random() < 0.5:
        return f"{name} {rng.choice(VERBS)} the {rng.choice(ADJECTIVES)} {rng.choice(_NOUNS)}."
    return f"{name} has {rng.randint(1, 50)} {obj}, and {pro} keeps them in a {rng.choice(ADJECTIVES)} box."


def _arith(rng: Random) -> str:
    a, b = rng.randint(0, 60), rng.randint(1, 30)
    op = rng.randrange(6)
    if op == 0:
        return f"{a} + {b} = {a + b}."
    if op == 1:
        return f"{a + b} - {b} = {a}."
    if op == 2:
        return f"{a % 13} * {b % 13} = {(a % 13) * (b % 13)}."
    if op == 3:
        return f"{a * b} / {b} = {a}."
    if op == 4:
        return f"{a} mod {b + 1} = {a % (b + 1)}, and {a % 20}^2 = {(a % 20) ** 2}."
    x, y = rng.randint(1, 99), rng.randint(1, 40)  # 0.xx * y.y in exact integer thousandths
    p, h = x * y, (x * y + 5) // 10  # h: rounded to hundredths, halves up (the tasks' rule)
    return f"0.{x:02d} * {y // 10}.{y % 10} = {p // 1000}.{p % 1000:03d}, about {h // 100}.{h % 100:02d}."


def _number_fact(rng: Random) -> str:
    n = rng.randint(0, 99)
    return f"{n} is {number_word(n)}, an {'even' if n % 2 == 0 else 'odd'} number."


def _spelling(rng: Random) -> str:
    w = rng.choice(WORDS)
    kind = rng.randrange(4)
    if kind == 0:
        return f"{w} is spelled {'-'.join(w)}."
    if kind == 1:
        return f"{w} written backwards is {w[::-1]}."
    if kind == 2:
        return f"{w} in capitals is {w.upper()}; it has {len(w)} letters."
    return f"The letters of {w} in order are {' '.join(sorted(w))}."


def _fact(rng: Random) -> str:
    if rng.random() < 0.5:
        thing, color = rng.choice(_COLOR_ITEMS)
        return f"{thing[0].upper()}{thing[1:]} is {color}."
    a, b = rng.choice(_OPPOSITE_ITEMS)
    return f"{a.capitalize()} and {b} are opposites."


def _token(rng: Random) -> str:
    kind = rng.randrange(4)
    if kind == 0:
        return str(rng.randint(0, 199))
    if kind == 1:
        return f"0.{rng.randint(1, 99):02d}"
    if kind == 2:
        return f"{rng.randint(1, 9)}.{rng.randint(0, 9)}"
    return rng.choice(WORDS)


_VARIABLES = tuple("abcdkmnpqrtuvwxyz") + tuple(f"{v}_{i}" for v in "xyz" for i in range(4))


def _copy(rng: Random) -> str:
    """Repeat or recall numbers and words from earlier in the text: the in-context copying every LM
    learns from real text (quotes, names, variables), which reading a problem's numbers needs.

    The recall form binds 1-4 variables, puts up to two unrelated sentences in between, then asks
    for one of them by name (associative recall, not just "copy the last value")."""
    items = [_token(rng) for _ in range(rng.randint(1, 4))]
    kind = rng.randrange(4)
    if kind == 0:
        return f"{', '.join(items)}; again: {', '.join(items)}."
    if kind == 1:
        return f"The note says {' '.join(items)}, so we write {' '.join(items)}."
    names = rng.sample(_VARIABLES, len(items))
    binds = [f"{n} = {v}" for n, v in zip(names, items)]
    said = binds[0] if len(binds) == 1 else ", ".join(binds[:-1]) + " and " + binds[-1]
    gap = "".join(" " + rng.choice((_story, _fact, _number_fact))(rng) for _ in range(rng.randint(0, 2)))
    ask = rng.randrange(len(items))
    return f"Let {said}.{gap} Then {names[ask]} is {items[ask]}."


def _sequence(rng: Random) -> str:
    kind = rng.randrange(3)
    if kind == 0:
        start, step = rng.randint(0, 30), rng.randint(1, 9)
        return ", ".join(str(start + i * step) for i in range(rng.randint(4, 7))) + "."
    names = DAYS if kind == 1 else MONTHS
    i = rng.randrange(len(names))
    return "After " + ", then ".join(names[(i + k) % len(names)] for k in range(rng.randint(2, 4))) + "."


# (sentence kind, weight): general text and arithmetic 6/16, copying and recall 3/16, the tasks' one-step
# facts 7/16, split so that every distinct fact is seen about equally often: basic has ~710 distinct
# step facts and the complex families ~880, so 3 : 4 gives 4.2e-3 : 4.5e-3 per fact and sentence
# (README "Embedded tasks and budgets" has the corpora measured before this one).
_SENTENCES = ((_story, 1), (_arith, 1), (_number_fact, 1), (_spelling, 1), (_fact, 1), (_sequence, 1),
              (_copy, 3), (basic.step_fact, 3), (complex_problems.step_fact, 4))  # fmt: skip
_KINDS = [k for k, _ in _SENTENCES]
_KIND_CUM = list(accumulate(w for _, w in _SENTENCES))  # rng.choices(cum_weights=) = weights=, faster


def pretraining_texts(n: int, seed: int) -> list[str]:
    """``n`` documents of a few sentences each, deterministic in ``seed``, each <= 256 bytes."""
    rng = Random(f"pretrain:{seed}")
    docs = []
    for _ in range(n):
        target = rng.randint(48, MAX_DOC_BYTES)
        sents: list[str] = []
        size = 0
        while True:
            s = rng.choices(_KINDS, cum_weights=_KIND_CUM)[0](rng)
            if size + len(s) + 1 > target:
                break
            sents.append(s)
            size += len(s) + 1
        docs.append(" ".join(sents) if sents else s[:MAX_DOC_BYTES])
    return docs
