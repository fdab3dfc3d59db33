"""Fine-tuning an adapted model with the Hugging Face Trainer (paper appendix A defaults)."""

from cera.train.perplexity import perplexity
from cera.train.trainer import AdapterTrainer, DivergedError
from cera.train.fit import fit

__all__ = ["AdapterTrainer", "DivergedError", "fit", "perplexity"]
