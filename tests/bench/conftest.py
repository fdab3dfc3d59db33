"""Small bench configs shared by the bench tests."""

from __future__ import annotations

import pytest

from tests.conftest import TINY_MODEL

SMALL = [*TINY_MODEL, "ranks=[2,4]", "shapes.batch=2", "shapes.seq_len=8", "shapes.decode_tokens=2",
         "repeats=2", "inner=1", "warmup=1", "threads=1", "max_rank.pera=2", "mixed.adapters=[1,3]",
         "mixed.rank=2", "mixed.batch=4"]
METHODS = ("lora", "dora", "cera", "pera")


@pytest.fixture
def compose_bench(paths):
    from hydra import compose, initialize_config_dir

    from cera.config import CONF_DIR

    def _compose(*overrides: str):
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            return compose("bench", overrides=[*SMALL, *paths, *overrides])

    return _compose
