"""Every config composes; every bad value is rejected with one line naming it."""

from __future__ import annotations

import pytest

from cera.config import CONF_DIR, ConfigError, adapter_config, check_argv, group_options, validate

GROUPS = sorted(p.name for p in CONF_DIR.iterdir() if p.is_dir() and any(p.glob("*.yaml")) and p.name != "hydra")
CHOICES = [(g, o) for g in GROUPS for o in group_options(g)]


def test_groups_are_found():
    assert {"method", "model", "data", "train", "eval"} <= set(GROUPS)
    assert set(group_options("method")) == {"lora", "dora", "cera", "pera", "parallel"}


@pytest.mark.parametrize("group,option", CHOICES, ids=[f"{g}={o}" for g, o in CHOICES])
def test_every_config_composes_and_resolves(compose, group, option):
    from omegaconf import OmegaConf

    cfg = compose(f"{group}={option}", tiny=False)  # experiment and arm: optional groups (null by default)
    OmegaConf.to_container(cfg, resolve=True)  # every interpolation resolves
    if group in ("method", "model", "train"):
        validate(cfg)


@pytest.mark.parametrize("launcher", ["local", "slurm"])
def test_launcher_configs_compose(compose, launcher):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = hydra_compose("config", overrides=[f"hydra/launcher={launcher}"], return_hydra_config=True)
    assert cfg.hydra.launcher.timeout_min > 0


def test_method_defaults_follow_the_paper(compose):
    cfg = compose("method=cera", "rank=128", tiny=False)
    a = adapter_config(dict(cfg.method))
    assert (a.r, a.alpha, a.dropout, a.activation) == (128, 256, 0.1, "silu")
    assert list(a.target_modules) == ["q_proj", "v_proj"]
    assert cfg.method.lr == 3e-4 and cfg.lr == pytest.approx(3e-4 * 4096 / 128)  # x model.lr_scale
    assert compose("method=dora", tiny=False).method.lr == 1e-4
    lora = adapter_config(dict(compose("method=lora", "rank=64", "dropout=0.2", tiny=False).method))
    assert (lora.r, lora.lora_alpha, lora.lora_dropout, lora.use_dora) == (64, 128, 0.2, False)
    assert compose("lr=5e-4", "method=dora", tiny=False).lr == 5e-4


@pytest.mark.parametrize(
    "override,fragment",
    [
        ("rank=0", "rank=0 is invalid: must be a positive integer"),
        ("rank=-3", "rank=-3 is invalid"),
        ("dropout=1.0", "dropout=1.0 is invalid: must be a number in [0, 1)"),
        ("dropout=-0.1", "dropout=-0.1 is invalid"),
        ("lr=0", "lr=0 is invalid: must be a finite number > 0"),
        ("lr=-1e-4", "lr=-0.0001 is invalid"),
        ("method.activation=tanh", "activation='tanh'"),
        ("train.max_steps=0", "train.max_steps=0 is invalid"),
        ("train.precision=fp8", "train.precision='fp8' is invalid: choose from auto, bf16, fp32"),
        ("+method.bogus=1", "method.bogus is not an option of method=cera"),
        ("+method.activaton=relu", "method.activaton is not an option of method=cera (did you mean activation?)"),
        ("model.kind=remote", "model.kind='remote' is invalid: choose from embedded, hub"),
    ],
)
def test_validate_rejects_bad_values(compose, override, fragment):
    with pytest.raises(ConfigError) as err:
        validate(compose(override))
    assert fragment in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "argv,fragment",
    [
        (["method=lora,foo"], "method=foo is not a known method: choose from cera, dora, lora, parallel, pera"),
        (["-m", "rank=64,0"], "rank=0 is invalid"),
        (["dropout=0,0.1,1.5"], "dropout=1.5 is invalid"),
        (["lr=1e-4,-5e-4"], "lr=-0.0005 is invalid"),
        (["model=gpt5"], "model=gpt5 is not a known model"),
        (["seed=-1"], "seed=-1 is invalid"),
        (["-m", "experiment=fig1_scaling_law", "seeds=0"], "seeds=0 is invalid: must be a positive integer"),
        (["-m", "experiment=fig9"], "experiment=fig9 is not a known experiment: choose from fig1_scaling_law"),
        (["-m", "arm=cera_p0.5"], "arm=cera_p0.5 is not a known arm"),
        (["-m", "+experiment=fig9"], "experiment=fig9 is not a known experiment"),
        (["train.max_step=5"], "unknown key train.max_step (did you mean train.max_steps?)"),
        (["+train.max_step=5", "method=lora"], "unknown key train.max_step (did you mean train.max_steps?)"),
        (["+foo=1"], "unknown key foo"),
        (["method=lora", "method.lora_alpa=3"], "unknown key method.lora_alpa (did you mean method.lora_alpha?)"),
    ],
)
def test_argv_checked_before_hydra(argv, fragment):
    with pytest.raises(ConfigError, match=None) as err:
        check_argv(argv)
    assert fragment in str(err.value)


@pytest.mark.parametrize("argv", [["-m", "method=lora,dora,cera", "rank=64,128,512"],
                                  ["method=cera", "dropout=0,0.1,0.2,0.3", "lr=1e-4,5e-4"],
                                  ["hydra/launcher=basic", "method.activation=relu", "--cfg", "job"],
                                  ["-m", "experiment=table3_ablation", "seeds=2", "arm=cera_relu,parallel"],
                                  ["model=llama3_8b", "model.path=/models/llama", "method=lora", "method.bias=all"]])
def test_argv_accepts_documented_commands(argv):
    check_argv(argv)


def test_old_plus_spelling_of_optional_groups_still_works(compose):
    from cera.run import normalize_argv

    argv = normalize_argv(["-m", "+experiment=table3_ablation", "+arm=cera_relu,parallel", "+train.x=1"])
    assert argv == ["-m", "experiment=table3_ablation", "arm=cera_relu,parallel", "+train.x=1"]
    assert compose("experiment=table3_ablation", "arm=cera_relu").method.activation == "relu"
