"""The two records every data source produces, and the one error every data problem raises.

``Example`` is source-agnostic on purpose: SlimOrca, MathInstruct, GSM8K, MATH and the embedded
synthetic tasks all map onto it, so the SFT formatter, the trainer and the evaluators never
branch on where the data came from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class DataError(ValueError):
    """A data problem, reported in one line naming the bad value/file/row and what is allowed.

    Raised while loading, i.e. before any training starts.
    """


@dataclass(frozen=True)
class Example:
    """One instruction/response pair.

    ``answer`` is the gold final answer of exact-match tasks (the N of GSM8K's ``#### N``, the
    content of MATH's last ``\\boxed{}``), None for free-form tasks. ``meta`` carries per-task
    extras (e.g. ``{"task": "logistic", "level": 3, "type": "Dynamical Systems"}``).
    """

    instruction: str
    response: str
    system: str = ""
    answer: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Splits:
    """Train/validation/test examples; disjoint by construction."""

    train: list[Example]
    val: list[Example]
    test: list[Example]

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}
