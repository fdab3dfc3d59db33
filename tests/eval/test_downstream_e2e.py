"""End to end on the tiny backbone: train 2 steps, evaluate, re-evaluate through the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cera.runs.execute import execute
from cera.runs.naming import run_dir_for
from tests.conftest import REPO

pytestmark = pytest.mark.slow
SMALL_EVAL = ["eval.limit=3", "eval.n_samples=2", "eval.k=[1,2]", "eval.max_new_tokens=24", "eval.batch_size=8",
              "eval.probe_size=4"]  # fmt: skip


def _rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "samples.jsonl").read_text().splitlines()]


@pytest.fixture
def trained(compose):
    cfg = compose("method=lora", "rank=4", "data=synthetic_math", *SMALL_EVAL)  # math data -> basic+complex
    assert execute(cfg)["state"] == "done"
    return run_dir_for(cfg)


def test_training_run_records_downstream_results(trained):
    results = json.loads((trained / "results.json").read_text())
    down = results["downstream"]
    assert down == json.loads((trained / "downstream.json").read_text())
    assert set(down["tasks"]) == {"basic", "complex"}
    for name, task in down["tasks"].items():
        assert task["problems"] == 3 and task["n_samples"] == 2
        for key in ("pass@1_greedy", "pass@1", "pass@2"):
            assert 0 <= task[key]["lo"] <= task[key]["value"] <= task[key]["hi"] <= 1, (name, key)
    complex_ = down["tasks"]["complex"]
    assert complex_["metric"] == "math_verify" and set(complex_["by_metric"]) == {"math_verify", "exact_match"}
    rows = _rows(trained)
    assert len(rows) == 6 and {r["task"] for r in rows} == {"basic", "complex"}
    assert all(r["n"] == 2 and len(r["generations"]) == len(r["correct"]) == 2 for r in rows)
    assert all(r["prompt"].endswith("### Response:\n") for r in rows)
    spectra = json.loads((trained / "spectra.json").read_text())
    assert spectra["method"] == "lora" and spectra["probe"]["sequences"] == 4
    layer = next(iter(spectra["branch"].values()))
    assert len(layer["singular_values"]) >= 1 and layer["effective_rank"] >= 0
    assert spectra["delta_weight"] and spectra["delta_weight_aggregate"]["layers"] == len(spectra["branch"])
    assert down["spectra"]["branch"]["effective_rank"]["mean"] == spectra["branch_aggregate"]["effective_rank"]["mean"]


def test_cli_re_evaluates_a_finished_run(trained, cli_env):
    args = [str(trained), "eval.tasks=[basic]", "eval.limit=2", "eval.n_samples=0", "eval.spectra.enabled=false",
            "eval.max_new_tokens=16"]  # fmt: skip
    out = subprocess.run([sys.executable, "-m", "cera.evaluate", *args], cwd=REPO, env=cli_env, capture_output=True,
                         text=True, timeout=600)  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    assert "basic: 2 problems, pass@1_greedy" in out.stdout
    down = json.loads((trained / "downstream.json").read_text())
    assert list(down["tasks"]) == ["basic"] and down["tasks"]["basic"]["problems"] == 2
    assert json.loads((trained / "results.json").read_text())["downstream"] == down
    assert [r["n"] for r in _rows(trained)] == [0, 0]



def test_cli_scores_a_local_math500_file(trained, cli_env, tmp_path):
    """eval.tasks=[math500] on a local file in the MATH-500 schema: both metrics reach downstream.json."""
    rows = [{"problem": f"What is {i} + {i}?", "solution": f"So $\\boxed{{{2 * i}}}$.", "answer": str(2 * i),
             "subject": "Algebra", "level": 1, "unique_id": f"test/algebra/{i}.json"} for i in range(3)]  # fmt: skip
    source = tmp_path / "math500_test.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    args = [str(trained), "eval.tasks=[math500]", f"eval.sources.math500={source}", "eval.limit=2", "eval.n_samples=0",
            "eval.spectra.enabled=false", "eval.max_new_tokens=16"]  # fmt: skip
    out = subprocess.run([sys.executable, "-m", "cera.evaluate", *args], cwd=REPO, env=cli_env, capture_output=True,
                         text=True, timeout=600)  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    task = json.loads((trained / "downstream.json").read_text())["tasks"]["math500"]
    assert task["problems"] == 2 and task["metric"] == "math_verify"
    assert set(task["by_metric"]) == {"math_verify", "exact_match"}
    assert [r["prompt"] for r in _rows(trained)] == [f"Problem: {r['problem']}\nAnswer:" for r in rows[:2]]
