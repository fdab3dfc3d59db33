"""The three measured workloads: a training step, a prefill and a greedy decode with a KV cache.

They mirror what a user pays for: the training step is the recipe's (forward with the LM loss,
backward, AdamW step, gradients freed) under the same autocast as training; prefill runs the prompt
once and keeps the cache; decode appends a fixed number of greedy tokens one forward at a time
(no early stop, so every variant does identical work). Inference runs in eval mode (dropout off)
under `torch.inference_mode`. Only the last position's logits are computed at inference
(`logits_to_keep=1`), as `generate` does, so the LM head does not dilute the adapter's share.
"""

from __future__ import annotations

import torch
from torch import nn

from cera.bench.timing import Timer, autocast


def token_batch(vocab_size: int, batch: int, seq_len: int, seed: int, device: torch.device) -> torch.Tensor:
    """Random token ids, the same for every variant (content does not change the cost)."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, vocab_size, (batch, seq_len), generator=generator).to(device)


def train_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    ids: torch.Tensor,
    amp: torch.dtype | None,
) -> None:
    """Forward + loss + backward + AdamW step; gradients are set to None as the Trainer does."""
    model.train()
    with autocast(ids.device, amp):
        loss = model(input_ids=ids, labels=ids, use_cache=False).loss
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def timed_train_step(
    model: nn.Module, optimizer: torch.optim.Optimizer, ids: torch.Tensor, amp: torch.dtype | None
) -> float:
    with Timer(ids.device) as timer:
        train_step(model, optimizer, ids, amp)
    return timer.seconds


def _next_token(out) -> torch.Tensor:
    return out.logits[:, -1:].argmax(dim=-1)


def timed_inference(
    model: nn.Module, ids: torch.Tensor, new_tokens: int, amp: torch.dtype | None, **kwargs
) -> tuple[float, float]:
    """(prefill seconds, decode seconds for `new_tokens` greedy tokens after that prefill).

    `kwargs` go to every forward (e.g. `adapter_names` for a mixed-adapter batch)."""
    model.eval()
    with torch.inference_mode(), autocast(ids.device, amp):
        with Timer(ids.device) as prefill:
            out = model(input_ids=ids, use_cache=True, logits_to_keep=1, **kwargs)
            token = _next_token(out)
        cache = out.past_key_values
        with Timer(ids.device) as decode:
            for _ in range(new_tokens):
                out = model(input_ids=token, past_key_values=cache, use_cache=True, logits_to_keep=1, **kwargs)
                token = _next_token(out)
                cache = out.past_key_values
    return prefill.seconds, decode.seconds

