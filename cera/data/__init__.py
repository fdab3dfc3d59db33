"""Data layer: every source (synthetic or real) becomes ``Splits`` of ``Example``; one SFT format.

Entry points: ``load_splits(cfg)`` for a ``data`` config group, ``build_sft_dataset`` to tokenize,
``SFTCollator`` to batch, ``pretraining_texts`` for the embedded backbone's corpus.
"""

from cera.data.loading import FORMATS, load_splits
from cera.data.sft import PROMPT_TEMPLATE, SFTCollator, build_sft_dataset, format_prompt, tokenize_sft
from cera.data.synthetic import pretraining_texts
from cera.data.types import DataError, Example, Splits

__all__ = [
    "Example", "Splits", "load_splits", "DataError", "format_prompt", "tokenize_sft", "SFTCollator",
    "build_sft_dataset", "pretraining_texts", "PROMPT_TEMPLATE", "FORMATS",
]  # fmt: skip
