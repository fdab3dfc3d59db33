"""The command line as users type it: sweeps with a summary, and one-line errors on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, TINY

pytestmark = pytest.mark.slow


def _run(args: list[str], env: dict, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cera.run", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_multirun_every_method_with_summary(cli_env, tmp_path):
    out = _run(["-m", "method=lora,dora,cera,pera,parallel", "rank=4", *TINY], cli_env)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "Sweep summary" in out.stdout and "5 runs, 5 done" in out.stdout
    runs = sorted(p.name.split("-")[0] for p in (tmp_path / "outputs" / "runs").iterdir())
    assert runs == ["cera", "dora", "lora", "parallel", "pera"]
    from cera.data.synthetic.fingerprint import generator_fingerprint

    for run in (tmp_path / "outputs" / "runs").iterdir():
        status = json.loads((run / "status.json").read_text())
        assert status["state"] == "done" and status["generators"] == generator_fingerprint()  # cera.evaluate checks it
    # a second launch of the same sweep skips every finished run
    again = _run(["-m", "method=lora,cera", "rank=4", *TINY], cli_env)
    assert again.returncode == 0 and "2 runs, 2 done" in again.stdout
    assert again.stdout.count("skip ") + again.stderr.count("skip ") >= 2


BAD = [
    (["method=foo"], "method=foo is not a known method: choose from cera, dora, lora, parallel, pera"),
    (["-m", "rank=64,0"], "rank=0 is invalid: must be a positive integer"),
    (["dropout=1.5"], "dropout=1.5 is invalid"),
    (["lr=0"], "lr=0 is invalid"),
    (["method.activation=tanh"], "activation='tanh'"),
    (["model.target_modules=[nope_proj]"], "nope_proj"),
    (["data=slimorca", "data.source=/nonexistent/orca.jsonl"], "/nonexistent/orca.jsonl"),
    (["model.init=random"], "model.init=random has untrained weights"),
    (["train.max_step=5"], "unknown key train.max_step (did you mean train.max_steps?)"),
    (["+train.max_step=5"], "unknown key train.max_step (did you mean train.max_steps?)"),
    (["+foo=1"], "unknown key foo"),
    (["-m", "methd=lora,cera"], "unknown key methd (did you mean method?)"),
]


@pytest.mark.parametrize("args,fragment", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_one_line_error_exit_2_no_run_dir(cli_env, tmp_path, args, fragment):
    out = _run([*TINY, *args], cli_env)
    assert out.returncode == 2, out.stderr[-2000:]
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("cera: error: ") and fragment in last, out.stderr[-2000:]
    assert not (tmp_path / "outputs" / "runs").exists() or not any((tmp_path / "outputs" / "runs").iterdir())


def test_malformed_row_cli(cli_env, tmp_path):
    path = Path(tmp_path) / "math.jsonl"
    rows = [{"instruction": f"{i}+1?", "output": str(i + 1)} for i in range(60)]
    rows[1] = {"instruction": 3}
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = _run([*TINY, "data=mathinstruct", f"data.source={path}"], cli_env)
    assert out.returncode == 2
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("cera: error: malformed data row 1") and str(path) in last
