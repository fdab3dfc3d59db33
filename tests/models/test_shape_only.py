"""Shape-only models (model.init=random) and decoder truncation (model.num_layers)."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

from cera.config import CONF_DIR, ConfigError
from cera.models import ModelError, load_model
from cera.models.shape_only import architecture, check_use, truncate

SMALL_HF = {"model_type": "llama", "hidden_size": 32, "num_hidden_layers": 3, "num_attention_heads": 4,
            "num_key_value_heads": 2, "intermediate_size": 48, "vocab_size": 300, "max_position_embeddings": 64,
            "tie_word_embeddings": False}


def _model_cfg(name: str, **overrides) -> dict:
    cfg = OmegaConf.to_container(OmegaConf.load(CONF_DIR / "model" / f"{name}.yaml"))
    return {**cfg, **overrides}


def _hub(**overrides) -> dict:
    """A hub model whose weights exist nowhere: only its architecture (hf_config) is known."""
    return _model_cfg("llama3_8b", **{"init": "random", "hf_config": SMALL_HF, "dtype": "float32", **overrides})


def _state(model) -> dict:
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_random_init_is_seeded_and_touches_no_file_or_network(tmp_path):
    cache = tmp_path / "cache"  # HF_HUB_OFFLINE=1 (conftest): a Hub access would raise
    a, tok = load_model(_hub(), cache)
    b, _ = load_model(_hub(), cache)
    c, _ = load_model(_hub(init_seed=1), cache)
    sa, sb, sc = _state(a), _state(b), _state(c)
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not torch.equal(sa["model.layers.0.self_attn.q_proj.weight"], sc["model.layers.0.self_attn.q_proj.weight"])
    assert not cache.exists()  # nothing built, nothing cached
    assert len(tok) <= a.config.vocab_size and a.config.num_hidden_layers == 3


def test_random_init_of_the_embedded_architecture_builds_no_backbone(tmp_path):
    cfg = _model_cfg("tiny", init="random", architecture={"hidden_size": 32, "num_layers": 2, "num_heads": 2,
                                                          "num_kv_heads": 1, "intermediate_size": 64})
    model, tok = load_model(cfg, tmp_path / "cache")
    assert not (tmp_path / "cache").exists()
    assert model.config.hidden_size == 32 and model.config.vocab_size == len(tok) == 259
    assert model(torch.tensor([[1, 2, 3]])).logits.shape == (1, 3, 259)


def test_random_init_reads_only_config_json(tmp_path):
    from transformers import AutoConfig

    AutoConfig.for_model(**SMALL_HF).save_pretrained(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"not a weights file")
    cfg = _model_cfg("llama3_8b", path=str(tmp_path), hf_config=None, dtype="float32")
    model, _ = load_model({**cfg, "init": "random"}, tmp_path / "cache")
    assert model.config.hidden_size == 32
    with pytest.raises(Exception):  # the pretrained path does read the (corrupt) weights
        load_model(cfg, tmp_path / "cache")


def test_truncation_keeps_the_architecture_otherwise_identical():
    cfg = _model_cfg("llama3_8b")
    full, cut = architecture(cfg).to_dict(), truncate(architecture(cfg), 2).to_dict()
    assert full["num_hidden_layers"] == 32 and cut["num_hidden_layers"] == 2
    assert {k: v for k, v in full.items() if k != "num_hidden_layers"} == \
           {k: v for k, v in cut.items() if k != "num_hidden_layers"}
    assert (cut["hidden_size"], cut["num_key_value_heads"], cut["intermediate_size"], cut["vocab_size"]) == \
           (4096, 8, 14336, 128256)
    assert cut["rope_parameters"]["rope_theta"] == 500000.0 and cut["tie_word_embeddings"] is False
    model, _ = load_model(_hub(num_layers=2), "unused")
    reference, _ = load_model(_hub(), "unused")
    assert len(model.model.layers) == 2
    assert [n for n, _ in model.named_parameters() if ".layers.2." not in n] == \
           [n for n, _ in reference.named_parameters() if ".layers.2." not in n]


def test_truncating_a_pretrained_model_keeps_its_first_layers(compose):
    cfg = OmegaConf.to_container(compose().model, resolve=True)
    cache = compose().paths.cache_dir
    full, _ = load_model(cfg, cache)
    cut, _ = load_model({**cfg, "num_layers": 1}, cache)
    assert len(cut.model.layers) == 1 and cut.config.num_hidden_layers == 1
    sf = full.state_dict()
    assert all(torch.equal(v, sf[k]) for k, v in cut.state_dict().items())


@pytest.mark.parametrize("rank,total", [(64, 27.3e6), (128, 54.5e6), (512, 218.1e6)])
def test_llama3_8b_shape_gives_the_papers_adapter_parameter_counts(rank, total):
    import peft

    from cera.adapters import CeraConfig, attach, trainable_parameters

    cfg = _model_cfg("llama3_8b", init="random", dtype="float32")
    per_layer = (4096 * rank + rank * 4096) + (4096 * rank + rank * 1024)  # q_proj + v_proj
    for make in (lambda: CeraConfig(r=rank, alpha=2 * rank),
                 lambda: peft.LoraConfig(r=rank, lora_alpha=2 * rank, target_modules=["q_proj", "v_proj"])):
        model, _ = load_model({**cfg, "num_layers": 1}, "unused", device="meta")  # shapes only, no memory
        assert trainable_parameters(attach(model, make())) == per_layer
    assert round(32 * per_layer / 1e5) / 10 == pytest.approx(total / 1e6)


@pytest.mark.parametrize("overrides,fragment", [
    ({"init": "zeros"}, "model.init='zeros' is invalid: choose from pretrained, random"),
    ({"num_layers": 0}, "model.num_layers=0 is invalid"),
    ({"init_seed": -1}, "model.init_seed=-1 is invalid"),
    ({"allow_random": "yes"}, "model.allow_random='yes' is invalid"),
    ({"init": "random", "hf_config": None}, "model.init=random needs the architecture"),
    ({"init": "random", "num_layers": 4}, "model.num_layers=4 exceeds the model's 3 layers"),
])
def test_bad_options_are_one_line_errors(overrides, fragment):
    cfg = _hub(**overrides) if "hf_config" not in overrides else _model_cfg("llama3_8b", **overrides)
    with pytest.raises(ModelError) as err:
        load_model(cfg, "unused")
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_training_random_weights_is_refused_unless_allowed(compose):
    from cera.config import validate

    with pytest.raises(ConfigError) as err:
        validate(compose("model.init=random"))
    assert "model.init=random has untrained weights" in str(err.value) and "\n" not in str(err.value)
    assert validate(compose("model.init=random", "model.allow_random=true")) is not None
    check_use({"init": "pretrained"})  # pretrained weights are never refused
    with pytest.raises(ModelError, match="evaluating it gives meaningless numbers"):
        check_use({"init": "random"}, "evaluating")


@pytest.mark.slow
def test_random_weights_train_when_allowed(compose):
    from cera.runs.execute import execute

    cfg = compose("method=cera", "rank=4", "model.init=random", "model.allow_random=true", "model.num_layers=1")
    assert execute(cfg)["state"] == "done"
