"""Row schemas of the real datasets (SPEC §4) and their mapping onto ``Example``.

Each mapper validates its row and raises a one-line ``DataError`` naming the row, the file and
the field, so a bad file stops the run before any training starts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from cera.data.answers import gsm8k_answer, last_boxed
from cera.data.types import DataError, Example

# What a row of each format must hold (quoted in error messages).
NEEDS = {
    "slimorca": "'conversations': a list of {'from': 'system'|'human'|'gpt', 'value': str} turns",
    "mathinstruct": "'instruction' and 'output' strings ('source' optional)",
    "gsm8k": "'question' and 'answer' strings, the answer ending in '#### N'",
    "hendrycks_math": "'problem' and 'solution' strings ('level' like 'Level 3' and 'type' optional)",
}


class _Row:
    """A row plus where it came from, for error messages."""

    def __init__(self, fmt: str, row: Mapping[str, Any], index: int, where: str):
        self.fmt, self.row, self.index, self.where = fmt, row, index, where

    def error(self, problem: str) -> DataError:
        return DataError(
            f"malformed data row {self.index} in {self.where}: {problem} ({self.fmt} rows need {NEEDS[self.fmt]})"
        )

    def get(self, key: str, typ: type | tuple[type, ...], required: bool = True) -> Any:
        value = self.row.get(key) if isinstance(self.row, Mapping) else None
        if value is None:
            if required:
                raise self.error(f"missing field {key!r}")
            return None
        if not isinstance(value, typ):
            allowed = " or ".join(t.__name__ for t in (typ if isinstance(typ, tuple) else (typ,)))
            raise self.error(f"field {key!r} must be {allowed}, got {type(value).__name__}")
        return value


def _slimorca(r: _Row) -> Example:
    system, instruction = "", None
    for j, turn in enumerate(r.get("conversations", list)):
        if not (isinstance(turn, Mapping) and isinstance(turn.get("from"), str) and isinstance(turn.get("value"), str)):
            raise r.error(f"conversations[{j}] is not a {{'from': str, 'value': str}} turn")
        who, value = turn["from"], turn["value"]
        if who == "system" and instruction is None:
            system = value
        elif who == "human" and instruction is None:
            instruction = value
        elif who == "gpt" and instruction is not None:
            return Example(instruction, value, system=system, meta={"task": "slimorca"})
    raise r.error("no 'human' turn followed by a 'gpt' turn")


def _mathinstruct(r: _Row) -> Example:
    source = r.get("source", str, required=False)
    meta = {"task": "mathinstruct", "source": source or ""}
    return Example(r.get("instruction", str), r.get("output", str), meta=meta)


def _gsm8k(r: _Row) -> Example:
    question, solution = r.get("question", str), r.get("answer", str)
    answer = gsm8k_answer(solution)
    if answer is None:
        raise r.error("field 'answer' has no '#### N' line")
    return Example(question, solution, answer=answer, meta={"task": "gsm8k"})


def _hendrycks_math(r: _Row) -> Example:
    problem, solution = r.get("problem", str), r.get("solution", str)
    level = r.get("level", (str, int), required=False)
    digits = re.search(r"\d+", str(level)) if level is not None else None
    meta = {
        "task": "hendrycks_math",
        "level": int(digits.group()) if digits else None,
        "type": r.get("type", str, False),
    }
    return Example(problem, solution, answer=last_boxed(solution), meta=meta)


MAPPERS: dict[str, Callable[[_Row], Example]] = {
    "slimorca": _slimorca,
    "mathinstruct": _mathinstruct,
    "gsm8k": _gsm8k,
    "hendrycks_math": _hendrycks_math,
}


def to_example(fmt: str, row: Mapping[str, Any], index: int, where: str) -> Example:
    """Map one raw row of format ``fmt`` to an ``Example`` (``index``/``where`` locate it for errors)."""
    return MAPPERS[fmt](_Row(fmt, row, index, where))
