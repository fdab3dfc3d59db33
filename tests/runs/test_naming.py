"""Run directory names are deterministic and change exactly when training would."""

from __future__ import annotations

from cera.runs.naming import config_hash, run_id


def test_same_config_same_name(compose):
    assert run_id(compose("method=cera", "rank=64")) == run_id(compose("method=cera", "rank=64"))


def test_name_is_readable(compose):
    name = run_id(compose("method=cera", "rank=128", "dropout=0.2", "lr=5e-4", "seed=3"))
    assert name.startswith("cera-r128-do0.2-lr0.0005-s3-synthetic_instruct-tiny-")
    assert run_id(compose("method=cera", "method.activation=relu")).startswith("cera_relu-")


def test_training_keys_change_the_hash(compose):
    base = config_hash(compose())
    for override in ["rank=32", "dropout=0", "lr=1e-3", "seed=1", "method=lora", "train.max_steps=3",
                     "data.seed=7", "model.pretrain.steps=5", "method.activation=gelu"]:
        assert config_hash(compose(override)) != base, override


def test_non_training_keys_do_not(compose, tmp_path):
    base = run_id(compose())
    assert run_id(compose("force=true")) == base
    assert run_id(compose(f"paths.cache_dir={tmp_path}/other")) == base
