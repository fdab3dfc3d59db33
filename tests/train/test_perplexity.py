"""Perplexity against hand-computed values."""

from __future__ import annotations

import math

import torch

from cera.train import perplexity


class _Fixed(torch.nn.Module):
    """A 'model' whose next-token distribution is fixed: uniform, or peaked on one token."""

    def __init__(self, vocab: int, peak: int | None = None, p: float = 0.5):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.vocab, self.peak, self.p = vocab, peak, p

    def forward(self, input_ids, attention_mask=None):
        probs = torch.full((*input_ids.shape, self.vocab), 1.0 / self.vocab)
        if self.peak is not None:
            probs[:] = (1 - self.p) / (self.vocab - 1)
            probs[..., self.peak] = self.p
        return type("Out", (), {"logits": probs.log()})()


def _collate(rows):
    n = max(len(r["input_ids"]) for r in rows)
    ids = torch.tensor([r["input_ids"] + [0] * (n - len(r["input_ids"])) for r in rows])
    labels = torch.tensor([r["labels"] + [-100] * (n - len(r["labels"])) for r in rows])
    return {"input_ids": ids, "attention_mask": (labels != -100).long(), "labels": labels}


def test_uniform_model_has_ppl_equal_to_vocab():
    data = [{"input_ids": [1, 2, 3, 4], "labels": [-100, -100, 3, 4]}, {"input_ids": [5, 6], "labels": [-100, 6]}]
    out = perplexity(_Fixed(vocab=50), data, _collate, batch_size=1)
    assert math.isclose(out["ppl"], 50.0, rel_tol=1e-5)
    assert out["tokens"] == 3 and out["sequences"] == 2
    assert out["per_sequence"]["tokens"] == [2, 1]


def test_ppl_is_token_weighted_over_supervised_tokens():
    # labels 7 get probability 0.5, others (1-0.5)/9; prompt tokens (-100) never count.
    data = [{"input_ids": [0, 7, 7], "labels": [-100, 7, 7]}, {"input_ids": [0, 3], "labels": [-100, 3]}]
    out = perplexity(_Fixed(vocab=10, peak=7, p=0.5), data, _collate, batch_size=2)
    nll = [-math.log(0.5), -math.log(0.5), -math.log(0.5 / 9)]
    assert math.isclose(out["nll"], sum(nll) / 3, rel_tol=1e-5)
    assert math.isclose(out["ppl"], math.exp(sum(nll) / 3), rel_tol=1e-5)
    assert [round(x, 5) for x in out["per_sequence"]["nll_sum"]] == [round(nll[0] + nll[1], 5), round(nll[2], 5)]
