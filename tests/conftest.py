"""Shared fixtures: a shrunken config (tiny backbone, tiny data, 2 steps) and isolated paths."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# One OpenMP thread: the models here are tiny, and two spinning threads on a 2-core machine shared
# with other processes (or with the subprocesses of the slow tests) run ~100x slower.
os.environ.setdefault("OMP_NUM_THREADS", "1")
# Never touch the network from tests.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parent.parent

# A backbone small enough to pre-train in seconds, data and training cut to a few steps.
TINY_MODEL = [
    "model.architecture.hidden_size=32", "model.architecture.num_layers=2", "model.architecture.num_heads=2",
    "model.architecture.num_kv_heads=1", "model.architecture.intermediate_size=64",
    "model.pretrain.docs=300", "model.pretrain.steps=4", "model.pretrain.batch_size=4",
    "model.pretrain.seq_len=64", "model.pretrain.warmup_steps=1",
]
TINY_DATA = ["data.n_train=24", "data.n_val=8", "data.n_test=8"]
TINY_TRAIN = ["train.max_steps=2", "train.batch_size=4", "train.eval_batch_size=8", "train.log_every=1",
              "train.eval_every=1", "train.save_every=1", "train.max_seq_len=160", "train.progress_bar=false"]
# Evaluation cut to a couple of short generations (the eval tests cover it at full size).
TINY_EVAL = ["eval.limit=2", "eval.n_samples=2", "eval.k=[1,2]", "eval.max_new_tokens=16", "eval.probe_size=4"]
TINY = TINY_MODEL + TINY_DATA + TINY_TRAIN + TINY_EVAL


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    """One backbone cache per test session (the tiny backbone is built once, then reused)."""
    return tmp_path_factory.mktemp("cera-cache")


@pytest.fixture
def paths(tmp_path, cache_dir) -> list[str]:
    return [f"paths.output_dir={tmp_path / 'outputs'}", f"paths.cache_dir={cache_dir}"]


@pytest.fixture
def compose(paths):
    """Compose the real config from conf/ with overrides (no Hydra job is launched)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from cera.config import CONF_DIR, register_resolvers

    register_resolvers()

    def _compose(*overrides: str, tiny: bool = True):
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            return hydra_compose("config", overrides=[*(TINY if tiny else []), *paths, *overrides])

    return _compose


@pytest.fixture
def cli_env(tmp_path, cache_dir) -> dict:
    env = dict(os.environ)
    env.update(CERA_OUTPUTS=str(tmp_path / "outputs"), CERA_CACHE=str(cache_dir), PYTHONUNBUFFERED="1")
    return env


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny matmuls gain nothing from threads; on a busy 2-core box OpenMP's barrier makes each
    Linear ~100x slower with 2 threads (16 ms vs 0.1 ms). Restored after each test."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
