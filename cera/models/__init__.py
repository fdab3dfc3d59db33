"""Backbones: the embedded tiny Llama (built and cached on first use) and hub/local causal LMs."""

from cera.models.backbone import BackboneSpec, ensure_backbone
from cera.models.load import ModelError, load_model

__all__ = ["BackboneSpec", "ensure_backbone", "load_model", "ModelError"]
