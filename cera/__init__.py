"""cera: a reproduction harness for CeRA and the low-rank adapters it is compared with.

Library use, with any Hugging Face causal LM::

    from cera import CeraConfig, attach, save_adapter, load_adapter
    model = attach(model, CeraConfig(r=64, alpha=128, dropout=0.1, target_modules=["q_proj", "v_proj"]))
"""

from cera.adapters import (  # noqa: F401
    AdapterError,
    CeraConfig,
    ParallelConfig,
    PeraConfig,
    attach,
    load_adapter,
    merge,
    method_of,
    save_adapter,
)

__version__ = "0.1.0"
