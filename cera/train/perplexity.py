"""Token-weighted perplexity over the supervised (response) tokens of a tokenized dataset.

PPL = exp(Σ NLL / Σ tokens) over every label != -100. Per-sequence sums are kept so that confidence
intervals can be bootstrapped over sequences later without re-running the model.
"""

from __future__ import annotations

import math

import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm


@torch.no_grad()
def perplexity(model, dataset, collator, batch_size: int = 32, desc: str = "test ppl") -> dict:
    was_training = model.training
    model.eval()
    device = next(p for p in model.parameters()).device
    nll_per_seq: list[float] = []
    tok_per_seq: list[int] = []
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=collator)
    for batch in tqdm(loader, desc=desc, leave=False):
        batch = {k: v.to(device) for k, v in batch.items()}
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        labels = batch["labels"][:, 1:]
        logp = torch.log_softmax(logits[:, :-1].float(), dim=-1)
        mask = labels != -100
        nll = -logp.gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1) * mask
        nll_per_seq += nll.sum(1).tolist()
        tok_per_seq += mask.sum(1).tolist()
    model.train(was_training)
    total_nll, total_tok = sum(nll_per_seq), sum(tok_per_seq)
    mean = total_nll / max(1, total_tok)
    return {
        "ppl": math.exp(mean) if math.isfinite(mean) else float("inf"),
        "nll": mean,
        "tokens": total_tok,
        "sequences": len(tok_per_seq),
        "per_sequence": {"nll_sum": nll_per_seq, "tokens": tok_per_seq},
    }
