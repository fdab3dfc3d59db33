"""Config validation, JSON round trip and Hydra construction for CeraConfig, PeraConfig, ParallelConfig."""

import json

import pytest
from omegaconf import OmegaConf

from cera.adapters import CeraConfig, ParallelConfig, PeraConfig

CONFIGS = (CeraConfig, PeraConfig, ParallelConfig)


@pytest.mark.parametrize("cls", CONFIGS)
@pytest.mark.parametrize(
    "fields, needle",
    [
        (dict(r=0, alpha=8), "r=0"),
        (dict(r=-3, alpha=8), "r=-3"),
        (dict(r=4.0, alpha=8), "r=4.0"),
        (dict(r=True, alpha=8), "r=True"),
        (dict(r=4, alpha=0), "alpha=0"),
        (dict(r=4, alpha=-1.5), "alpha=-1.5"),
        (dict(r=4, alpha=float("nan")), "alpha=nan"),
        (dict(r=4, alpha=8, dropout=1.0), "dropout=1.0"),
        (dict(r=4, alpha=8, dropout=-0.1), "dropout=-0.1"),
        (dict(r=4, alpha=8, target_modules="q_proj"), "target_modules='q_proj'"),
        (dict(r=4, alpha=8, target_modules=[]), "target_modules=[]"),
        (dict(r=4, alpha=8, target_modules=["q_proj", ""]), "target_modules="),
    ],
)
def test_bad_values_name_themselves(cls, fields, needle):
    with pytest.raises(ValueError, match="invalid") as info:
        cls(**fields)
    message = str(info.value)
    assert needle in message and "\n" not in message


@pytest.mark.parametrize("cls", (CeraConfig, ParallelConfig))
def test_bad_activation_lists_choices(cls):
    with pytest.raises(ValueError, match=r"activation='tanh' is invalid: choose from silu, relu, gelu, identity"):
        cls(r=4, alpha=8, activation="tanh")


def test_messages_say_what_is_allowed():
    with pytest.raises(ValueError, match=r"^rank r=0 is invalid: must be a positive integer$"):
        CeraConfig(r=0, alpha=1)
    with pytest.raises(ValueError, match=r"^dropout=1.0 is invalid: must be in \[0, 1\)$"):
        PeraConfig(r=2, alpha=1, dropout=1.0)


@pytest.mark.parametrize("cls", CONFIGS)
def test_json_round_trip_and_scale(cls):
    config = cls(r=8, alpha=16, dropout=0.1, target_modules=("q_proj", "o_proj"))
    assert config.target_modules == ["q_proj", "o_proj"]
    assert config.scale == 2.0
    rebuilt = cls(**json.loads(json.dumps(config.to_dict())))
    assert rebuilt == config
    names = {CeraConfig: "cera", PeraConfig: "pera", ParallelConfig: "parallel"}
    assert rebuilt.method == cls.method == names[cls]
    assert "method" not in config.to_dict()


def test_built_from_hydra_dict():
    node = OmegaConf.create(
        {"r": 4, "alpha": 8, "dropout": 0.1, "activation": "gelu", "target_modules": ["q_proj"]}
    )
    config = CeraConfig(**node)
    assert config.target_modules == ["q_proj"] and type(config.target_modules) is list
    assert json.loads(json.dumps(config.to_dict()))["target_modules"] == ["q_proj"]


def test_defaults_match_spec():
    assert CeraConfig(r=4, alpha=8).target_modules == ["q_proj", "v_proj"]
    assert CeraConfig(r=4, alpha=8).activation == "silu"
    assert PeraConfig(r=4, alpha=8).target_modules == ["q_proj", "v_proj"]
    assert ParallelConfig(r=4, alpha=8).target_modules == ["self_attn"]
