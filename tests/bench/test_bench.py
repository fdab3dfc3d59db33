"""Smoke test of the §4.5 benchmark at toy sizes: output schema and finite, positive ratios.

Not a timed test: on toy shapes the ratios are noise; what is checked is that every variant is
measured, every ratio exists where it should and is a finite positive number, and the JSON and
Markdown agree.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
import torch

from cera.config import ConfigError
from tests.bench.conftest import METHODS, SMALL
from tests.conftest import REPO

def _spreads_ok(s: dict) -> bool:
    keys = ("median", "q1", "q3", "min", "max")
    return all(math.isfinite(s[k]) and s[k] > 0 for k in keys) and s["min"] <= s["median"] <= s["max"]


def test_schema_and_ratios(compose_bench, tmp_path):
    from cera.bench import benchmark

    result = benchmark(compose_bench())
    json_path, md_path = map(lambda p: tmp_path / "outputs" / "bench" / p, ("tiny-cpu.json", "tiny-cpu.md"))
    record = json.loads(json_path.read_text())
    assert md_path.read_text() == result["markdown"]
    assert record["schema_version"] == 1
    assert {"versions", "git", "hardware"} <= set(record["provenance"])
    assert record["settings"]["device"] == "cpu" and record["settings"]["reference"] == "lora"
    for group in (2, 4):
        rows = {r["variant"]: r for r in record["rows"] if r["group"] == group}
        methods = METHODS if group == 2 else METHODS[:-1]  # max_rank.pera=2 skips pera at r=4
        merged = {f"{m}-r{group}-merged" for m in methods if m != "cera"}
        assert set(rows) == {f"{m}-r{group}" for m in methods} | merged | {"base"}
        for name, row in rows.items():
            trains = name != "base" and name not in merged
            assert (row["train_step_s"] is not None) == trains and (row["train_peak_bytes"] is not None) == trains
            assert row["prefill_s"]["n"] == 2 and _spreads_ok(row["decode_tokens_per_s"])
            for key in ("train_step", "prefill", "decode"):
                ratio = row["ratios"][key]
                assert ratio is None if key == "train_step" and not trains else _spreads_ok(ratio), (name, key)
            memory = row["ratios"]["train_peak_memory"]
            assert (memory is None) != trains and (memory is None or math.isfinite(memory) and memory > 0)
            assert all(_spreads_ok(row["ratios_vs_base"][k]) for k in ("prefill", "decode"))
        assert rows[f"lora-r{group}"]["ratios"]["train_step"]["median"] == 1.0
        assert f"### r = {group}" in result["markdown"]
    assert record["targets"] and all(math.isfinite(t["measured"]) and t["measured"] > 0 for t in record["targets"])
    assert result["markdown"].count("| base (no adapter) |") == 2
    mixed = record["mixed"]
    assert [(r["adapters"], r["method"], r["reference"]) for r in mixed] == [(1, "cera", "lora"), (3, "cera", "lora")]
    assert all(_spreads_ok(r["ratios"][w]) and r["prefill_s"]["n"] == 2 for r in mixed for w in ("prefill", "decode"))
    assert "### N adapters in one batch" in result["markdown"]


SHAPE_ONLY = ["model=llama3_8b", "model.init=random", "model.num_layers=1", "model.dtype=float32",
              "model.hf_config.hidden_size=64", "model.hf_config.intermediate_size=96",
              "model.hf_config.num_attention_heads=4", "model.hf_config.num_key_value_heads=2",
              "model.hf_config.vocab_size=512", "model.hf_config.max_position_embeddings=64"]


def test_shape_only_truncated_model_names_its_layers_and_shapes(paths, tmp_path):
    from hydra import compose, initialize_config_dir

    from cera.bench import benchmark
    from cera.config import CONF_DIR

    small = [a for a in SMALL if not a.startswith("model.")]
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("bench", overrides=[*small, *paths, *SHAPE_ONLY, "methods=[lora,cera]", "ranks=[2]"])
    result = benchmark(cfg)
    path = tmp_path / "outputs" / "bench" / "llama3_8b-L1-cpu.json"
    assert result["files"][0] == str(path)
    shapes = json.loads(path.read_text())["shapes"]
    assert shapes | {"text": None} == {
        "model": "llama3_8b", "init": "random", "hidden_size": 64, "layers": 1, "layers_truncated": True,
        "intermediate_size": 96, "vocab_size": 512, "weights_dtype": "float32", "autocast": None,
        "batch": 2, "seq_len": 8, "decode_tokens": 2, "text": None}
    assert shapes["text"] in result["markdown"] and "1 layer kept, d=64" in shapes["text"]


@pytest.mark.parametrize("override,fragment", [
    ("methods=[lora,foo]", "foo is not a known method"),
    ("reference=parallel", "reference=parallel is not in methods"),
    ("ranks=[4,0]", "rank=0 is invalid"),
    ("shapes.batch=0", "shapes.batch=0 is invalid"),
    ("device=tpu", "device='tpu' is invalid"),
    ("max_rank.lora=2", "max_rank.lora=2 drops the reference"),
    ("inner=0", "inner=0 is invalid"),
    ("mixed.batch=2", "mixed.batch=2 is smaller than the largest mixed.adapters=3"),
    ("mixed.methods=[dora]", "dora cannot serve mixed-adapter batches"),
])
def test_bad_config_fails_before_loading(compose_bench, override, fragment):
    from cera.bench.settings import check_bench

    with pytest.raises(ConfigError, match=fragment.replace("[", r"\[")):
        check_bench(compose_bench(override))


@pytest.mark.slow
def test_cli_prints_table(cli_env, tmp_path):
    out = subprocess.run([sys.executable, "-m", "cera.bench", *SMALL, "ranks=[2]", "methods=[lora,cera]"],
                         cwd=REPO, env=cli_env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "| cera |" in out.stdout and (tmp_path / "outputs" / "bench" / "tiny-cpu.json").is_file()
    bad = subprocess.run([sys.executable, "-m", "cera.bench", "methods=[nope]"], cwd=REPO, env=cli_env,
                         capture_output=True, text=True, timeout=600)
    assert bad.returncode == 2 and bad.stderr.strip().splitlines()[-1].startswith("cera: error: methods: nope")


def test_latent_ab_pairs_optimised_plain_and_lora():
    from cera.bench.latent_ab import run

    out = run(tokens=2, rank=2, repeats=1, amp=torch.bfloat16, dtype=torch.bfloat16)
    assert set(out) == {"train", "prefill", "decode"}
    for workload in out.values():
        assert set(workload["ms"]) == {"cera optimised", "cera plain", "lora"}
        assert all(_spreads_ok(workload[k]) for k in ("optimised/plain", "optimised/lora", "plain/lora"))


def test_unknown_bench_keys_are_one_line_errors():
    from cera.config import check_unknown_keys

    with pytest.raises(ConfigError, match=r"unknown key shapes.bach \(did you mean shapes.batch\?\)"):
        check_unknown_keys(["shapes.bach=4"], "bench")
    with pytest.raises(ConfigError, match="unknown key foo"):
        check_unknown_keys(["+foo=1", "model=tiny"], "bench")
    check_unknown_keys(["mixed.adapters=[1]", "model.init=random", "ranks=[2]"], "bench")
