"""Gold-answer extraction for the two exact-match conventions (GSM8K ``#### N``, MATH ``\\boxed{}``).

Used to fill ``Example.answer`` from real rows and to check the synthetic generators; scoring of
model generations is lm-eval's job (SPEC §3), not this module's.
"""

from __future__ import annotations

import re

_BOX_COMMANDS = ("\\boxed", "\\fbox")


def gsm8k_answer(text: str) -> str | None:
    """The N after the last ``####``, commas removed (``"#### 1,234"`` -> ``"1234"``); None if absent."""
    if "####" not in text:
        return None
    tail = text.rsplit("####", 1)[1].strip()
    tail = tail.splitlines()[0].strip() if tail else ""
    return tail.replace(",", "") or None


def last_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` / ``\\fbox{...}`` (balanced braces); None if none.

    Also accepts the brace-less ``\\boxed 5`` form that some MATH solutions use.
    """
    start = max(text.rfind(c) for c in _BOX_COMMANDS)
    if start < 0:
        return None
    cmd = next(c for c in _BOX_COMMANDS if text.startswith(c, start))
    i = start + len(cmd)
    if text.startswith(" ", i):
        m = re.match(r"\s+([^\s$]+)", text[i:])
        return m.group(1) if m else None
    if not text.startswith("{", i):
        return None
    depth = 0
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return text[i + 1 : j]
    return None  # unbalanced
