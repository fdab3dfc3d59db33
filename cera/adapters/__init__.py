"""Adapters for Hugging Face models, all as PEFT methods: PEFT's LoRA/DoRA and this project's CeRA,
PERA and module-level parallel adapter (registered with PEFT when this package is imported).

    from peft import get_peft_model, PeftModel
    from cera import CeraConfig                       # or PeraConfig, ParallelConfig
    model = get_peft_model(model, CeraConfig(r=64, alpha=128, dropout=0.1, target_modules=["q_proj", "v_proj"]))
    model.save_pretrained("out/adapter")              # adapter_model.safetensors + adapter_config.json
    model = PeftModel.from_pretrained(fresh_base_model, "out/adapter")

Conveniences with one-line errors (`AdapterError`): `attach` (get_peft_model, refuses a second
adapter or targets that match nothing), `save_adapter`/`load_adapter` (strict: method, config,
tensor names and shapes), `merge` (lora, dora, pera; refused for cera and parallel), `method_of`.
Analysis reads any layer through `branch_output` and `delta_weight` (see `cera.adapters.api`).
"""

from cera.adapters.api import (
    adapter_config,
    adapter_state_dict,
    attach,
    branch_output,
    delta_weight,
    has_adapter,
    iter_adapter_layers,
    merge,
    method_of,
    trainable_parameters,
)
from cera.adapters.cera import CeraConfig, CeraLayer, CeraModel
from cera.adapters.checkpoint import load_adapter, read_adapter_config, save_adapter
from cera.adapters.errors import AdapterError
from cera.adapters.parallel import ParallelConfig, ParallelLayer, ParallelModel
from cera.adapters.pera import PeraConfig, PeraLayer, PeraModel
from cera.adapters.tuner import BASE, register

for _config, _model in ((CeraConfig, CeraModel), (PeraConfig, PeraModel), (ParallelConfig, ParallelModel)):
    register(_config, _model)

__all__ = [
    "BASE",
    "AdapterError",
    "CeraConfig",
    "CeraLayer",
    "ParallelConfig",
    "ParallelLayer",
    "PeraConfig",
    "PeraLayer",
    "adapter_config",
    "adapter_state_dict",
    "attach",
    "branch_output",
    "delta_weight",
    "has_adapter",
    "iter_adapter_layers",
    "load_adapter",
    "merge",
    "method_of",
    "read_adapter_config",
    "save_adapter",
    "trainable_parameters",
]
