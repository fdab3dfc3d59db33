"""Offline byte-level tokenizer for the embedded default.

Every UTF-8 byte is one token (id = byte + 3), so any text round-trips exactly, nothing has to be
downloaded, and the vocabulary is tiny (259 ids) — right for a backbone pre-trained on 2 CPU cores.
It is a real ``PreTrainedTokenizerFast``: it saves, reloads with ``AutoTokenizer`` and works with
lm-eval's HFLM. It adds no special tokens on its own (no BOS, no trailing EOS): the SFT formatter
appends EOS to responses explicitly, and evaluation prompts end exactly where the response starts.
"""

from __future__ import annotations

from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

SPECIAL_TOKENS = ("<pad>", "<bos>", "<eos>")
BYTE_OFFSET = len(SPECIAL_TOKENS)
VOCAB_SIZE = BYTE_OFFSET + 256


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable-unicode map (the alphabet of the ByteLevel pre-tokenizer)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    printable += list(range(ord("®"), ord("ÿ") + 1))
    chars, n = {}, 0
    for b in range(256):
        if b in printable:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + n)
            n += 1
    return chars


def build_tokenizer(model_max_length: int = 1024) -> PreTrainedTokenizerFast:
    """Build the byte tokenizer from scratch (no files, no network)."""
    vocab = {tok: i for i, tok in enumerate(SPECIAL_TOKENS)}
    vocab.update({ch: BYTE_OFFSET + b for b, ch in _bytes_to_unicode().items()})
    core = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token=None, fuse_unk=False))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    core.decoder = decoders.ByteLevel()
    tok = PreTrainedTokenizerFast(
        tokenizer_object=core,
        pad_token="<pad>",
        bos_token="<bos>",
        eos_token="<eos>",
        model_max_length=model_max_length,
        padding_side="right",
        clean_up_tokenization_spaces=False,
    )
    return tok
