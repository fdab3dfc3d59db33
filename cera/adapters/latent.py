"""CeRA's r-wide latent, computed with as few full-width operations and copies as the formula allows.

    branch(x) = s · W_down( D( σ(W_up x) ) )  =  W_down( latent(W_up x) ),   latent(h) = s · D(σ(h))

Why a function of its own: the layer (`CeraLayer`, the PEFT tuner layer) calls it in one line, and every saving below is tested against `reference_latent`, the formula written plainly.

Where the time of the plain form goes at Llama-3 shapes (d = 4096, r = 64), beyond the two matmuls:
- the scale `· s` on the d_out-wide output: one full-width multiply (and one more in backward);
  applied to the r-wide latent instead (`W_down(s·z) = s·W_down(z)`) it costs r/d_out of that;
- dropout builds a mask and then multiplies twice (by the mask, then by 1/(1-p)); here one mask
  already holds s/(1-p), so σ, dropout and the scale are one multiply on the latent;
- `cast_input`: the float32 copy of the d_in-wide input that the float32 factors need without
  autocast is skipped under autocast, which casts it straight back to the autocast dtype anyway.

Exactness: with s a power of two (the paper's alpha = 2r gives s = 2) every step is bitwise identical
to the plain form, forward and backward (scaling by 2^k commutes with rounding). Otherwise the
scale is applied before instead of after the rounding of W_down's sum: relative differences of a
few ulps of the compute dtype. On CPU the dropout mask is the same draw as `F.dropout`'s for the same
generator state; on CUDA `F.dropout` uses a different kernel, so masks differ draw by draw (same law).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

#: σ by name, out of place and in place (None: no in-place kernel, e.g. GELU).
_ACT = {"silu": F.silu, "relu": F.relu, "gelu": F.gelu, "identity": lambda h: h}
_ACT_INPLACE = {"silu": lambda h: F.silu(h, inplace=True), "relu": F.relu_, "identity": lambda h: h}


def cast_input(x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """`x` in the factors' dtype, unless autocast is on for x's device (it casts x itself)."""
    if torch.is_autocast_enabled(x.device.type):
        return x
    return x.to(dtype)


def latent(h: torch.Tensor, activation: str, p: float, training: bool, scale: float) -> torch.Tensor:
    """s · D(σ(h)) for the r-wide pre-activation h = W_up x (D: dropout with probability p if training)."""
    if training and p > 0:  # σ, dropout and scale fused into one multiply by a {0, s/(1-p)} mask
        mask = torch.empty_like(h).bernoulli_(1 - p).div_(1 - p).mul_(scale)  # F.dropout's draw, then s
        return _ACT[activation](h) * mask
    if not torch.is_grad_enabled():  # inference: h is ours and nothing is kept for backward
        return _ACT_INPLACE.get(activation, _ACT[activation])(h).mul_(scale)
    return _ACT[activation](h) * scale


def reference_latent(h: torch.Tensor, activation: str, p: float, training: bool) -> torch.Tensor:
    """The plain D(σ(h)) with torch's own dropout, unscaled (the scale goes on the output)."""
    return F.dropout(_ACT[activation](h), p, training=training)


def reference_branch(layer, x: torch.Tensor, adapter: str = "default") -> torch.Tensor:
    """The branch of a CeRA layer's `adapter` written plainly (float32 input copy, scale on the output):
    what the tests and the A/B figure (``python -m cera.bench.latent_ab``) compare the optimised path with."""
    up, down = layer.cera_W_up[adapter], layer.cera_W_down[adapter]
    x = F.dropout(x, layer.p_input.get(adapter, 0.0), training=layer.training)  # dropout_at=input only
    h = F.linear(x.to(up.dtype), up)
    plain = reference_latent(h, layer.activation[adapter], layer.p[adapter], layer.training)
    return F.linear(plain, down) * layer.scaling[adapter]
