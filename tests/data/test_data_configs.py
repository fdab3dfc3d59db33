"""Every YAML in conf/data (by glob, so a new file cannot hide) loads and is usable."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from cera.data import load_splits
from cera.data.loading import ALLOWED_KEYS
from cera.data.real import FORMATS as REAL_FORMATS
from cera.data.synthetic import FORMATS as SYNTHETIC_FORMATS

CONF = Path(__file__).resolve().parents[2] / "conf" / "data"
FILES = sorted(CONF.glob("*.yaml"))
REQUIRED = {"name", "format", "source", "n_train", "n_val", "n_test", "seed"}


def test_the_folder_is_populated():
    names = {p.stem for p in FILES}
    assert {"synthetic_instruct", "synthetic_math", "slimorca", "mathinstruct", "gsm8k", "hendrycks_math"} <= names


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_config(path):
    text = path.read_text()
    assert text.startswith("#") and "python -m cera.run" in text.split("\nname:")[0]  # header: what + command
    cfg = OmegaConf.load(path)
    assert REQUIRED <= set(cfg) <= ALLOWED_KEYS and cfg.name == path.stem
    if cfg.source == "synthetic":
        assert cfg.format in SYNTHETIC_FORMATS
        splits = load_splits(cfg)
        assert splits.sizes() == {"train": cfg.n_train, "val": cfg.n_val, "test": cfg.n_test}
    else:
        assert cfg.format in REAL_FORMATS and isinstance(cfg.source, str) and "/" in cfg.source
