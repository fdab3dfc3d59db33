"""model=smollm2_135m fixtures: the wheel's GGUF file is dequantized once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cera.config import CONF_DIR


@pytest.fixture(scope="session")
def smollm2_cfg() -> dict:
    return yaml.safe_load((CONF_DIR / "model" / "smollm2_135m.yaml").read_text())


@pytest.fixture(scope="session")
def smollm2_dir(smollm2_cfg, tmp_path_factory) -> Path:
    """The converted model in a fresh cache (the one conversion of the session, ~25 s on 2 cores)."""
    from cera.models.gguf_backbone import ensure_gguf_backbone

    return ensure_gguf_backbone(smollm2_cfg, tmp_path_factory.mktemp("smollm2-cache"))


@pytest.fixture(scope="session")
def smollm2(smollm2_cfg, smollm2_dir):
    """(model, tokenizer) loaded through cera.models.load_model from the session's cache, eval mode."""
    from cera.models import load_model

    model, tokenizer = load_model(smollm2_cfg, smollm2_dir.parent.parent)
    return model.eval(), tokenizer
