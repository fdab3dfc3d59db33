"""cera.status reads run directories (and submitit job folders) only: known answers on hand-made
directories, in the layout a sweep writes (outputs/README.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cera.io import atomic_write_json, atomic_write_jsonl, atomic_write_text
from cera.runs.record import write_status
from cera.status import collect, main


def _run(root: Path, name: str, state: str, steps: int, curve: list[dict], results: dict | None = None) -> Path:
    run = root / "runs" / name
    atomic_write_text(run / "config.yaml", f"train:\n  max_steps: {steps}\n")
    write_status(run, "running", hardware={"slurm": {"SLURM_JOB_ID": "41"}})
    if state != "running":
        write_status(run, state, error="ValueError: boom" if state == "failed" else None)
    atomic_write_jsonl(run / "curve.jsonl", curve)
    if results:
        atomic_write_json(run / "results.json", results)
    return run


@pytest.fixture
def sweep(tmp_path):
    out = tmp_path / "outputs"
    runs = [_run(out, "cera-a", "done", 10, [{"step": 10, "loss": 1.0}], {"test_ppl": 3.21}),
            _run(out, "lora-b", "running", 10, [{"step": 0, "eval_loss": 2.0, "val_ppl": 7.389},
                                                {"step": 4, "loss": 1.5}]),
            _run(out, "pera-c", "failed", 10, [])]
    sweep = out / "sweeps" / "2026-01-01_00-00-00"
    for i, run in enumerate(runs):
        atomic_write_json(sweep / str(i) / "run.json", {"run_dir": str(run)})
    for job, files in {"7_0": ["7_0_submitted.pkl", "7_0_0_log.out"], "7_3": ["7_3_submitted.pkl"], "7": []}.items():
        (sweep / ".submitit" / job).mkdir(parents=True)
        for f in files:
            (sweep / ".submitit" / job / f).write_text("")
    return out, sweep


def test_sweep_dir_lists_runs_and_pending_jobs(sweep):
    _, sweep_dir = sweep
    rows, _ = collect(sweep_dir, active={"41"})
    got = [(r["run"], r["state"], r["progress"], r["last metric"], r["job"]) for r in rows]
    assert got == [("cera-a", "done", "10/10", "test_ppl 3.210", "41"),
                   ("lora-b", "running", "4/10", "val_ppl 7.389", "41"),
                   ("pera-c", "failed", "0/10", "ValueError: boom", "41"),
                   ("(job 7_3)", "pending", "-", "-", "7_3")]  # 7_0 started, 7 is the array's own folder


def test_outputs_dir_and_cli(sweep, capsys, monkeypatch, tmp_path):
    out, _ = sweep
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no squeue: states exactly as the files say
    assert main([str(out)]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[0] == "3 runs: 1 done, 1 running, 1 failed"
    assert "lora-b" in text and "4/10" in text


def test_bad_path_one_line_error(tmp_path, capsys):
    assert main([str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("cera: error: ") and str(tmp_path) in err and len(err.splitlines()) == 1


def test_driver_note(tmp_path):
    (tmp_path / ".driver" / "12").mkdir(parents=True)
    (tmp_path / ".driver" / "12" / "12_submitted.pkl").write_text("")
    rows, notes = collect(tmp_path)
    assert rows == [] and notes[0] == "driver job 12: pending"
    assert json.dumps(notes)  # plain strings


def test_running_run_whose_slurm_job_is_gone_is_interrupted(sweep):
    out, _ = sweep
    states = {r["run"]: r["state"] for r in collect(out, active={"99"})[0]}
    assert states == {"cera-a": "done", "lora-b": "interrupted", "pera-c": "failed"}
    assert {r["run"]: r["state"] for r in collect(out, active=None)[0]}["lora-b"] == "running"  # no SLURM here
