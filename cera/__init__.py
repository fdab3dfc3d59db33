"""cera: a reproduction harness for CeRA and the low-rank adapters it is compared with.

Library use, with any Hugging Face causal LM (CeRA, PERA and the parallel adapter are PEFT methods)::

    from peft import get_peft_model
    from cera import CeraConfig
    model = get_peft_model(model, CeraConfig(r=64, alpha=128, dropout=0.1, target_modules=["q_proj", "v_proj"]))
"""

from cera.adapters import *  # noqa: F401,F403 - CeraConfig, attach, ... (registers our methods with PEFT)

__version__ = "0.1.0"
