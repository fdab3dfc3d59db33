"""Adapters for Hugging Face models: PEFT's LoRA/DoRA and this project's CeRA, PERA and parallel.

    model = attach(model, CeraConfig(r=64, alpha=128, dropout=0.1))   # or PeraConfig, ParallelConfig,
                                                                     # peft.LoraConfig (use_dora for DoRA)
    method_of(model)                  # 'cera'
    save_adapter(model, "out/adapter")   # adapter.safetensors + adapter_config.json
    model = load_adapter(fresh_base_model, "out/adapter")   # strict: method, config, shapes
    model = merge(model)              # lora, dora, pera; AdapterError for cera, parallel

`attach` freezes the base; only adapter parameters train. `iter_adapter_layers` and
`branch_output` expose each layer's additive branch for analysis hooks.
"""

from cera.adapters.api import (
    ADAPTER_CLASSES,
    adapter_config,
    adapter_state_dict,
    attach,
    branch_output,
    has_adapter,
    iter_adapter_layers,
    merge,
    method_of,
    trainable_parameters,
)
from cera.adapters.cera import CeraConfig, CeraLinear
from cera.adapters.checkpoint import ADAPTER_FORMAT_VERSION, load_adapter, read_adapter_config, save_adapter
from cera.adapters.errors import AdapterError
from cera.adapters.parallel import ParallelAdapter, ParallelConfig
from cera.adapters.pera import PeraConfig, PeraLinear

__all__ = [
    "ADAPTER_CLASSES",
    "ADAPTER_FORMAT_VERSION",
    "AdapterError",
    "CeraConfig",
    "CeraLinear",
    "ParallelAdapter",
    "ParallelConfig",
    "PeraConfig",
    "PeraLinear",
    "adapter_config",
    "adapter_state_dict",
    "attach",
    "branch_output",
    "has_adapter",
    "iter_adapter_layers",
    "load_adapter",
    "merge",
    "method_of",
    "read_adapter_config",
    "save_adapter",
    "trainable_parameters",
]
