"""The regression task: a frozen layer W0 and the update Δ(x) an adapter must learn.

    y = W0 x + Δ(x),   x ~ N(0, I_d)

nonlinear: Δ(x) = U (tanh(V x + b) − m), V (h × d) ~ N(0, 1/d), b ~ N(0, 1), U (d × h) ~ N(0, 1/h),
    m = E[tanh(V x + b)] by Gauss–Hermite quadrature. Unit-variance pre-activations put tanh in its
    working range (neither linear nor saturated), as a network at initialisation has it. Why tanh
    *with* biases: SiLU, ReLU and GELU are all z·gate(z), whose odd part is exactly z/2, so a
    bias-free CeRA branch has a purely linear odd part. A bias-free tanh target (odd) would hide all
    its non-linearity from CeRA; a bias-free SiLU/ReLU target (non-linear part even) would be
    CeRA's own function class. Random biases give both parities and match neither adapter's form.
    Centring removes the constant offset, which no bias-free adapter is meant to supply.
linear: Δ(x) = B A x with A (k × d), B (d × k) Gaussian: an exact rank-k update (the control).

`linear_optimum` is the best any rank-r linear map can do on the training set (reduced-rank
regression, closed form): the linear ceiling itself, and what a converged LoRA must reach.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from cera.mechanism.settings import TARGETS

_SALT = {"nonlinear": 1, "linear": 2}  # distinct task draws per target at the same seed


@dataclass
class Task:
    target: str
    W0: torch.Tensor        # (d, d) frozen base weight
    x_train: torch.Tensor   # (n_train, d)
    x_test: torch.Tensor    # (n_test, d)
    delta_train: torch.Tensor  # Δ(x_train): what the adapter must add to W0 x
    delta_test: torch.Tensor

    @property
    def y_train(self) -> torch.Tensor:
        return self.x_train @ self.W0.T + self.delta_train

    @property
    def y_test(self) -> torch.Tensor:
        return self.x_test @ self.W0.T + self.delta_test


def tanh_mean(mu: np.ndarray, sd: np.ndarray, points: int = 80) -> np.ndarray:
    """E[tanh(z)] for z ~ N(mu, sd²), elementwise (Gauss–Hermite, probabilists' weights)."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(points)
    return (np.tanh(mu[:, None] + sd[:, None] * nodes[None, :]) * weights).sum(1) / math.sqrt(2 * math.pi)


def make_task(target: str, d: int, n_train: int, n_test: int, seed: int, width: int = 16,
              rank: int = 4) -> Task:
    """Draw W0, Δ and the inputs for `target` from `seed` (deterministic, float32)."""
    if target not in TARGETS:
        raise ValueError(f"target={target!r} is not known: choose from {', '.join(TARGETS)}")
    gen = torch.Generator().manual_seed(10_000 * seed + _SALT[target])
    W0 = torch.randn(d, d, generator=gen, dtype=torch.float64) / math.sqrt(d)
    x_train = torch.randn(n_train, d, generator=gen, dtype=torch.float64)
    x_test = torch.randn(n_test, d, generator=gen, dtype=torch.float64)
    if target == "nonlinear":
        V = torch.randn(width, d, generator=gen, dtype=torch.float64) / math.sqrt(d)
        b = torch.randn(width, generator=gen, dtype=torch.float64)
        U = torch.randn(d, width, generator=gen, dtype=torch.float64) / math.sqrt(width)
        m = torch.from_numpy(tanh_mean(b.numpy(), V.norm(dim=1).numpy()))

        def delta(x):
            return (torch.tanh(x @ V.T + b) - m) @ U.T
    else:
        A = torch.randn(rank, d, generator=gen, dtype=torch.float64) / math.sqrt(d)
        B = torch.randn(d, rank, generator=gen, dtype=torch.float64) / math.sqrt(rank)

        def delta(x):
            return x @ A.T @ B.T
    f32 = lambda t: t.to(torch.float32)  # noqa: E731
    return Task(target, f32(W0), f32(x_train), f32(x_test), f32(delta(x_train)), f32(delta(x_test)))


def relative_residual(pred: torch.Tensor, y: torch.Tensor, delta: torch.Tensor) -> float:
    """‖pred − y‖² / ‖Δ‖²: 1 = the frozen layer alone (no adaptation), 0 = Δ learned exactly."""
    return float(((pred.double() - y.double()) ** 2).sum() / (delta.double() ** 2).sum())


def linear_optimum(task: Task, rank: int) -> dict:
    """Train and test residual of the best rank-`rank` linear map M fitted to Δ on the training set.

    Reduced-rank regression: with Ŷ = X M̂ the least-squares fit, the rank-r optimum of ‖Δ − X M‖_F
    is M̂ V_r V_rᵀ, V_r the top-r right singular vectors of Ŷ (Eckart–Young on the fitted values).
    """
    X, D = task.x_train.double(), task.delta_train.double()
    M = torch.linalg.lstsq(X, D).solution
    _, _, Vh = torch.linalg.svd(X @ M, full_matrices=False)
    Mr = M @ Vh[:rank].T @ Vh[:rank]
    res = {}
    for split, x, delta in (("train", X, D), ("test", task.x_test.double(), task.delta_test.double())):
        res[f"residual_{split}"] = float(((x @ Mr - delta) ** 2).sum() / (delta ** 2).sum())
    return res
