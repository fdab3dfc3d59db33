"""The 2x-budget convergence rule (cera.runs.convergence) on hand-made run directories."""

from __future__ import annotations

import json

import pytest

from cera.runs.convergence import THRESHOLD, gain, main, refresh


def _run(runs, name, cell="c1", budget=100, seed=0, ppl=2.0):
    d = runs / name
    d.mkdir(parents=True)
    (d / "results.json").write_text(json.dumps({"cell_id": cell, "budget": budget, "seed": seed, "test_ppl": ppl}))
    return d


def _conv(d):
    return json.loads((d / "results.json").read_text())["convergence"]


def test_gain_hand_computed():
    assert gain(4.0, 3.9) == pytest.approx(0.025)
    assert gain(2.0, 2.02) == pytest.approx(-0.01)  # the longer run got worse: negative gain


def test_pass_fail_and_unchecked(tmp_path):
    passed = _run(tmp_path, "a-s0", ppl=3.00)
    _run(tmp_path, "a-2x-s0", budget=200, ppl=2.985)                  # gain 0.5%
    failed = _run(tmp_path, "b-s0", cell="c2", ppl=3.00)
    _run(tmp_path, "b-2x-s0", cell="c2", budget=200, ppl=2.94)        # gain 2%
    unchecked = _run(tmp_path, "c-s0", cell="c3")
    refresh(tmp_path)
    assert _conv(passed)["passed"] is True and _conv(passed)["gain"] == pytest.approx(0.005)
    assert _conv(failed)["passed"] is False and _conv(failed)["check_run"] == "b-2x-s0"
    assert _conv(unchecked)["passed"] is None and _conv(unchecked)["check_run"] is None
    assert THRESHOLD == 0.01


def test_the_seed_matched_check_wins_else_the_lowest_seed(tmp_path):
    s0, s1, s2 = (_run(tmp_path, f"a-s{s}", seed=s, ppl=3.0) for s in (0, 1, 2))
    _run(tmp_path, "a-2x-s0", budget=200, seed=0, ppl=2.999)
    _run(tmp_path, "a-2x-s1", budget=200, seed=1, ppl=2.5)
    refresh(tmp_path)
    assert _conv(s0)["check_run"] == "a-2x-s0" and _conv(s0)["passed"] is True
    assert _conv(s1)["check_run"] == "a-2x-s1" and _conv(s1)["passed"] is False
    assert _conv(s2)["check_run"] == "a-2x-s0"


def test_refresh_of_one_cell_leaves_others(tmp_path):
    other = _run(tmp_path, "b-s0", cell="c2")
    _run(tmp_path, "a-s0")
    refresh(tmp_path, cell="c1")
    assert "convergence" not in json.loads((other / "results.json").read_text())


def test_cli(tmp_path, capsys):
    _run(tmp_path, "a-s0", ppl=3.0)
    _run(tmp_path, "a-2x-s0", budget=200, ppl=2.0)
    assert main([str(tmp_path)]) == 0
    assert "a-s0: budget 100 steps, gain at 2x +33.33% → FAILED" in capsys.readouterr().out
    assert main([str(tmp_path / "nope")]) == 2
    assert "is not a directory of runs" in capsys.readouterr().err


def test_refresh_writes_another_run_only_under_its_lock(tmp_path):
    """A run whose lock a live process holds (a job, cera.evaluate) is left to it; the caller's own
    run (`held`) and free runs are written, and the lock files are gone afterwards."""
    from cera.runs.lock import RunLock

    budget, busy = _run(tmp_path, "a-s0", ppl=3.0), _run(tmp_path, "a-s1", seed=1, ppl=3.0)
    check = _run(tmp_path, "a-2x-s0", budget=200, ppl=2.999)
    with RunLock(check), RunLock(busy):  # `check` is the caller's own run, `busy` another live holder's
        refresh(tmp_path, cell="c1", held=check)
        assert "convergence" not in json.loads((busy / "results.json").read_text())
        assert _conv(budget)["passed"] is True and _conv(check)["passed"] is None
    refresh(tmp_path, cell="c1", held=busy)  # what the holder does after it writes
    assert _conv(busy)["check_run"] == "a-2x-s0"
    assert not (tmp_path / ".locks").exists()


def test_refresh_keeps_what_a_lock_holder_wrote_meanwhile(tmp_path):
    """A refresh waits briefly for a run's lock and merges its record into results.json as it is then,
    not into its earlier read: what the holder wrote meanwhile (here: downstream results) survives."""
    import threading

    from cera.runs.lock import RunLock

    budget = _run(tmp_path, "a-s0", ppl=3.0)
    _run(tmp_path, "a-2x-s0", budget=200, ppl=2.0)
    holder = RunLock(budget).acquire()  # e.g. cera.evaluate adding a task to the finished run
    worker = threading.Thread(target=refresh, args=(tmp_path,), kwargs={"cell": "c1"})
    worker.start()
    worker.join(0.5)  # the refresh has read every results.json and now waits for the lock
    assert worker.is_alive() and "convergence" not in json.loads((budget / "results.json").read_text())
    results = json.loads((budget / "results.json").read_text())
    (budget / "results.json").write_text(json.dumps({**results, "downstream": {"added": "meanwhile"}}))
    holder.release()
    worker.join(10)
    final = json.loads((budget / "results.json").read_text())
    assert final["downstream"] == {"added": "meanwhile"} and final["convergence"]["passed"] is False


def test_refreshes_take_turns(tmp_path):
    """A second refresh of the same runs directory waits for the first (REFRESH_LOCK)."""
    import threading

    from cera.runs.convergence import REFRESH_LOCK
    from cera.runs.lock import RunLock

    budget = _run(tmp_path, "a-s0", ppl=3.0)
    _run(tmp_path, "a-2x-s0", budget=200, ppl=2.0)
    first = RunLock(tmp_path / REFRESH_LOCK).acquire()
    worker = threading.Thread(target=refresh, args=(tmp_path,))
    worker.start()
    worker.join(0.5)
    assert worker.is_alive() and "convergence" not in json.loads((budget / "results.json").read_text())
    first.release()
    worker.join(10)
    assert not worker.is_alive() and _conv(budget)["passed"] is False
