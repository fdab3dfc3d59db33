"""One writer per run directory, with real processes: racing launches, a live holder, a SIGKILLed one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cera.runs.lock import RunBusy, RunLock, lock_path
from tests.conftest import REPO, TINY

HOLD = "import sys, time; from cera.runs.lock import RunLock; RunLock(sys.argv[1]).acquire(); print('locked', flush=True); time.sleep(600)"


def _holder(run_dir: Path) -> subprocess.Popen:
    """A separate process that takes the run directory's lock and keeps it until killed."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(run_dir)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


@pytest.fixture
def holder():
    procs = []
    yield lambda run_dir: procs.append(_holder(run_dir)) or procs[-1]
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait()


def test_live_holder_blocks_and_is_named(tmp_path, holder):
    run_dir = tmp_path / "runs" / "r1"
    proc = holder(run_dir)
    with pytest.raises(RunBusy) as err:
        RunLock(run_dir).acquire()
    msg = str(err.value)
    assert f"run r1 is being written by pid {proc.pid} on " in msg and "\n" not in msg
    assert not run_dir.exists()  # the loser touched nothing


def test_sigkilled_holder_never_blocks_a_relaunch(tmp_path, holder):
    run_dir = tmp_path / "runs" / "r1"
    proc = holder(run_dir)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert lock_path(run_dir).is_file()  # the stale file is still there, with the dead pid in it
    with RunLock(run_dir) as lock:
        assert json.loads(lock.path.read_text())["pid"] == os.getpid()
    assert not lock_path(run_dir).exists() and not (tmp_path / "runs").exists()  # clean release: nothing left


RACE = """
import os, sys, time
from cera.runs.lock import RunBusy, RunLock
print("ready", flush=True)
while not os.path.exists(sys.argv[2]):  # both processes spin until the parent says go, then grab the lock
    pass
try:
    RunLock(sys.argv[1]).acquire()
except RunBusy:
    print("busy", flush=True)
    sys.exit(0)
print("won", flush=True)
time.sleep(3)
"""


def test_racing_processes_exactly_one_wins(tmp_path):
    run_dir = tmp_path / "runs" / "r1"
    for i in range(3):
        go = tmp_path / f"go{i}"
        procs = [subprocess.Popen([sys.executable, "-c", RACE, str(run_dir), str(go)], cwd=REPO,
                                  stdout=subprocess.PIPE, text=True) for _ in range(2)]
        assert [p.stdout.readline().strip() for p in procs] == ["ready", "ready"]
        go.touch()
        outs = sorted(p.communicate(timeout=60)[0].strip() for p in procs)
        assert outs == ["busy", "won"]


# --- through the command line -------------------------------------------------------------------

def _cli(args: list[str], env: dict) -> subprocess.Popen:
    flags = [a for a in args if a.startswith("-")]  # Hydra wants -m before the overrides
    return subprocess.Popen([sys.executable, "-m", "cera.run", *flags, *TINY, *(a for a in args if a not in flags)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_two_launches_of_one_run_train_it_once(cli_env, compose):
    from cera.runs.naming import run_dir_for

    run_dir = run_dir_for(compose("rank=4"))
    procs = [_cli(["rank=4"], cli_env) for _ in range(2)]
    outs = [(p.wait(timeout=600), *p.communicate()) for p in procs]
    history = [h["state"] for h in json.loads((run_dir / "status.json").read_text())["history"]]
    assert history == ["running", "done"], history  # trained once, never written by two processes
    for rc, _, err in outs:  # the other one either saw it live (refused) or already done (skipped)
        assert rc == 0 or (rc == 2 and f"cera: error: run {run_dir.name} is being written by pid" in err), err[-2000:]


@pytest.mark.slow
def test_force_on_a_live_run_is_refused(cli_env, compose, holder):
    from cera.runs.naming import run_dir_for

    run_dir = run_dir_for(compose("rank=4"))
    proc = holder(run_dir)
    out = _cli(["rank=4", "force=true"], cli_env)
    rc, _, err = out.wait(timeout=600), *out.communicate()
    assert rc == 2 and err.strip().splitlines()[-1].startswith(f"cera: error: run {run_dir.name} is being "
                                                               f"written by pid {proc.pid}"), err[-2000:]
    assert not run_dir.exists() and not (run_dir.parent / ".replaced").exists()


@pytest.mark.slow
def test_sweep_records_a_locked_job_as_skipped_and_goes_on(cli_env, compose, holder):
    from cera.runs.naming import run_dir_for

    held, free = run_dir_for(compose("rank=4")), run_dir_for(compose("rank=8"))
    holder(held)
    out = _cli(["-m", "rank=4,8"], cli_env)
    rc, stdout, err = out.wait(timeout=600), *out.communicate()
    assert rc == 0, err[-3000:]
    assert "2 runs, 1 done, 1 skipped" in stdout or "2 runs, 1 skipped, 1 done" in stdout, stdout
    assert not held.exists()  # never touched
    assert json.loads((free / "status.json").read_text())["state"] == "done"
    from cera.status import collect

    (sweep,) = (Path(cli_env["CERA_OUTPUTS"]) / "sweeps").iterdir()
    rows, _ = collect(sweep)
    skipped = [r for r in rows if r["state"] == "skipped"]
    assert len(skipped) == 1 and skipped[0]["run"] == held.name and "is being written by pid" in skipped[0]["last metric"]
