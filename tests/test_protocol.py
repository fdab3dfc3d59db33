"""conf/protocol/: protocol=paper keeps today's runs; protocol=authors_code sets every verified difference,
each through a key of its own; both compose for every experiment and name different runs."""

from __future__ import annotations

import pytest

from cera.config import ConfigError, check_argv, resolve_rank, validate
from cera.eval.config import EvalError, check_eval_config
from cera.runs.naming import OMITTED_AT_DEFAULT, config_hash, run_id, training_identity
from tests.experiments.test_experiments import EXPERIMENTS, job_configs

PROTOCOLS = ("paper", "authors_code")


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_experiment_composes_under_both_protocols(experiment):
    ids = {}
    for protocol in PROTOCOLS:
        configs = job_configs(experiment, "seeds=1", f"protocol={protocol}")
        for cfg in configs:
            validate(cfg)
            check_eval_config(cfg.eval)
        ids[protocol] = {run_id(cfg) for cfg in configs}
        assert len(ids[protocol]) == len(configs)
    assert not ids["paper"] & ids["authors_code"]  # run names differ between protocols
    assert all("-authors_code-" in i for i in ids["authors_code"])


def test_paper_protocol_is_the_default_and_adds_nothing_to_the_identity(compose):
    cfg = compose()
    assert cfg.protocol.name == "paper" and run_id(cfg) == run_id(compose("protocol=paper"))
    for method in ("cera", "lora", "dora", "parallel"):
        identity = training_identity(compose(f"method={method}"))
        assert not {k.split(".")[1] for k in OMITTED_AT_DEFAULT} & set(identity["method"]), method
    base = config_hash(compose())
    for knob in ("method.scale_mode=none", "method.init=kaiming_normal_relu", "method.dropout_at=input"):
        assert config_hash(compose(knob)) != base, knob  # each knob, set alone, is another run


def _cfg(compose, *overrides, tiny=True):
    cfg = compose(*overrides, tiny=tiny)
    resolve_rank(cfg)
    return cfg


@pytest.mark.parametrize("method,paper_rank,paper_lr,authors_lr", [
    ("cera", 64, 3e-4, 3e-4), ("cera", 128, 3e-4, 1e-3), ("cera", 512, 3e-4, 3e-4), ("cera", 16, 3e-4, 3e-4),
    ("parallel", 128, 3e-4, 1e-3), ("lora", 128, 3e-4, 3e-4), ("lora", 512, 3e-4, 3e-4),
    ("dora", 64, 1e-4, 3e-4), ("dora", 128, 1e-4, 3e-4), ("pera", 16, 3e-4, 3e-4),
])  # fmt: skip
def test_learning_rate_by_method_and_paper_rank(compose, method, paper_rank, paper_lr, authors_lr):
    for protocol, lr in (("paper", paper_lr), ("authors_code", authors_lr)):
        cfg = _cfg(compose, f"method={method}", f"paper_rank={paper_rank}", f"protocol={protocol}")
        assert cfg.method.lr == lr and cfg.lr == pytest.approx(lr * cfg.model.lr_scale), protocol  # paper units


def test_absolute_rank_reads_the_table_through_rank_scale(compose):
    """rank=128 on Llama-3-8B (rank_scale 1) is paper rank 128; lr=<x> still wins over the table."""
    assert _cfg(compose, "method=cera", "model=llama3_8b", "rank=128", "protocol=authors_code", tiny=False).lr == 1e-3
    assert _cfg(compose, "method=cera", "paper_rank=128", "protocol=authors_code", "lr=5e-4").lr == 5e-4


def test_authors_code_sets_every_verified_difference(compose):
    cera = validate(_cfg(compose, "method=cera", "paper_rank=128", "protocol=authors_code"))
    assert (cera.scale, cera.init, cera.dropout_at, cera.dropout) == (1.0, "kaiming_normal_relu", "latent", 0.1)
    lora_cfg = _cfg(compose, "method=lora", "paper_rank=128", "protocol=authors_code")
    lora = validate(lora_cfg)
    assert (lora.lora_alpha, lora.lora_dropout, lora_cfg.method.init) == (32 * lora_cfg.model.rank_scale, 0.0, "normal_0.01")
    assert lora.lora_alpha / lora.r == pytest.approx(32 / 128, rel=0.05)  # the authors' s = 32 / r at paper rank 128
    big = validate(_cfg(compose, "method=lora", "model=llama3_8b", "rank=64", "protocol=authors_code", tiny=False))
    assert (big.lora_alpha, big.r) == (32, 64)
    dora_cfg = _cfg(compose, "method=dora", "paper_rank=64", "protocol=authors_code")
    assert (dora_cfg.method.dora_norm, dora_cfg.dropout) == ("attached", 0.0)
    assert validate(dora_cfg)._custom_modules  # PEFT's custom-layer hook carries the two knobs
    assert (lora_cfg.train.scheduler, lora_cfg.train.warmup_ratio) == ("constant", 0.0)
    ev = check_eval_config(compose("data=synthetic_math", "protocol=authors_code").eval)
    assert (ev["top_p"], ev["math_prompt"], ev["num_fewshot"]) == (0.95, "solution", 0)
    assert ev["spectra"] == {"enabled": True, "center": True, "layers": 0.15625, "mask_padding": False,
                             "aggregate": "mean_spectrum"}
    assert validate(_cfg(compose, "method=lora", "protocol=authors_code", "dropout=0.2")).lora_dropout == 0.2


def test_paper_protocol_keeps_the_papers_values(compose):
    cera = validate(_cfg(compose, "method=cera", "paper_rank=128"))
    assert (cera.scale, cera.init, cera.dropout_at) == (2.0, "kaiming_uniform", "latent")
    lora = validate(_cfg(compose, "method=lora", "paper_rank=128"))
    assert (lora.lora_alpha, lora.lora_dropout, lora._custom_modules) == (2 * lora.r, 0.1, None)  # alpha = 2r
    assert check_eval_config(compose().eval)["spectra"]["aggregate"] == "per_layer"


@pytest.mark.parametrize("argv,message", [
    (["protocol=author"], "protocol=author is not a known protocol: choose from authors_code, paper"),
    (["protocol=paper,foo"], "protocol=foo is not a known protocol"),
])  # fmt: skip
def test_bad_protocol_is_one_line(argv, message):
    with pytest.raises(ConfigError, match=f"^{message}"):
        check_argv(argv)


@pytest.mark.parametrize("override,message", [
    ("method.scale_mode=half", "method=cera: scale_mode='half' is invalid: choose from alpha_over_r, none"),
    ("method.init=xavier", "method=cera: init='xavier' is invalid: choose from kaiming_uniform, kaiming_normal_relu, "
                           "normal_0.01"),
    ("method.dropout_at=out", "method=cera: dropout_at='out' is invalid: choose from latent, input"),
])  # fmt: skip
def test_bad_knob_values_name_the_value_and_the_choices(compose, override, message):
    with pytest.raises(ConfigError) as err:
        validate(compose(override))
    assert str(err.value) == message


@pytest.mark.parametrize("spectra,fragment", [
    ({"center": "yes"}, "eval.spectra.center='yes' is invalid: must be true or false"),
    ({"mask_padding": 1}, "eval.spectra.mask_padding=1 is invalid"),
    ({"layers": 0}, "eval.spectra.layers=0 is invalid: null (every adapted layer) or the deepest fraction"),
    ({"layers": [27, 31]}, "eval.spectra.layers=[27, 31] is invalid"),
    ({"aggregate": "median"}, "eval.spectra.aggregate='median' is invalid: choose from per_layer, mean_spectrum"),
    ({"centre": True}, "eval.spectra.centre is not a spectra option"),
    (True, "eval.spectra=True is invalid: a mapping of enabled, center"),
])  # fmt: skip
def test_bad_spectra_options(spectra, fragment):
    with pytest.raises(EvalError) as err:
        check_eval_config({"spectra": spectra})
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_authors_code_dora_trains_saves_and_re_evaluates(compose):
    """The attached-norm DoRA layer and N(0, 0.01²) A train through the real job, the saved adapter loads as
    plain PEFT DoRA (same forward), and the spectra follow the authors' options."""
    import json

    from cera.evaluate import main as evaluate_main
    from cera.runs.execute import execute
    from cera.runs.naming import run_dir_for

    cfg = compose("method=dora", "rank=4", "protocol=authors_code", "eval.limit=1", "eval.n_samples=0")
    assert execute(cfg)["state"] == "done"
    run = run_dir_for(cfg)
    assert "-authors_code-" in run.name
    spectra = json.loads((run / "spectra.json").read_text())
    assert spectra["options"]["aggregate"] == "mean_spectrum" and spectra["summary"]["how"] == "mean_spectrum"
    assert all(".layers.1." in name for name in spectra["branch"])  # the deepest of the 2 test layers
    before = spectra["summary"]["effective_rank"]
    assert evaluate_main([str(run)]) == 0  # reloads the adapter (plain PEFT DoRA) and measures again
    again = json.loads((run / "spectra.json").read_text())["summary"]["effective_rank"]
    assert again == pytest.approx(before, rel=1e-6)


def test_a_run_recorded_before_spectra_options_re_evaluates_with_the_defaults():
    """Older run directories record `eval.spectra: true|false`; cera.evaluate reads it as spectra.enabled."""
    from omegaconf import OmegaConf

    from cera.evaluate import eval_config

    for old in (True, False):
        merged = check_eval_config(eval_config(OmegaConf.create({"spectra": old}), []))
        assert merged["spectra"] == {"enabled": old, "center": False, "layers": None, "mask_padding": True,
                                     "aggregate": "per_layer"}
    assert check_eval_config(eval_config(OmegaConf.create({"spectra": True}), ["eval.spectra.center=true"]))[
        "spectra"]["center"] is True


def test_a_rank_table_without_other_is_one_line(compose):
    cfg = compose("protocol.lr.cera={64:1e-3}")
    with pytest.raises(ConfigError, match=r"^protocol.lr table \{'64': 0.001\} has no 'other' entry: add other: <lr>"):
        resolve_rank(cfg)
