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


def test_keys_that_cannot_change_a_result_are_pinned():
    """Adding a key here must be a deliberate decision: it merges runs that differ only in it."""
    from cera.runs.naming import NON_RESULT_KEYS

    assert NON_RESULT_KEYS == ("train.progress_bar", "train.num_workers", "train.save_every",
                               "train.keep_checkpoints", "train.report_to", "train.log_every",
                               "model.downstream_target_modules")


def test_non_result_keys_keep_the_run_identity(compose):
    """The bug behind issue 10's double-counted seed: progress_bar entered the hash."""
    base = run_id(compose())
    for override in ["train.progress_bar=true", "train.save_every=7", "train.keep_checkpoints=3",
                     "train.num_workers=2", "train.log_every=5"]:
        assert run_id(compose(override)) == base, override
    assert run_id(compose("train.eval_every=7")) != base  # Fig 2's curve points, and the RNG stream (naming.py)


def test_log_every_cannot_change_a_result(compose, tmp_path):
    """Why log_every is a non-result key: two runs that differ only in it (CeRA, dropout 0.1, 6 steps)
    end with bit-identical adapters and the same test PPL."""
    import json

    import torch
    from safetensors.torch import load_file

    from cera.runs.execute import execute
    from cera.runs.naming import run_dir_for

    ends = []
    for every in (1, 3):
        cfg = compose("method=cera", "rank=4", "dropout=0.1", "train.max_steps=6", "train.eval_every=6",
                      f"train.log_every={every}", f"paths.output_dir={tmp_path / f'log{every}'}")
        execute(cfg)
        run = run_dir_for(cfg)
        ends.append((load_file(run / "adapter" / "adapter_model.safetensors"),
                     json.loads((run / "results.json").read_text())["test_ppl"]))
    (a, ppl_a), (b, ppl_b) = ends
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert ppl_a == ppl_b


def test_paper_rank_and_budget_factor_resolve_into_the_identity(compose):
    from cera.config import resolve_rank

    absolute, scaled = compose("rank=16", tiny=False), compose("paper_rank=512", tiny=False)
    resolve_rank(absolute, rank_given=True)
    resolve_rank(scaled)
    assert run_id(absolute) == run_id(scaled)  # the same training reached two ways is one run
    doubled, explicit = compose("budget_factor=2"), compose("train.max_steps=4")
    resolve_rank(doubled)
    assert run_id(doubled) == run_id(explicit)


def test_cell_id_groups_seeds_and_budgets_only(compose):
    from cera.runs.naming import cell_id

    base = cell_id(compose())
    assert cell_id(compose("seed=3")) == base
    assert cell_id(compose("train.max_steps=9")) == base
    for override in ["rank=32", "lr=1e-3", "dropout=0", "method=lora", "train.batch_size=2"]:
        assert cell_id(compose(override)) != base, override


def test_a_generator_change_renames_synthetic_runs_only(compose, monkeypatch):
    """Same config, other data: a relaunch must not find the old run "done" (naming.training_identity)."""
    from cera.data.synthetic import complex as complex_problems
    from cera.data.synthetic.fingerprint import generator_fingerprint
    from cera.runs.naming import training_identity

    synthetic = compose("data=synthetic_math")
    real = compose("model=smollm2_135m", "data=gsm8k", tiny=False)
    assert "generators" in training_identity(synthetic) and "generators" not in training_identity(real)
    before = {"fingerprint": generator_fingerprint(), "synthetic": config_hash(synthetic), "real": config_hash(real),
              "tiny_instruct": config_hash(compose())}  # fmt: skip
    monkeypatch.setattr(complex_problems, "COUNTDOWN", ", {} to go")  # a one-word template change
    generator_fingerprint.cache_clear()
    try:
        assert generator_fingerprint() != before["fingerprint"]
        assert config_hash(synthetic) != before["synthetic"]
        assert config_hash(compose()) != before["tiny_instruct"]  # instruction data, but the embedded backbone
        assert config_hash(real) == before["real"]  # a hub or GGUF model on real data does not depend on them
    finally:
        monkeypatch.undo()
        generator_fingerprint.cache_clear()
    assert generator_fingerprint() == before["fingerprint"]
