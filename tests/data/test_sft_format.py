"""SFT formatting: template, label masking, truncation/drop policy, collation."""

from __future__ import annotations

import logging

import pytest
import torch

from cera.data import Example, SFTCollator, build_sft_dataset, format_prompt, tokenize_sft
from cera.tokenizer import build_tokenizer

IGNORE = -100


@pytest.fixture(scope="module")
def tok():
    return build_tokenizer()


def test_template_exact():
    assert format_prompt(Example("Add 2 and 3.", "5")) == "### Instruction:\nAdd 2 and 3.\n\n### Response:\n"
    assert (
        format_prompt(Example("Hi", "x", system="Be brief.")) == "Be brief.\n\n### Instruction:\nHi\n\n### Response:\n"
    )


@pytest.mark.parametrize("ex", [Example('Reverse the word "héllo".', "olléh"), Example("Q?", "A b c", system="S.")])
def test_labels_mask_exactly_the_prompt(tok, ex):
    out = tokenize_sft(tok, ex, max_len=256)
    prompt = format_prompt(ex)
    n_prompt = len(prompt.encode())  # byte tokenizer: one token per UTF-8 byte
    assert len(out["input_ids"]) == len(out["labels"]) == n_prompt + len(ex.response.encode()) + 1
    assert out["labels"][:n_prompt] == [IGNORE] * n_prompt
    assert out["labels"][n_prompt:] == out["input_ids"][n_prompt:]  # response and eos supervised
    assert out["input_ids"][-1] == tok.eos_token_id == 2
    assert tok.decode(out["input_ids"][:-1]) == prompt + ex.response
    assert tok.decode(out["input_ids"]) == prompt + ex.response + tok.eos_token


def test_truncation_keeps_prompt_and_drops_eos(tok):
    ex = Example("Q", "0123456789")
    n_prompt = len(format_prompt(ex).encode())
    exact = tokenize_sft(tok, ex, max_len=n_prompt + 11)  # response + eos fit exactly
    assert exact["input_ids"][-1] == tok.eos_token_id
    cut = tokenize_sft(tok, ex, max_len=n_prompt + 4)
    assert len(cut["input_ids"]) == n_prompt + 4 and tok.eos_token_id not in cut["input_ids"]
    assert tok.decode(cut["input_ids"]) == format_prompt(ex) + "0123"
    assert cut["labels"][n_prompt:] == cut["input_ids"][n_prompt:]
    assert tokenize_sft(tok, ex, max_len=n_prompt) is None  # prompt alone fills max_len: nothing to learn
    assert tokenize_sft(tok, ex, max_len=n_prompt - 1) is None


def test_build_sft_dataset_counts_and_warns(tok, caplog):
    short, long_resp, long_prompt = Example("a", "b"), Example("a", "x" * 100), Example("y" * 100, "z")
    with caplog.at_level(logging.WARNING):
        ds, stats = build_sft_dataset(tok, [short, long_resp, long_prompt], max_len=64)
    assert stats == {"n": 2, "dropped": 1, "truncated": 1}
    assert "dropped 1" in caplog.text and "truncated" in caplog.text
    assert ds.column_names == ["input_ids", "labels"] and len(ds) == 2
    assert ds[0]["input_ids"] == tokenize_sft(tok, short, 64)["input_ids"]
    assert len(ds[1]["input_ids"]) == 64
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        _, stats = build_sft_dataset(tok, [short], max_len=64)
    assert stats == {"n": 1, "dropped": 0, "truncated": 0} and not caplog.text


def test_collator_pads_right(tok):
    feats = [tokenize_sft(tok, Example("a", "bcd"), 64), tokenize_sft(tok, Example("longer", "e"), 64)]
    batch = SFTCollator(pad_id=tok.pad_token_id)(feats)
    width = max(len(f["input_ids"]) for f in feats)
    assert all(t.dtype == torch.long and t.shape == (2, width) for t in batch.values())
    for i, f in enumerate(feats):
        n = len(f["input_ids"])
        assert batch["input_ids"][i, :n].tolist() == f["input_ids"] and batch["labels"][i, :n].tolist() == f["labels"]
        assert (batch["input_ids"][i, n:] == 0).all() and (batch["labels"][i, n:] == IGNORE).all()
        assert batch["attention_mask"][i].tolist() == [1] * n + [0] * (width - n)


def test_collator_accepts_dataset_rows(tok):
    ds, _ = build_sft_dataset(tok, [Example("a", "b"), Example("cc", "dd")], max_len=64)
    batch = SFTCollator(pad_id=0)([ds[0], ds[1]])
    assert batch["labels"].ne(IGNORE).sum().item() == (1 + 1) + (2 + 1)  # responses + eos
