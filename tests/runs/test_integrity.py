"""Every corrupt-file shape through every reader: one line naming the file, never done-with-blanks,
never a crash; corrupt checkpoints fall back; a tampered adapter is refused; a re-run repairs."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pandas as pd
import pytest
import torch
from safetensors.torch import load_file, save_file

from cera.runs.execute import execute
from cera.runs.naming import run_dir_for
from tests.conftest import TINY


@pytest.fixture(scope="module")
def finished(tmp_path_factory, cache_dir) -> Path:
    """One finished tiny run (2 steps, a checkpoint after each), built once and copied per test."""
    from hydra import compose, initialize_config_dir

    from cera.config import CONF_DIR

    out = tmp_path_factory.mktemp("finished")
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=[*TINY, f"paths.output_dir={out}", f"paths.cache_dir={cache_dir}",
                                           "rank=4", "train.keep_checkpoints=2"])
    assert execute(cfg)["state"] == "done"
    return run_dir_for(cfg)


@pytest.fixture
def run(finished, tmp_path) -> Path:
    """A private copy of the finished run, under <tmp>/outputs/runs/ like a real one."""
    dest = tmp_path / "outputs" / "runs" / finished.name
    shutil.copytree(finished, dest)
    return dest


def _damage(path: Path, shape: str) -> None:
    data = path.read_bytes()
    path.write_bytes({
        "truncated": data[: len(data) // 2],
        "garbage": b"\x89\xffnot json at all\x00\x01" * 4,
        "empty": b"",
        "wrong_type": b"[1, 2, 3]\n",
    }[shape])


SHAPES = ("truncated", "garbage", "empty", "wrong_type")
FILES = ("status.json", "results.json", "curve.jsonl")


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", FILES)
def test_status_shows_corrupt_naming_the_file(run, name, shape):
    from cera.status import run_row

    if (name, shape) == ("curve.jsonl", "empty"):
        pytest.skip("an empty curve.jsonl is a valid file of no points")
    _damage(run / name, shape)
    row = run_row(run)
    assert row["state"] == "corrupt" and str(run / name) in row["last metric"], row


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", [*FILES, "ppl_sequences.json", "config.yaml"])
def test_analysis_lists_a_gap_with_the_reason(run, name, shape):
    from analysis.load import load_runs

    if (name, shape) == ("curve.jsonl", "empty"):
        pytest.skip("an empty curve.jsonl is a valid file of no points")
    if name == "config.yaml" and shape == "wrong_type":
        (run / name).write_text("- just\n- a list\n")
    else:
        _damage(run / name, shape)
    frame = load_runs(run.parent.parent)
    row = frame.iloc[0]
    assert row["state"] == "corrupt" and str(run / name) in row["error"], row.to_dict()
    assert pd.isna(row.get("test_ppl"))  # a gap, never done with blank metrics


def test_analysis_done_run_is_not_a_gap(run):
    from analysis.load import load_runs

    row = load_runs(run.parent.parent).iloc[0]
    assert row["state"] == "done" and row["test_ppl"] > 1


def test_wrong_field_type_inside_valid_json(run):
    from cera.status import run_row

    results = json.loads((run / "results.json").read_text())
    (run / "results.json").write_text(json.dumps({**results, "test_ppl": "3.2"}))
    row = run_row(run)
    assert row["state"] == "corrupt" and "test_ppl='3.2' is not a number" in row["last metric"]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", ["status.json", "results.json", "adapter/adapter_model.safetensors",
                                  "adapter/adapter_config.json"])
def test_evaluate_refuses_in_one_line(run, name, shape, capsys):
    from cera.evaluate import main

    _damage(run / name, shape)
    assert main([str(run), "eval.tasks=[basic]", "eval.limit=1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("cera: error: ") and str(run / name) in err[0], err


def _tamper(adapter: Path) -> None:
    """Change one weight, keep every name, shape and dtype: only the content hash can tell."""
    tensors = load_file(adapter / "adapter_model.safetensors")
    name = sorted(tensors)[0]
    tensors[name] = tensors[name].clone()
    tensors[name].view(-1)[0] += 1e-3
    save_file(tensors, adapter / "adapter_model.safetensors")


def test_tampered_adapter_is_refused(run):
    from cera.adapters import AdapterError
    from cera.adapters.checkpoint import read_adapter_tensors

    meta = json.loads((run / "adapter" / "adapter_config.json").read_text())
    assert meta["sha256"].startswith("sha256:")
    read_adapter_tensors(run / "adapter")  # untouched: accepted
    _tamper(run / "adapter")
    with pytest.raises(AdapterError) as err:
        read_adapter_tensors(run / "adapter")
    assert "do not match the content hash" in str(err.value) and str(run / "adapter") in str(err.value)


def test_tampered_adapter_load_is_refused_by_load_adapter(run, compose):
    from cera.adapters import AdapterError, load_adapter
    from cera.runs.execute import _prepare

    model, *_ = _prepare(compose("rank=4"))
    _tamper(run / "adapter")
    with pytest.raises(AdapterError, match="do not match the content hash"):
        load_adapter(model, run / "adapter")


# --- checkpoints: a corrupt newest one falls back to the previous one, else a fresh start ---------

CKPT_DAMAGE = [("optimizer.pt", "truncated"), ("scheduler.pt", "garbage"), ("trainer_state.json", "wrong_type"),
               ("adapter_model.safetensors", "truncated"), ("adapter_config.json", "garbage"), ("rng_state.pth", "empty")]


@pytest.mark.parametrize("name,shape", CKPT_DAMAGE, ids=[f"{n}-{s}" for n, s in CKPT_DAMAGE])
def test_corrupt_newest_checkpoint_falls_back(run, name, shape, caplog):
    from cera.train.checkpoints import last_good_checkpoint

    ckpts = run / "checkpoints"
    assert sorted(p.name for p in ckpts.glob("checkpoint-*")) == ["checkpoint-1", "checkpoint-2"]
    _damage(ckpts / "checkpoint-2" / name, shape)
    with caplog.at_level(logging.WARNING):
        assert last_good_checkpoint(ckpts) == str(ckpts / "checkpoint-1")
    assert str(ckpts / "checkpoint-2" / name) in caplog.text and "falling back to checkpoint-1" in caplog.text
    assert not (ckpts / "checkpoint-2").exists() and len(list((ckpts / ".corrupt").iterdir())) == 1  # kept aside


def test_tampered_checkpoint_adapter_falls_back(run):
    from cera.train.checkpoints import last_good_checkpoint

    _tamper(run / "checkpoints" / "checkpoint-2")
    assert last_good_checkpoint(run / "checkpoints") == str(run / "checkpoints" / "checkpoint-1")


def test_every_checkpoint_corrupt_restarts_from_scratch(run, caplog):
    from cera.train.checkpoints import last_good_checkpoint

    for ckpt in ("checkpoint-1", "checkpoint-2"):
        _damage(run / "checkpoints" / ckpt / "optimizer.pt", "truncated")
    with caplog.at_level(logging.WARNING):
        assert last_good_checkpoint(run / "checkpoints") is None
    assert "the run restarts from scratch" in caplog.text


# --- cera.run resume: a corrupt record is re-run (repaired), never skipped as done -----------------

def _relaunch(run: Path, compose, *extra):
    cfg = compose("rank=4", "train.keep_checkpoints=2", *extra)
    assert run_dir_for(cfg) == run
    return execute(cfg)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", ["status.json", "results.json"])
def test_rerun_repairs_a_corrupt_record(run, compose, name, shape, caplog):
    _damage(run / name, shape)
    with caplog.at_level(logging.WARNING):
        row = _relaunch(run, compose)
    assert row["state"] == "done" and row["test_ppl"] > 1
    assert f"{run / name} is corrupt" in caplog.text and f"running {run.name} again" in caplog.text
    assert json.loads((run / "results.json").read_text())["resumed_from"] == "checkpoint-2"


def test_rerun_resumes_from_previous_checkpoint_when_newest_is_corrupt(run, compose):
    _damage(run / "status.json", "truncated")
    _damage(run / "checkpoints" / "checkpoint-2" / "optimizer.pt", "truncated")
    assert _relaunch(run, compose)["state"] == "done"
    assert json.loads((run / "results.json").read_text())["resumed_from"] == "checkpoint-1"


def test_successful_rerun_clears_error_and_error_txt(run, compose):
    from cera.runs.record import write_status

    write_status(run, "failed", error="RuntimeError: out of memory")
    (run / "error.txt").write_text("Traceback ...\n")
    assert _relaunch(run, compose)["state"] == "done"
    status = json.loads((run / "status.json").read_text())
    assert status["state"] == "done" and "error" not in status and not (run / "error.txt").exists()
    assert {"state": "failed", "error": "RuntimeError: out of memory"}.items() <= status["history"][-3].items()
