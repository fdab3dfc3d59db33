"""The sweep summary shows what the run directories hold, gaps included."""

from __future__ import annotations

from cera.runs.summary import format_table


def test_table_cells_equal_the_inputs_and_gaps_show():
    ci = {"value": 0.25, "lo": 0.125, "hi": 0.5}
    rows = [
        {"run": "cera-a", "state": "done", "test_ppl": 3.81234, "trainable_params": 27262976, "wall_seconds": 61.4,
         "downstream": {"tasks": {"basic": {"pass@1_greedy": ci}}}},
        {"run": "lora-b", "state": "failed"},
    ]
    lines = format_table(rows).splitlines()
    assert lines[0].split() == ["run", "state", "test_ppl", "trainable_params", "wall_seconds", "basic", "pass@1"]
    assert lines[2].split() == ["cera-a", "done", "3.812", "27,262,976", "61s", "0.25", "[0.12,", "0.50]"]
    assert lines[3].split() == ["lora-b", "failed", "-", "-", "-", "-"]
