"""train.sampling=sorted_within_step: same steps, same gradient, less padding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cera.adapters.api import adapter_state_dict
from cera.config import ConfigError, check_train
from cera.runs.execute import _prepare
from cera.train import fit
from cera.train.sampling import sorted_within_step


def test_steps_hold_a_permutation_sorted_by_length():
    lengths = [5, 1, 4, 2, 3, 9, 7]
    order = sorted_within_step(lengths, step_size=3, n_rows=12, seed=0)
    assert len(order) == 12
    steps = [order[i:i + 3] for i in range(0, 12, 3)]
    for step in steps:
        assert [lengths[i] for i in step] == sorted(lengths[i] for i in step)
    # the step sets are those of the seeded stream (one permutation per epoch, end to end): sorting never
    # moves a row between steps
    rng = np.random.default_rng(0)
    stream = rng.permutation(7).tolist() + rng.permutation(7).tolist()
    assert [sorted(s) for s in steps] == [sorted(stream[i:i + 3]) for i in range(0, 12, 3)]
    assert sorted(stream[:7]) == list(range(7))


def test_same_seed_same_order_other_seed_other_order():
    lengths = list(range(50))
    assert sorted_within_step(lengths, 8, 100, 3) == sorted_within_step(lengths, 8, 100, 3)
    assert sorted_within_step(lengths, 8, 100, 3) != sorted_within_step(lengths, 8, 100, 4)


def test_bad_arguments_fail_in_one_line():
    with pytest.raises(ValueError, match="step_size >= 1"):
        sorted_within_step([1, 2], 0, 4, 0)


def test_bad_sampling_value_is_a_config_error(compose):
    train = dict(compose().train)
    train["sampling"] = "shuffled"
    with pytest.raises(ConfigError, match="train.sampling='shuffled' is invalid: choose from random, sorted_within_step"):
        check_train(train)


def _fit(cfg, run_dir):
    model, _, data, collator = _prepare(cfg)
    stats = fit(model, data["train"][0], data["val"][0], collator, cfg.train, cfg.lr, cfg.seed, run_dir)
    return model, stats


def test_micro_batches_give_the_gradient_of_the_whole_step(compose, tmp_path):
    """Known answer: 2 steps of one 8-row batch vs 4 micro-batches of 2 rows of the same rows (no dropout):
    the Trainer's token normalisation across micro-batches makes them the same update."""
    common = ("method=cera", "dropout=0", "train.sampling=sorted_within_step")
    whole, _ = _fit(compose(*common, "train.batch_size=8", "train.grad_accum=1"), tmp_path / "whole")
    split, stats = _fit(compose(*common, "train.batch_size=2", "train.grad_accum=4"), tmp_path / "split")
    assert stats["steps"] == 2
    a, b = adapter_state_dict(whole), adapter_state_dict(split)
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-4, atol=1e-6)
    base, _ = _prepare(compose(*common))[:2]
    moved = any(not torch.equal(a[n], adapter_state_dict(base)[n]) for n in a)
    assert moved  # the adapter trained: the equality above is not of two untouched inits


def test_sampling_enters_the_run_identity_only_when_not_random(compose):
    from cera.runs.naming import config_hash

    base = config_hash(compose())
    assert config_hash(compose("train.sampling=random")) == base  # runs from before the knob keep their directory
    assert config_hash(compose("train.sampling=sorted_within_step")) != base
