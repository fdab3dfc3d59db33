"""The remaining tracebacks of the bad-input battery, now one line each before any work, nothing written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cera.runs.execute import UsageError, execute
from tests.conftest import REPO, TINY


def _refused(cfg, fragment: str) -> str:
    with pytest.raises(UsageError) as err:
        execute(cfg)
    msg = str(err.value)
    assert fragment in msg and "\n" not in msg, msg
    runs = Path(cfg.paths.runs_dir)
    assert not runs.exists() or not any(runs.iterdir())  # nothing written
    return msg


def test_rank_that_cannot_fit_memory(compose):
    msg = _refused(compose("rank=1000000000"), "rank=1000000000 cannot fit: the adapter alone (")
    assert "GiB" in msg and "lower rank" in msg


def test_pera_rank_grows_quadratically_and_is_refused(compose):
    _refused(compose("method=pera", "rank=4000"), "rank=4000 cannot fit")


def test_seed_outside_rng_range(compose):
    _refused(compose(f"seed={2**32}"), "seed=4294967296 is invalid: must be an integer in [0, 2**32 - 1]")


def test_max_seq_len_that_drops_every_example(compose):
    _refused(compose("train.max_seq_len=4"), "train.max_seq_len=4 drops all 24 train examples")


def test_negative_lora_alpha(compose):
    _refused(compose("method=lora", "method.lora_alpha=-8"), "method.lora_alpha=-8 is invalid: must be a finite number > 0")


@pytest.mark.parametrize("where", ["/proc/cera-nope/runs", "FILE/runs"])
def test_unwritable_or_impossible_runs_dir(compose, tmp_path, where):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    target = where.replace("FILE", str(blocker))
    cfg = compose(f"paths.runs_dir={target}")
    with pytest.raises(UsageError) as err:
        execute(cfg)
    assert f"paths.runs_dir='{target}'" in str(err.value)
    assert ("is a file, not a directory" if "FILE" in where else "is not writable") in str(err.value)


def test_empty_data_file(compose, tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text("")
    _refused(compose("data=mathinstruct", f"data.source={path}"), f"no rows in {path}")


def test_invalid_json_lines_name_the_line(compose, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"instruction": "a", "output": "b"}\n{"instruction": "c", "output": \n')
    _refused(compose("data=mathinstruct", f"data.source={path}"), f"invalid JSON in {path} at line 2")


def test_invalid_json_array_names_the_line(compose, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('[{"instruction": "a", "output": "b"},\n {"instruction": "c" "output": "d"}]\n')
    _refused(compose("data=mathinstruct", f"data.source={path}"), f"invalid JSON in {path} at line 2")


@pytest.mark.slow
def test_impossible_output_dir_on_the_command_line(cli_env, tmp_path):
    """Hydra creates its job folder under paths.output_dir before any job runs: checked before Hydra."""
    out = subprocess.run([sys.executable, "-m", "cera.run", *TINY, "paths.output_dir=/proc/cera-nope"], cwd=REPO,
                         env=cli_env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 2, out.stderr[-2000:]
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "cera: error: paths.output_dir='/proc/cera-nope' is not writable: cannot create anything in /proc ("), lines
