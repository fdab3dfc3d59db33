"""Supervised fine-tuning format: one template for every data source, loss on the response only.

Template (``PROMPT_TEMPLATE``; the system block appears only when ``system`` is non-empty)::

    {system}\\n\\n
    ### Instruction:\\n{instruction}\\n\\n### Response:\\n{response}<eos>

``format_prompt`` returns everything up to and including ``### Response:\\n``; that is also the
exact evaluation prompt, so generation starts where training supervision started.

Loss: labels are -100 on every prompt token; the response tokens and the final ``<eos>`` are
supervised (the eos teaches the model to stop, which exact-match evaluation relies on).

Tokenization: prompt and response are tokenized separately with ``add_special_tokens=False`` and
their ids concatenated, so the prompt/response boundary is exact for any tokenizer (a merged
tokenization could fuse a token across the boundary: with SmolLM2's BPE, ``"...Response:\\n"`` +
``"  two spaces"`` jointly gives ``ĊĠ`` for the newline and the first space). The prompt's ids are
then exactly those fed at evaluation, where the prompt is tokenized alone. No BOS is added (neither
the byte tokenizer nor SmolLM2's adds one by default; evaluation passes ``add_bos_token=False``).
The eos may share its id with the pad token (SmolLM2): ``SFTCollator`` masks padding by position,
so the final eos keeps its label.

Truncation at ``max_len`` tokens: if prompt + response + eos does not fit, the response tail is
cut (the prompt is kept whole and the eos is dropped: the model must not learn to stop early);
if the prompt alone takes ``max_len`` tokens or more, nothing would be supervised and the example
is dropped. ``build_sft_dataset`` counts both and logs a warning.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

import torch

from cera.data.types import DataError, Example

log = logging.getLogger(__name__)

IGNORE_INDEX = -100
SYSTEM_TEMPLATE = "{system}\n\n"
PROMPT_TEMPLATE = "### Instruction:\n{instruction}\n\n### Response:\n"


def format_prompt(ex: Example) -> str:
    """The SFT prompt of ``ex`` up to and including the response header."""
    head = SYSTEM_TEMPLATE.format(system=ex.system) if ex.system else ""
    return head + PROMPT_TEMPLATE.format(instruction=ex.instruction)


def _eos_id(tokenizer) -> int:
    if tokenizer.eos_token_id is None:
        raise DataError("tokenizer has no eos_token_id (SFT appends eos to every response; set tokenizer.eos_token)")
    return int(tokenizer.eos_token_id)


def _assemble(prompt_ids: Sequence[int], response_ids: Sequence[int], eos: int, max_len: int):
    """Apply the truncation policy; returns (example dict | None, truncated flag)."""
    if len(prompt_ids) >= max_len:
        return None, False
    target = list(response_ids) + [eos]
    room = max_len - len(prompt_ids)
    truncated = len(target) > room
    if truncated:
        target = list(response_ids[:room])
    ids = list(prompt_ids) + target
    labels = [IGNORE_INDEX] * len(prompt_ids) + target
    return {"input_ids": ids, "labels": labels}, truncated


def tokenize_sft(tokenizer, ex: Example, max_len: int) -> dict[str, list[int]] | None:
    """Token ids and labels of one example; None when the prompt alone does not fit."""
    enc = tokenizer([format_prompt(ex), ex.response], add_special_tokens=False)["input_ids"]
    out, _ = _assemble(enc[0], enc[1], _eos_id(tokenizer), max_len)
    return out


def build_sft_dataset(tokenizer, examples: Iterable[Example], max_len: int):
    """Tokenize ``examples`` into a ``datasets.Dataset`` (columns input_ids, labels) plus stats.

    Stats: ``n`` rows kept, ``dropped`` (prompt too long), ``truncated`` (response cut).
    """
    import datasets  # heavy import, only needed here

    examples = list(examples)
    eos = _eos_id(tokenizer)
    prompts = tokenizer([format_prompt(e) for e in examples], add_special_tokens=False)["input_ids"] if examples else []
    responses = tokenizer([e.response for e in examples], add_special_tokens=False)["input_ids"] if examples else []
    rows: dict[str, list[list[int]]] = {"input_ids": [], "labels": []}
    dropped = truncated = 0
    for p, r in zip(prompts, responses, strict=True):
        out, cut = _assemble(p, r, eos, max_len)
        if out is None:
            dropped += 1
            continue
        truncated += cut
        rows["input_ids"].append(out["input_ids"])
        rows["labels"].append(out["labels"])
    stats = {"n": len(rows["input_ids"]), "dropped": dropped, "truncated": truncated}
    if dropped or truncated:
        log.warning(
            "SFT max_len=%d: dropped %d of %d examples (prompt too long), truncated the response of %d",
            max_len,
            dropped,
            len(examples),
            truncated,
        )
    features = datasets.Features(
        {"input_ids": datasets.Sequence(datasets.Value("int32")), "labels": datasets.Sequence(datasets.Value("int32"))}
    )
    return datasets.Dataset.from_dict(rows, features=features), stats


class SFTCollator:
    """Right-pad a batch to its longest row: input_ids with ``pad_id``, labels with -100."""

    def __init__(self, pad_id: int):
        self.pad_id = int(pad_id)

    def __call__(self, features: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        if not features:
            raise DataError("SFTCollator got an empty batch (expected at least one feature dict)")
        ids = [list(map(int, f["input_ids"])) for f in features]
        labels = [list(map(int, f["labels"])) for f in features]
        width = max(len(x) for x in ids)
        batch = {
            "input_ids": torch.full((len(ids), width), self.pad_id, dtype=torch.long),
            "attention_mask": torch.zeros((len(ids), width), dtype=torch.long),
            "labels": torch.full((len(ids), width), IGNORE_INDEX, dtype=torch.long),
        }
        for i, (x, y) in enumerate(zip(ids, labels, strict=True)):
            if len(x) != len(y):
                raise DataError(f"SFTCollator row {i}: input_ids has {len(x)} tokens but labels {len(y)} (must match)")
            batch["input_ids"][i, : len(x)] = torch.tensor(x, dtype=torch.long)
            batch["attention_mask"][i, : len(x)] = 1
            batch["labels"][i, : len(y)] = torch.tensor(y, dtype=torch.long)
        return batch
