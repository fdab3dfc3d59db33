"""``!function`` targets of the cera task YAMLs: the SFT prompt and MATH-style scoring.

Two metrics score a MATH-style answer, side by side:

* ``math_verify`` — mathematical equivalence by Hugging Face's ``math-verify`` (what lighteval uses):
  both answers are parsed to SymPy (``\\frac{1}{2}`` = ``0.5`` =
  ``\\dfrac12``, ``\\text{}`` and unit wrappers, intervals, sets) and compared by ``verify(gold, pred)``;
* ``exact_match`` — lm-eval's ``hendrycks_math`` string normalisation ``is_equiv`` (the old metric).

Answer extraction is lm-eval's own MATH code (``lm_eval/tasks/hendrycks_math/utils.py``): the last
``\\boxed{}`` by ``last_boxed_only_string`` + ``remove_boxed``. Nothing here is a home-made matcher.
"""

from __future__ import annotations

import threading

from lm_eval.tasks.hendrycks_math import utils as hendrycks
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


def _timeout() -> int | None:
    """math-verify's per-call time limit (s): it uses SIGALRM, which only the main thread may set."""
    return 5 if threading.current_thread() is threading.main_thread() else None


def math_verify_equal(gold: str, answer: str | None) -> bool:
    """math-verify's ``verify`` of two bare answers (no delimiters), each parsed as ``\\boxed{...}``.

    Wrapping in ``\\boxed{}`` makes math-verify parse exactly that answer (a bare string would be
    searched for its last number, a ``$...$`` wrapper breaks on a ``$`` inside the answer).
    """
    if answer is None or not answer.strip():
        return False
    from math_verify import parse, verify

    limit = _timeout()
    gold_parsed = parse("\\boxed{" + gold + "}", parsing_timeout=limit)
    return bool(gold_parsed) and bool(
        verify(gold_parsed, parse("\\boxed{" + answer + "}", parsing_timeout=limit), timeout_seconds=limit))


def process_boxed(doc: dict, results: list) -> dict[str, int]:
    """The extracted last-box answer against the gold: math_verify and exact_match (is_equiv).
    A missing box scores 0 in both."""
    answer, gold = results[0], doc["answer"]
    return {"math_verify": int(math_verify_equal(gold, answer)),
            "exact_match": int(answer is not None and is_equiv(answer, gold))}  # fmt: skip


def math_response_answer(response: str) -> str | None:
    """The answer math-verify scores in a MATH response: its last \\boxed{} content when it has one,
    else math-verify's own extraction from the whole response (its last LaTeX expression or number,
    as lighteval does); None when nothing parses."""
    boxed = boxed_answer(response)
    if boxed is not None:
        return boxed
    from math_verify import parse

    parsed = parse(response, parsing_timeout=_timeout()) if isinstance(response, str) else []
    return str(parsed[-1]) if parsed else None


def process_math(doc: dict, results: list) -> dict[str, int]:
    """Real MATH (hendrycks_math, MATH-500): math_verify on the last \\boxed{} (else math-verify's own
    extraction), and lm-eval's own hendrycks_math ``exact_match`` on the raw response, unchanged."""
    response = results[0]
    answer = math_response_answer(response)
    return {"math_verify": int(math_verify_equal(doc["answer"], answer)),
            "exact_match": int(hendrycks.process_results(doc, [response])["exact_match"])}  # fmt: skip
