"""paper_rank / paper_lr: the paper's rank/width ratio and learning rate on any backbone, and bad inputs."""

from __future__ import annotations

import subprocess
import sys

import pytest

from cera.config import ConfigError, check_argv, rank_for, resolve_rank
from tests.conftest import REPO, TINY


@pytest.mark.parametrize("paper_rank,scale,expected", [
    (16, 128 / 4096, 1),      # 0.5 rounds half up
    (32, 128 / 4096, 1),
    (48, 128 / 4096, 2),      # 1.5 -> 2
    (64, 128 / 4096, 2),
    (512, 128 / 4096, 16),
    (16, 576 / 4096, 2),      # smollm2_135m: 2.25
    (32, 576 / 4096, 5),      # 4.5 -> 5 (half up, not banker's rounding)
    (512, 576 / 4096, 72),
    (64, 1.0, 64),            # llama3_8b: paper ranks unchanged
    (1, 1 / 4096, 1),         # never below 1
])
def test_rank_for_hand_computed(paper_rank, scale, expected):
    assert rank_for(paper_rank, scale) == expected


def test_resolve_rank_sets_rank_from_the_models_scale(compose):
    cfg = compose("paper_rank=512", tiny=False)
    assert cfg.model.rank_scale == 128 / 4096  # interpolated from the architecture's hidden size
    resolve_rank(cfg)
    assert cfg.rank == 16 and cfg.paper_rank == 512
    widened = compose("paper_rank=512", "model.architecture.hidden_size=256", tiny=False)
    resolve_rank(widened)
    assert widened.rank == 32


def test_absolute_rank_is_untouched(compose):
    cfg = compose("rank=7")
    resolve_rank(cfg, rank_given=True)
    assert cfg.rank == 7


@pytest.mark.parametrize("overrides,expected", [
    ((), 3e-4 * 32),                              # LoRA default on the 128-wide backbone: 4096/128 = 32
    (("method=dora",), 1e-4 * 32),                # DoRA's paper lr, same scale
    (("paper_lr=5e-4",), 5e-4 * 32),
    (("paper_lr=1e-4", "model.architecture.hidden_size=256"), 1e-4 * 16),
    (("model=llama3_8b", "model.init=random"), 3e-4),  # lr_scale 1: the paper's lr as is
    (("~model.lr_scale",), 3e-4),                 # a model config without lr_scale: the paper's lr
])
def test_lr_is_the_paper_lr_times_the_models_scale(compose, overrides, expected):
    cfg = compose("method=lora", *overrides, tiny=False)
    resolve_rank(cfg)
    assert cfg.lr == pytest.approx(expected, rel=1e-12)


def test_absolute_lr_is_untouched(compose):
    cfg = compose("lr=0.001", tiny=False)
    resolve_rank(cfg, lr_given=True)
    assert cfg.lr == 0.001


def test_budget_factor_multiplies_steps_once(compose):
    cfg = compose("budget_factor=2")
    resolve_rank(cfg)
    assert cfg.train.max_steps == 4 and cfg.budget_factor == 1
    resolve_rank(cfg)
    assert cfg.train.max_steps == 4


@pytest.mark.parametrize("overrides,given,fragment", [
    (["paper_rank=0"], False, "paper_rank=0 is invalid: must be a positive integer"),
    (["paper_rank=-64"], False, "paper_rank=-64 is invalid"),
    (["paper_rank=1.5"], False, "paper_rank=1.5 is invalid"),
    (["paper_rank=abc"], False, "paper_rank='abc' is invalid"),
    (["paper_rank=64", "rank=8"], True, "paper_rank=64 and rank=8 are mutually exclusive"),
    (["paper_rank=64", "~model.rank_scale"], False, "needs model.rank_scale"),
    (["budget_factor=0"], False, "budget_factor=0 is invalid"),
    (["paper_lr=0"], False, "paper_lr=0 is invalid: must be a finite number > 0"),
    (["paper_lr=abc"], False, "paper_lr='abc' is invalid"),
    (["paper_lr=1e-4", "lr=0.001"], True, "paper_lr=0.0001 and lr=0.001 are mutually exclusive"),
    (["paper_lr=1e-4", "model.lr_scale=-1"], False, "model.lr_scale=-1 is invalid"),
])
def test_resolve_rank_errors_are_one_line(compose, overrides, given, fragment):
    with pytest.raises(ConfigError) as err:
        resolve_rank(compose(*overrides), rank_given=given, lr_given=given)
    assert fragment in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("argv,fragment", [
    (["-m", "paper_rank=64,0"], "paper_rank=0 is invalid"),
    (["paper_rank=64", "rank=8"], "mutually exclusive"),
    (["-m", "paper_rank=16,64", "rank=8,16"], "mutually exclusive"),
    (["-m", "paper_lr=1e-4,0"], "paper_lr=0 is invalid"),
    (["paper_lr=1e-4", "lr=1e-3"], "paper_lr=1e-4 and lr=1e-3 are mutually exclusive"),
])
def test_argv_checks_paper_rank(argv, fragment):
    with pytest.raises(ConfigError) as err:
        check_argv(argv)
    assert fragment in str(err.value)


def test_argv_allows_null_paper_rank_with_rank():
    check_argv(["paper_rank=null", "rank=8"])


@pytest.mark.slow
@pytest.mark.parametrize("args,fragment", [
    (["paper_rank=0"], "paper_rank=0 is invalid"),
    (["paper_rank=2.5"], "paper_rank=2.5 is invalid"),
    (["paper_rank=64", "rank=8"], "mutually exclusive"),
    (["-m", "experiment=table3_ablation", "seeds=1", "rank=8"], "mutually exclusive"),
    (["paper_rank=64", "~model.rank_scale"], "needs model.rank_scale"),
])
def test_cli_rejects_bad_paper_rank_before_any_work(cli_env, tmp_path, args, fragment):
    flags, rest = [a for a in args if a == "-m"], [a for a in args if a != "-m"]
    out = subprocess.run([sys.executable, "-m", "cera.run", *flags, *TINY, *rest], cwd=REPO, env=cli_env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 2, out.stderr[-2000:]
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("cera: error: ") and fragment in last, out.stderr[-2000:]
    runs = tmp_path / "outputs" / "runs"
    assert not runs.exists() or not any(runs.iterdir())
