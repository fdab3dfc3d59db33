"""The job body: outputs layout, skip-if-done, force, and bad input that leaves nothing behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cera.runs.execute import UsageError, execute
from cera.runs.naming import run_dir_for


def _runs(cfg) -> list[str]:
    root = Path(cfg.paths.runs_dir)
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


def test_run_writes_every_output(compose):
    cfg = compose("arm=cera_relu", "rank=4")
    row = execute(cfg)
    run = run_dir_for(cfg)
    assert row["state"] == "done"
    for name in ["config.yaml", "status.json", "curve.jsonl", "results.json", "ppl_sequences.json",
                 "adapter/adapter_model.safetensors", "adapter/adapter_config.json"]:
        assert (run / name).is_file(), name
    status = json.loads((run / "status.json").read_text())
    assert status["state"] == "done" and status["git"].keys() >= {"commit", "dirty"}
    assert status["versions"]["torch"] and status["hardware"]["cpu_count"] >= 1
    results = json.loads((run / "results.json").read_text())
    assert results["test_ppl"] > 1 and results["trainable_params"] > 0 and results["steps"] == 2
    assert results["arm"] == status["arm"] == "cera_relu" and results["method"] == "cera"
    curve = [json.loads(line) for line in (run / "curve.jsonl").read_text().splitlines()]
    assert any("val_ppl" in r and r["step"] == 0 for r in curve)  # the base model's point
    assert any("loss" in r for r in curve)


def test_finished_run_is_skipped_unless_forced(compose):
    cfg = compose("method=lora", "rank=4")
    execute(cfg)
    run = run_dir_for(cfg)
    stamp = (run / "results.json").stat().st_mtime_ns
    assert execute(cfg)["state"] == "done"
    assert (run / "results.json").stat().st_mtime_ns == stamp  # not re-run
    execute(compose("method=lora", "rank=4", "force=true"))
    assert (run / "results.json").stat().st_mtime_ns != stamp
    replaced = list((run.parent / ".replaced").iterdir())
    assert len(replaced) == 1 and (replaced[0] / "results.json").is_file()  # nothing lost


@pytest.mark.parametrize(
    "overrides,fragment",
    [
        (["rank=0"], "rank=0 is invalid"),
        (["dropout=1"], "dropout=1 is invalid"),
        (["lr=0"], "lr=0 is invalid"),
        (["method.activation=tanh"], "activation='tanh'"),
        (["model.target_modules=[nope_proj]"], "nope_proj"),
        (["method=lora", "model.target_modules=[nope_proj]"], "nope_proj"),
        (["data=slimorca", "data.source=/nonexistent/slimorca.jsonl"], "/nonexistent/slimorca.jsonl"),
        (["eval.limit=0"], "eval.limit=0 is invalid"),
        (["eval.tasks=[mmlu]"], "unknown task 'mmlu'"),
    ],
)
def test_bad_input_leaves_no_run_directory(compose, overrides, fragment):
    cfg = compose(*overrides)
    with pytest.raises(UsageError) as err:
        execute(cfg)
    assert fragment in str(err.value) and "\n" not in str(err.value)
    assert _runs(cfg) == []


def test_malformed_data_row_leaves_no_run_directory(compose, tmp_path):
    path = tmp_path / "orca.jsonl"
    good = {"conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello"}]}
    path.write_text("\n".join(json.dumps(r) for r in [good] * 20 + [{"convos": []}] + [good] * 20) + "\n")
    cfg = compose("data=slimorca", f"data.source={path}")
    with pytest.raises(UsageError) as err:
        execute(cfg)
    assert "row 20" in str(err.value) and str(path) in str(err.value)
    assert _runs(cfg) == []


def test_non_finite_loss_is_recorded_as_diverged(compose):
    # A huge lr does not overflow this model (RMSNorm renormalises), so plant a real NaN in the
    # adapter: the forward, the loss and the Trainer all run for real and must stop at step 1.
    import torch

    from cera.adapters.api import adapter_state_dict
    from cera.runs.execute import _prepare, _train_and_record

    cfg = compose("method=cera", "rank=4", "train.max_steps=8")
    model, tokenizer, data, collator = _prepare(cfg)
    with torch.no_grad():
        next(t for name, t in adapter_state_dict(model).items() if "W_down" in name).fill_(float("nan"))
    run = run_dir_for(cfg)
    row = _train_and_record(cfg, run, model, tokenizer, data, collator)
    status = json.loads((run / "status.json").read_text())
    assert row["state"] == status["state"] == "diverged"
    assert "non-finite training loss nan at step 1" in status["error"] and status["step"] == 1
    assert not (run / "results.json").exists()
    from cera.run import exit_if_diverged

    with pytest.raises(SystemExit) as exit_:  # a single run: non-zero exit (a sweep records it and goes on)
        exit_if_diverged(row)
    assert exit_.value.code == 1
