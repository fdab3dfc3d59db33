"""``!function`` targets of the cera_* task YAMLs: the SFT prompt and last-\\boxed{} scoring.

Scoring reuses lm-eval's own MATH code (``lm_eval/tasks/hendrycks_math/utils.py``): the last
``\\boxed{}`` is cut out by ``last_boxed_only_string`` + ``remove_boxed`` and compared with the gold
answer by ``is_equiv`` (MATH's string normalisation). Nothing here is a home-made matcher.
"""

from __future__ import annotations

from lm_eval.tasks.hendrycks_math.utils import is_equiv, last_boxed_only_string, remove_boxed

from cera.data import Example, format_prompt


def sft_prompt(doc: dict) -> str:
    """The training prompt of a task row: ``cera.data.format_prompt`` of its instruction/system."""
    return format_prompt(Example(doc["instruction"], "", system=doc.get("system") or ""))


def boxed_answer(text: str) -> str | None:
    """Content of the last \\boxed{} / \\fbox{} of ``text`` (hendrycks_math's rule); None if none."""
    boxed = last_boxed_only_string(text) if isinstance(text, str) else None
    if boxed is None:
        return None
    try:
        return remove_boxed(boxed)
    except AssertionError:  # "\fbox{...}" or a malformed box: remove_boxed only knows \boxed
        return None


def last_boxed_answers(resps, docs) -> list[list[str | None]]:
    """lm-eval ``custom`` filter: every response of every instance -> its last boxed answer."""
    return [[boxed_answer(r) for r in group] for group in resps]


def process_boxed(doc: dict, results: list) -> dict[str, int]:
    """exact_match = is_equiv(extracted answer, gold answer); a missing box scores 0."""
    answer = results[0]
    return {"exact_match": int(answer is not None and is_equiv(answer, doc["answer"]))}
