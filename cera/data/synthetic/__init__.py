"""Embedded synthetic tasks: deterministic, offline, disjoint splits.

Each family draws one stream of examples from ``random.Random(derive_seed(seed, family))`` (never
the global random state), drops repeated instructions, and sends each example to train, val or
test by a hash of its instruction text (``split_of``). Consequences, all tested:

* the same seed gives byte-identical data on every machine;
* splits are disjoint, and disjoint across seeds and across families that share a generator (the
  ``math`` mixture never trains on a ``basic`` or ``complex`` test problem);
* a split's content does not depend on the other splits' sizes (the test set of a seed is the same
  whatever ``n_train`` is; a bigger ``n_test`` extends it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from random import Random

import cera.data.synthetic.complex as complex_problems
from cera.data.synthetic import basic, instruct
from cera.data.synthetic.pretrain import pretraining_texts
from cera.data.types import DataError, Example, Splits

FAMILIES: dict[str, Callable[[Random], Example]] = {
    "instruct": instruct.sample,
    "basic": basic.sample,
    "complex": complex_problems.sample,
}
MIXTURES = {"math": ("basic", "complex")}  # MathInstruct-like: GSM8K-like + MATH-like
FORMATS = tuple(FAMILIES) + tuple(MIXTURES)
SPLIT_NAMES = ("train", "val", "test")
# Out of 16 hash buckets: 2 go to test, 1 to val, 13 to train.
_BUCKETS = {0: "test", 1: "test", 2: "val"}
_MAX_MISSES = 20_000


def derive_seed(*parts: object) -> int:
    """A 64-bit seed from any parts, stable across machines and Python runs (unlike ``hash``)."""
    key = "\x1f".join(map(str, parts)).encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big")


def split_of(instruction: str) -> str:
    """The split an instruction belongs to, fixed by its text alone."""
    bucket = hashlib.blake2b(instruction.encode(), digest_size=2).digest()[0] % 16
    return _BUCKETS.get(bucket, "train")


def generate_family(family: str, seed: int, sizes: dict[str, int]) -> dict[str, list[Example]]:
    """``sizes[split]`` unique examples per split of one family (``instruct``, ``basic``, ``complex``)."""
    if family not in FAMILIES:
        raise DataError(f"unknown synthetic family {family!r} (allowed: {', '.join(FAMILIES)})")
    rng, draw = Random(derive_seed(seed, family)), FAMILIES[family]
    out: dict[str, list[Example]] = {s: [] for s in SPLIT_NAMES}
    missing = sum(sizes.get(s, 0) for s in SPLIT_NAMES)
    seen: set[str] = set()
    misses = 0  # consecutive draws that added nothing: the problem space is exhausted at _MAX_MISSES
    while missing and misses < _MAX_MISSES:
        ex = draw(rng)
        split = split_of(ex.instruction)
        if ex.instruction in seen or len(out[split]) >= sizes.get(split, 0):
            misses += 1
            seen.add(ex.instruction)
            continue
        seen.add(ex.instruction)
        out[split].append(ex)
        missing, misses = missing - 1, 0
    if missing:
        got = {s: len(v) for s, v in out.items()}
        raise DataError(f"synthetic {family!r} ran out of unique problems: asked {sizes}, got {got} (lower n_*)")
    return out


def generate_splits(fmt: str, seed: int, sizes: dict[str, int], complex_fraction: float = 0.5) -> Splits:
    """Train/val/test of a synthetic format; ``math`` mixes basic and complex (``complex_fraction``)."""
    if fmt in FAMILIES:
        return Splits(**generate_family(fmt, seed, sizes))
    if fmt not in MIXTURES:
        raise DataError(f"unknown synthetic format {fmt!r} (allowed: {', '.join(FORMATS)})")
    if not 0.0 <= complex_fraction <= 1.0:
        raise DataError(f"data.complex_fraction={complex_fraction} must be in [0, 1]")
    easy, hard = MIXTURES[fmt]
    n_hard = {s: round(n * complex_fraction) for s, n in sizes.items()}
    parts = [
        generate_family(easy, seed, {s: n - n_hard[s] for s, n in sizes.items()}),
        generate_family(hard, seed, n_hard),
    ]
    splits = {}
    for s in SPLIT_NAMES:
        rows = parts[0][s] + parts[1][s]
        Random(derive_seed(seed, fmt, s)).shuffle(rows)
        splits[s] = rows
    return Splits(**splits)


__all__ = ["FORMATS", "derive_seed", "split_of", "generate_family", "generate_splits", "pretraining_texts"]
