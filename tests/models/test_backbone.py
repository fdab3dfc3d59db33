"""The embedded backbone: built once, content-addressed, safe under concurrent first use."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import pytest

from cera.models.backbone import Architecture, BackboneSpec, Pretraining, backbone_key, ensure_backbone

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
