"""Two knobs on PEFT's own LoRA/DoRA, through PEFT's custom-layer API (no patching of PEFT):

- `init`: how lora_A starts (`cera.adapters.init`): kaiming_uniform is PEFT's own default; normal_0.01
  is the CeRA authors' LoRA and DoRA (A ~ N(0, 0.01²)). lora_B stays zero, so the model still starts
  as the base model.
- `dora_norm`: detached (PEFT, the DoRA paper §4.3: ‖W0 + s·BA‖_row is treated as a constant in the
  backward pass) | attached (the CeRA authors' DoRAWrapper: the gradient flows through the norm).
  The forward value is the same; only the gradient of A and B differs.

How: `configure(config, init, dora_norm)` registers, with `LoraConfig._register_custom_module` (PEFT's
documented, experimental hook for custom LoRA layers), a subclass of PEFT's `lora.Linear` that
re-initialises A in `reset_lora_parameters` and, for attached DoRA, resolves `use_dora` to a
`DoraLinearVariant` whose magnitude layer keeps the norm in the graph. At the defaults nothing is
registered: plain PEFT. The registration is not saved in adapter_config.json; a saved adapter loads as
plain PEFT LoRA/DoRA, which computes the same forward (inference and evaluation are unchanged).
"""

from __future__ import annotations

import functools

import peft
import torch
import torch.nn.functional as F
from peft.tuners.lora import variants
from peft.tuners.lora.dora import DoraLinearLayer
from peft.tuners.lora.layer import Linear as LoraLinear
from peft.utils.integrations import dequantize_module_weight
from peft.utils.other import transpose
from torch import nn

from cera.adapters.errors import AdapterError
from cera.adapters.init import check_init, init_factor

DORA_NORMS = ("detached", "attached")
DEFAULTS = {"init": "kaiming_uniform", "dora_norm": "detached"}


class AttachedNormDora(DoraLinearLayer):
    """PEFT's DoRA magnitude layer with ‖W0 + s·BA‖_row left in the autograd graph (the authors' DoRA).

    Same result as PEFT's forward: (m/‖W‖ − 1) · W0 x + (m/‖W‖) · s · B A x, W = W0 + s·BA.
    """

    def forward(self, x, *, lora_A, lora_B, scaling, base_layer, base_result=None, adapter_name="default"):
        lora_weight = lora_B.weight @ lora_A.weight  # not PEFT's cached eye trick: the norm needs its graph
        weight = dequantize_module_weight(base_layer).to(x.dtype)
        norm = torch.linalg.norm(transpose(weight, self.fan_in_fan_out) + scaling * lora_weight.to(x.dtype), dim=1)
        mag_norm_scale = (self.weight / norm).view(1, -1)
        lora_result = lora_B(lora_A(x))
        if base_result is not None:
            if base_layer.bias is not None:
                base_result = base_result - base_layer.bias
        else:
            base_result = F.linear(x, transpose(weight, self.fan_in_fan_out))
        return (mag_norm_scale - 1) * base_result + mag_norm_scale * lora_result * scaling


class AttachedDoraVariant(variants.DoraLinearVariant):
    """PEFT's DoRA variant, its magnitude layer swapped for `AttachedNormDora` (same parameter, same init)."""

    @staticmethod
    def init(module, adapter_name: str, **kwargs) -> None:
        variants.DoraLinearVariant.init(module, adapter_name, **kwargs)
        peft_layer = module.lora_magnitude_vector[adapter_name]
        layer = AttachedNormDora(fan_in_fan_out=peft_layer.fan_in_fan_out)
        layer.weight = peft_layer.weight
        module.lora_magnitude_vector[adapter_name] = layer


class KnobLoraLinear(LoraLinear):
    """PEFT's LoRA Linear with `init_scheme` for A and `dora_norm` (class attributes, see `layer_class`)."""

    init_scheme = DEFAULTS["init"]
    dora_norm = DEFAULTS["dora_norm"]

    def reset_lora_parameters(self, adapter_name, init_lora_weights):
        super().reset_lora_parameters(adapter_name, init_lora_weights)
        if init_lora_weights is True and adapter_name in self.lora_A and self.init_scheme != "kaiming_uniform":
            init_factor(self.lora_A[adapter_name].weight, self.init_scheme)

    @property
    def lora_variants(self):
        table = dict(super().lora_variants)
        if self.dora_norm == "attached":
            table[("use_dora",)] = AttachedDoraVariant
        return table


@functools.cache
def layer_class(init: str, dora_norm: str) -> type[KnobLoraLinear]:
    """The LoRA layer class for one setting of the two knobs (one class per setting, made once)."""
    return type(f"KnobLoraLinear_{init}_{dora_norm}", (KnobLoraLinear,), {"init_scheme": init, "dora_norm": dora_norm})


def configure(config: peft.LoraConfig, init: str = DEFAULTS["init"], dora_norm: str = DEFAULTS["dora_norm"],
              prefix: str = "method.") -> peft.LoraConfig:
    """`config` with the knobs applied (checked first; one-line AdapterError naming the bad value)."""
    check_init(init, f"{prefix}init")
    if dora_norm not in DORA_NORMS:
        raise AdapterError(f"{prefix}dora_norm={dora_norm!r} is invalid: choose from {', '.join(DORA_NORMS)}")
    if dora_norm == "attached" and not config.use_dora:
        raise AdapterError(f"{prefix}dora_norm=attached needs DoRA (use_dora=true): method=dora")
    if (init, dora_norm) != (DEFAULTS["init"], DEFAULTS["dora_norm"]):
        config._register_custom_module({nn.Linear: layer_class(init, dora_norm)})
    return config
