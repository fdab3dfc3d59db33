"""``python -m cera.evaluate``: bad input is one line and exit code 2, before any model is built."""

from __future__ import annotations

import pytest

from cera.evaluate import eval_config, main
from cera.runs.record import write_status


@pytest.mark.parametrize(
    "case,args,fragment",
    [
        ("missing", [], "does not exist"),
        ("running", [], "is not finished (state: running)"),
        ("done", ["eval.tasks=[mmlu]"], "unknown task 'mmlu'"),
        ("done", ["eval.limit=0"], "eval.limit=0 is invalid"),
        ("done", ["rank=8"], "override rank is not an eval key"),
        ("done", ["eval=nope"], "eval=nope is not a known eval config"),
        ("noadapter", [], "has no saved adapter"),
    ],
)
def test_cli_errors_are_one_line(tmp_path, capsys, case, args, fragment):
    run = tmp_path / "run"
    if case != "missing":
        run.mkdir()
        (run / "config.yaml").write_text("eval:\n  test_ppl: true\n")
        write_status(run, "running" if case == "running" else "done")
        (run / "results.json").write_text('{"test_ppl": 3.0}')  # a done run always has its results
    if case in ("running", "done"):
        (run / "adapter").mkdir()
        (run / "adapter" / "adapter_config.json").write_text("{}")
    assert main([str(run), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("cera: error: ") and fragment in err[-1], err


def test_no_run_dir_is_a_usage_error(capsys):
    assert main([]) == 2 and "no run directory given" in capsys.readouterr().err


def test_eval_config_layers():
    """default.yaml <- the run's recorded eval <- eval.* overrides."""
    from omegaconf import OmegaConf

    recorded = OmegaConf.create({"test_ppl": False, "limit": 7, "tasks": ["complex"]})
    cfg = eval_config(recorded, ["eval.tasks=[basic,gsm8k]", "eval.sources.gsm8k=/data/gsm8k", "eval.k=[1]"])
    assert cfg.tasks == ["basic", "gsm8k"] and cfg.limit == 7 and cfg.test_ppl is False
    assert cfg.sources.gsm8k == "/data/gsm8k" and cfg.sources.hendrycks_math is None and cfg.k == [1]
    assert cfg.n_samples == 10  # from default.yaml


def test_a_run_another_process_writes_is_refused_in_one_line(tmp_path, capsys):
    """cera.evaluate rewrites results.json, so it holds the run's lock (the one its job and
    cera.runs.convergence take): while someone else holds it, one line, exit 2, nothing written."""
    from cera.runs.lock import RunLock

    run = tmp_path / "runs" / "run"
    run.mkdir(parents=True)
    (run / "config.yaml").write_text("eval:\n  test_ppl: true\n")
    write_status(run, "done")
    (run / "results.json").write_text('{"test_ppl": 3.0}')
    (run / "adapter").mkdir()
    (run / "adapter" / "adapter_config.json").write_text("{}")
    with RunLock(run):
        assert main([str(run)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("cera: error: run run is being written by pid "), err
    assert (run / "results.json").read_text() == '{"test_ppl": 3.0}'
