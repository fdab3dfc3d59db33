"""SlimOrca-like instruction following, for the perplexity experiments (Fig 1-3, Table 3).

Every response is computable from its instruction (reverse, case, sort, count, sequences, number
words, repetition, fact look-up, substitution), so perplexity measures how well an adapter learned
the skills rather than noise. Task types mix easy (copy-like) and harder (counting, sorting)
items; about a third carry a short system prompt, as SlimOrca's system/human/gpt rows do.
"""

from __future__ import annotations

from random import Random

from cera.data.synthetic.words import COLORS, DAYS, MONTHS, OPPOSITES, WORDS, number_word
from cera.data.types import Example

SYSTEMS = (
    "You are a helpful assistant.",
    "You are an AI assistant. Give short, exact answers.",
    "Answer the question directly.",
    "You follow instructions exactly.",
)
SYSTEM_PROB = 0.35
VOWELS = "aeiou"


def _reverse(rng: Random):
    w = rng.choice(WORDS)
    return rng.choice(
        (
            (f'Reverse the word "{w}".', w[::-1]),
            (f'Spell "{w}" backwards.', f'"{w}" backwards is "{w[::-1]}".'),
        )
    )


def _case(rng: Random):
    phrase = " ".join(rng.sample(WORDS, rng.randint(2, 3)))
    if rng.random() < 0.5:
        return f"Convert to uppercase: {phrase}", phrase.upper()
    loud = phrase.upper()
    return f"Write in lowercase: {loud}", phrase


def _sort(rng: Random):
    words = rng.sample(WORDS, rng.randint(3, 5))
    return f"Sort alphabetically: {', '.join(words)}.", ", ".join(sorted(words))


def _count(rng: Random):
    w = rng.choice(WORDS)
    kind = rng.randrange(3)
    if kind == 0:
        return f'How many letters are in "{w}"?', f'"{w}" has {len(w)} letters.'
    if kind == 1:
        vowels = [c for c in w if c in VOWELS]
        return f'How many vowels are in "{w}"?', f"{len(vowels)} ({', '.join(vowels)})."
    letter = rng.choice(sorted(set(w)))
    return f'How many times does "{letter}" appear in "{w}"?', str(w.count(letter))


def _sequence(rng: Random):
    kind = rng.randrange(3)
    if kind == 0:
        start, step, n = rng.randint(1, 20), rng.randint(2, 9), rng.randint(3, 5)
        seq = [start + i * step for i in range(n + 1)]
        return f"What comes next: {', '.join(map(str, seq[:-1]))}, ...?", str(seq[-1])
    names = DAYS if kind == 1 else MONTHS
    i, n = rng.randrange(len(names)), rng.randint(2, 3)
    seq = [names[(i + k) % len(names)] for k in range(n + 1)]
    return f"What comes next: {', '.join(seq[:-1])}, ...?", seq[-1]


def _add_words(rng: Random):
    a, b = rng.randint(0, 49), rng.randint(0, 49)
    return f"What is {number_word(a)} plus {number_word(b)}? Answer in words.", number_word(a + b) + "."


def _repeat(rng: Random):
    w, n = rng.choice(WORDS), rng.randint(2, 5)
    return f'Repeat "{w}" {number_word(n)} times.', " ".join([w] * n)


def _fact(rng: Random):
    if rng.random() < 0.5:
        thing = rng.choice(sorted(COLORS))
        return f"What color is {thing}?", f"{thing[0].upper() + thing[1:]} is {COLORS[thing]}."
    word = rng.choice(sorted(OPPOSITES))
    return f'What is the opposite of "{word}"?', f'The opposite of "{word}" is "{OPPOSITES[word]}".'


def _substitute(rng: Random):
    if rng.random() < 0.5:
        w = rng.choice(WORDS)
        old = rng.choice(sorted(set(w)))
        new = rng.choice([c for c in "aeioustrnl" if c != old])
        return f'Replace every "{old}" with "{new}" in "{w}".', w.replace(old, new)
    words = rng.sample(WORDS, 4)
    phrase = " ".join(words[:3])
    old = rng.choice(words[:3])
    swapped = " ".join(words[3] if w == old else w for w in words[:3])
    return f'In "{phrase}", replace "{old}" with "{words[3]}".', swapped


TASKS = (
    ("reverse", _reverse, 1.0),
    ("case", _case, 1.0),
    ("sort", _sort, 1.0),
    ("count", _count, 1.5),
    ("sequence", _sequence, 1.0),
    ("add_words", _add_words, 1.0),
    ("repeat", _repeat, 0.5),
    ("fact", _fact, 0.5),
    ("substitute", _substitute, 1.0),
)
_NAMES = [t[0] for t in TASKS]
_WEIGHTS = [t[2] for t in TASKS]
_FNS = {t[0]: t[1] for t in TASKS}


def sample(rng: Random) -> Example:
    """One random instruction example drawn from ``rng``."""
    task = rng.choices(_NAMES, weights=_WEIGHTS)[0]
    instruction, response = _FNS[task](rng)
    system = rng.choice(SYSTEMS) if rng.random() < SYSTEM_PROB else ""
    return Example(instruction=instruction, response=response, system=system, meta={"task": task})
