"""A/B of CeRA's optimised branch (cera.adapters.latent) against the plain formula, one layer at a time.

    python -m cera.bench.latent_ab                       # Llama-3-8B q_proj and v_proj, r = 64, 128
    python -m cera.bench.latent_ab --tokens 256 --ranks 64 --repeats 15 --dtype fp32

Both paths run in one process on the same layer, interleaved, and the figure is the median of per-round
paired ratios optimised / plain (< 1: faster). PEFT's LoRA at the same rank runs beside them, so the
CeRA/LoRA ratio of each path is shown too. Workloads per call: train = forward + backward of
q_proj and v_proj on `tokens` tokens (dropout 0.1, bf16 autocast as in training); prefill = the same
forward in inference mode; decode = one token in inference mode. Weights are random (shapes only).
"""

from __future__ import annotations

import argparse
import contextlib

import torch
from torch import nn

from cera.adapters.latent import reference_branch
from cera.bench.summary import paired, spread
from cera.bench.timing import Timer

SHAPES = {"q_proj": (4096, 4096), "v_proj": (4096, 1024)}  # Llama-3-8B, d_in -> d_out


class Block(nn.Module):
    """q_proj and v_proj side by side, as in one attention block (the adapted layers)."""

    def __init__(self, dtype: torch.dtype) -> None:
        super().__init__()
        for name, (d_in, d_out) in SHAPES.items():
            setattr(self, name, nn.Linear(d_in, d_out, bias=False, dtype=dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.q_proj(x).float().sum() + self.v_proj(x).float().sum()


class Plain(nn.Module):
    """The same CeRA layers, forwarded through the plain formula."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        total = 0
        for name in SHAPES:
            layer = getattr(self.model, name)
            total = total + (layer.base_layer(x) + reference_branch(layer, x).to(x.dtype)).float().sum()
        return total


def variants(rank: int, dtype: torch.dtype) -> dict[str, nn.Module]:
    import peft

    from cera.adapters import CeraConfig, attach

    torch.manual_seed(0)
    cera = attach(Block(dtype), CeraConfig(r=rank, alpha=2 * rank, dropout=0.1))
    lora = peft.get_peft_model(Block(dtype), peft.LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=0.1,
                                                             target_modules=list(SHAPES)))
    for model in (cera, lora):
        for p in model.parameters():
            if p.requires_grad:
                nn.init.normal_(p, std=0.02)  # W_down / B nonzero: the backward does its full work
    return {"cera optimised": cera, "cera plain": Plain(cera), "lora": lora}


def run(tokens: int, rank: int, repeats: int, amp: torch.dtype | None, dtype: torch.dtype) -> dict:
    models = variants(rank, dtype)
    x = torch.randn(tokens, 4096, dtype=dtype, requires_grad=True)  # requires grad: a layer above trains
    ctx = (lambda: torch.autocast("cpu", dtype=amp)) if amp else contextlib.nullcontext

    def train(m):
        m.train()
        with ctx():
            y = m(x)
        y.backward()
        x.grad = None
        for p in m.parameters():
            p.grad = None

    def infer(n):
        def call(m):
            m.eval()
            with torch.inference_mode(), ctx():
                m(x[:n].detach())
        return call

    work = {"train": train, "prefill": infer(tokens), "decode": infer(1)}
    samples = {w: {k: [] for k in models} for w in work}
    names = list(models)
    for k in range(repeats + 1):
        for w, fn in work.items():
            for name in names[k % 3:] + names[:k % 3]:
                with Timer(x.device) as t:
                    fn(models[name])
                if k:  # round 0 is warm-up
                    samples[w][name].append(t.seconds)
    out = {}
    for w, s in samples.items():
        out[w] = {"ms": {n: spread(v)["median"] * 1e3 for n, v in s.items()},
                  "optimised/plain": paired(s["cera optimised"], s["cera plain"]),
                  "optimised/lora": paired(s["cera optimised"], s["lora"]),
                  "plain/lora": paired(s["cera plain"], s["lora"])}
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=256, help="tokens per train/prefill call")
    ap.add_argument("--ranks", type=int, nargs="+", default=[64, 128])
    ap.add_argument("--repeats", type=int, default=15, help="measured rounds (one warm-up round more)")
    ap.add_argument("--dtype", choices=("bf16", "fp32"), default="bf16", help="bf16: bf16 weights + autocast")
    ap.add_argument("--threads", type=int, default=None)
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    amp, dtype = (torch.bfloat16, torch.bfloat16) if a.dtype == "bf16" else (None, torch.float32)
    print(f"| r | workload | cera optimised ms | cera plain ms | lora ms | optimised / plain | "
          f"optimised / lora | plain / lora |\n|---|---|---|---|---|---|---|---|")
    for rank in a.ranks:
        for w, r in run(a.tokens, rank, a.repeats, amp, dtype).items():
            q = [f"{r[k]['median']:.3f} [{r[k]['q1']:.3f}–{r[k]['q3']:.3f}]"
                 for k in ("optimised/plain", "optimised/lora", "plain/lora")]
            ms = r["ms"]
            print(f"| {rank} | {w} | {ms['cera optimised']:.2f} | {ms['cera plain']:.2f} | {ms['lora']:.2f} | "
                  + " | ".join(q) + " |", flush=True)


if __name__ == "__main__":
    main()
