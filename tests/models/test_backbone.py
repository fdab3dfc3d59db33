"""The embedded backbone: built once, content-addressed, safe under concurrent first use."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from dataclasses import replace

import pytest

from cera.models.backbone import (
    Architecture,
    BackboneSpec,
    Pretraining,
    backbone_key,
    ensure_backbone,
    warn_if_below_gate,
)
from cera.models.skills import BUILD_N, gate_failures

SPEC = BackboneSpec(Architecture(hidden_size=32, num_layers=1, num_heads=2, num_kv_heads=1, intermediate_size=48),
                    Pretraining(docs=200, steps=3, batch_size=4, seq_len=64, warmup_steps=1))


def test_build_then_reuse(tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = ensure_backbone(SPEC, tmp_path)
    stamp = (path / "build.json").stat().st_mtime_ns
    assert ensure_backbone(SPEC, tmp_path) == path
    assert (path / "build.json").stat().st_mtime_ns == stamp  # reused, not rebuilt
    model = AutoModelForCausalLM.from_pretrained(path)
    tok = AutoTokenizer.from_pretrained(path)
    assert model.config.hidden_size == 32 and model.config.vocab_size == len(tok) == 259
    assert tok.decode(tok("x_{n+1} = 3.5")["input_ids"]) == "x_{n+1} = 3.5"
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []  # no temp leftovers


def test_build_records_skills_and_loading_warns_below_the_gate(tmp_path, caplog):
    path = ensure_backbone(SPEC, tmp_path)
    skills = json.loads((path / "build.json").read_text())["skills"]
    assert skills["n"] == BUILD_N and set(skills["scores"]) == {
        "fact/basic", "fact/logistic", "fact/cubic_mod", "fact/digit_squares",
        "recall/1var", "recall/2var", "recall/3var", "copy"}
    assert skills["gate_failures"] == gate_failures(skills["scores"]) != []  # 3 pre-training steps recall nothing
    with caplog.at_level(logging.WARNING, logger="cera.models.backbone"):
        assert warn_if_below_gate(path) == skills["gate_failures"]
    assert "misses the skills gate (recall/1var " in caplog.text

    old = tmp_path / "built-before-skills"  # a cached backbone whose build.json has no skills record
    old.mkdir()
    (old / "build.json").write_text(json.dumps({"spec": {}}))
    caplog.clear()
    assert warn_if_below_gate(old) == [] and caplog.text == ""


def test_key_depends_on_spec_and_corpus():
    corpus = ["a b c", "d e"]
    key = backbone_key(SPEC, corpus)
    assert backbone_key(SPEC, list(corpus)) == key
    assert backbone_key(SPEC, corpus + ["f"]) != key
    assert backbone_key(replace(SPEC, pretrain=replace(SPEC.pretrain, steps=4)), corpus) != key
    assert backbone_key(replace(SPEC, architecture=replace(SPEC.architecture, num_layers=2)), corpus) != key


def test_unknown_spec_key_is_rejected():
    with pytest.raises(ValueError, match="unknown backbone keys"):
        BackboneSpec.from_dict({"architecture": {}, "layers": 3})


@pytest.mark.slow
def test_concurrent_first_use_builds_once(tmp_path):
    code = (
        "import logging, sys; logging.basicConfig(level=logging.INFO, stream=sys.stdout);"
        "from tests.models.test_backbone import SPEC; from cera.models.backbone import ensure_backbone;"
        f"print('PATH', ensure_backbone(SPEC, {str(tmp_path)!r}))"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True) for _ in range(3)]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert sum("building the embedded backbone" in o for o in outs) == 1, outs
    assert len({line for o in outs for line in o.splitlines() if line.startswith("PATH")}) == 1
