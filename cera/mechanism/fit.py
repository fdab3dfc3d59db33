"""One fit: the project's own adapter on a frozen nn.Linear, trained full-batch to convergence.

The adapter comes from conf/method/<method>.yaml (the same file a training run uses: alpha = 2r)
through `cera.adapters.attach`, so what is measured here is what `cera.run` trains. CeRA variants
override only `activation`; every variant sets its own `dropout`.

Convergence rule: a fit runs 2N Adam steps at a constant learning rate and is `converged` when its
train residual (eval mode, no dropout) improved by less than `tol` (relative) from step N to step
2N, or is below `floor` at 2N (solved: a relative gain on ~0 means nothing). With a constant rate a
flat N→2N stretch is evidence of convergence; under a decaying schedule it would not be.
"""

from __future__ import annotations

import torch
from omegaconf import OmegaConf
from torch import nn

from cera.adapters import attach, trainable_parameters
from cera.mechanism.settings import Variant
from cera.mechanism.task import Task, relative_residual

TARGET_MODULE = "layer"


class FrozenLayer(nn.Module):
    """A module holding one bias-free nn.Linear named `layer` (the adapters' target) set to W0."""

    def __init__(self, W0: torch.Tensor) -> None:
        super().__init__()
        d_out, d_in = W0.shape
        self.layer = nn.Linear(d_in, d_out, bias=False)
        with torch.no_grad():
            self.layer.weight.copy_(W0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)


def adapter_config(variant: Variant, rank: int):
    """The adapter config object `attach` takes, built from conf/method/<method>.yaml."""
    from cera.bench.settings import method_config
    from cera.config import adapter_config as build

    cfg = OmegaConf.create({"dropout": variant.dropout, "model": {"target_modules": [TARGET_MODULE]}})
    method = method_config(cfg, variant.method, rank)
    if variant.activation is not None:
        method["activation"] = variant.activation
    return build(method)


def build_model(W0: torch.Tensor, variant: Variant, rank: int, seed: int) -> nn.Module:
    """FrozenLayer(W0) with the variant's adapter attached; `seed` fixes its initialisation."""
    torch.manual_seed(seed)
    return attach(FrozenLayer(W0), adapter_config(variant, rank))


def train(model: nn.Module, task: Task, steps: int, lr: float) -> dict:
    """2·steps full-batch Adam steps on MSE; residuals (eval mode) at step N and 2N."""
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr)
    x, y = task.x_train, task.y_train
    out = {}
    for step in range(1, 2 * steps + 1):
        model.train()
        opt.zero_grad(set_to_none=True)
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        if step in (steps, 2 * steps):
            out[step] = residuals(model, task)
    if not all(torch.isfinite(p).all() for p in params):
        raise FloatingPointError("adapter parameters diverged to inf/nan")
    return {"at_N": out[steps], "at_2N": out[2 * steps]}


@torch.no_grad()
def residuals(model: nn.Module, task: Task) -> dict:
    model.eval()
    return {"train": relative_residual(model(task.x_train), task.y_train, task.delta_train),
            "test": relative_residual(model(task.x_test), task.y_test, task.delta_test)}


def converged(at_n: float, at_2n: float, tol: float, floor: float) -> bool:
    """True when the N→2N gain is < tol relative to the 2N value, or the 2N value is below floor."""
    return at_2n < floor or (at_n - at_2n) < tol * at_2n


def fit(task: Task, variant: Variant, rank: int, seed: int, steps: int, lr: float, tol: float,
        floor: float) -> dict:
    """One row of mechanism.json."""
    model = build_model(task.W0, variant, rank, seed)
    params = trainable_parameters(model)
    d_out, d_in = task.W0.shape
    if params != rank * (d_in + d_out):  # the equal-parameter premise of every comparison here
        raise AssertionError(f"{variant.name} r={rank}: {params} trainable params, expected r·(d_in+d_out)")
    res = train(model, task, steps, lr)
    return {
        "target": task.target, "variant": variant.name, "method": variant.method,
        "activation": variant.activation, "dropout": variant.dropout, "rank": rank, "params": params,
        "seed": seed, "residual_test": res["at_2N"]["test"], "residual_train": res["at_2N"]["train"],
        "residual_train_at_N": res["at_N"]["train"], "steps": 2 * steps,
        "converged": converged(res["at_N"]["train"], res["at_2N"]["train"], tol, floor),
    }
