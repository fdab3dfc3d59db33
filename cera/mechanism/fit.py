"""One fit: the project's own adapter on a frozen nn.Linear, trained full-batch to convergence.

The adapter comes from conf/method/<method>.yaml (the same file a training run uses: alpha = 2r)
through `cera.adapters.attach`, so what is measured here is what `cera.run` trains. CeRA variants
override only `activation`; every variant sets its own `dropout`.

Convergence rule (the issue's 2x-budget rule, applied to each fit as it runs): full-batch Adam at a
constant learning rate; at every check t = 2N, 3N, … ≤ max_steps the training objective (MSE in units
of ‖Δ‖², dropout on: what the optimiser minimises) averaged over the last WINDOW of the first t/2 steps
is compared with its average over the last WINDOW of the first t steps. The fit is `converged`, and
stops, at the first t where doubling its steps from t/2 gained less than `tol` (relative), or where
the objective is below `floor` (solved: a relative gain on ~0 means nothing). The averages remove
dropout's and Adam's step-to-step jitter, which a single-step comparison would read as progress or as
a plateau. With a constant rate a flat t/2→t stretch is evidence of convergence; under a decaying
schedule it would not be. A fit that passes no check by max_steps is reported unconverged.
"""

from __future__ import annotations

import torch
from omegaconf import OmegaConf
from torch import nn

from cera.adapters import attach, trainable_parameters
from cera.mechanism.settings import Variant
from cera.mechanism.task import Task, relative_residual

TARGET_MODULE = "layer"
WINDOW = 0.1  # share of the steps before a check whose mean objective is compared


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


def train(model: nn.Module, task: Task, steps: int, max_steps: int, lr: float, tol: float, floor: float) -> dict:
    """Full-batch Adam on MSE at a constant rate, checked every `steps` (N) steps from 2N on, up to
    `max_steps`; stops at the first passed check (`converged`). Returns the train objective (relative-
    residual units) averaged over the last WINDOW of the steps before t/2 and before t, their relative
    gain, the steps run t, and the train and held-out residuals (eval mode) at t."""
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr)
    x, y = task.x_train, task.y_train
    scale = float((task.delta_train.double() ** 2).mean())  # mse / scale = ‖ŷ − y‖² / ‖Δ‖²
    losses: list[float] = []
    model.train()
    for t in range(2 * steps, max_steps + 1, steps):
        while len(losses) < t:
            opt.zero_grad(set_to_none=True)
            loss = nn.functional.mse_loss(model(x), y)
            loss.backward()
            opt.step()
            losses.append(loss.item() / scale)
        half, end = window_mean(losses, t // 2), window_mean(losses, t)
        ok = converged(half, end, tol, floor)
        if ok:
            break
    if not all(torch.isfinite(p).all() for p in params):
        raise FloatingPointError("adapter parameters diverged to inf/nan")
    return {"objective_half": half, "objective_end": end, "gain": (half - end) / end if end > 0 else 0.0,
            "steps": t, "converged": ok, **residuals(model, task)}


def window_mean(losses: list[float], t: int) -> float:
    """Mean objective over the last WINDOW of the first t steps: averages out dropout's and Adam's jitter."""
    w = max(1, round(WINDOW * t))
    return sum(losses[t - w:t]) / w


@torch.no_grad()
def residuals(model: nn.Module, task: Task) -> dict:
    model.eval()
    return {"residual_train": relative_residual(model(task.x_train), task.y_train, task.delta_train),
            "residual_test": relative_residual(model(task.x_test), task.y_test, task.delta_test)}


def converged(half: float, end: float, tol: float, floor: float) -> bool:
    """True when the gain from t/2 to t is < tol relative to the value at t, or that value is below floor."""
    return end < floor or (half - end) < tol * end


def fit(task: Task, variant: Variant, rank: int, seed: int, steps: int, max_steps: int, lr: float, tol: float,
        floor: float) -> dict:
    """One row of mechanism.json."""
    model = build_model(task.W0, variant, rank, seed)
    params = trainable_parameters(model)
    d_out, d_in = task.W0.shape
    if params != rank * (d_in + d_out):  # the equal-parameter premise of every comparison here
        raise AssertionError(f"{variant.name} r={rank}: {params} trainable params, expected r·(d_in+d_out)")
    return {"target": task.target, "variant": variant.name, "method": variant.method,
            "activation": variant.activation, "dropout": variant.dropout, "rank": rank, "params": params,
            "seed": seed, **train(model, task, steps, max_steps, lr, tol, floor)}
