"""make reproduce's plan (analysis.reproduce): seeds and checks where a claim compares cells, one seed elsewhere."""

from __future__ import annotations

from collections import Counter

import pytest

from analysis.reproduce import Run, execute, main, plan


@pytest.fixture(scope="module")
def runs() -> list[Run]:
    return plan(seeds=3)


def _seeds(runs, experiment, *point, factor=1):
    return sorted(r.seed for r in runs if r.experiment == experiment and set(point) <= set(r.overrides)
                  and r.budget_factor == factor)


def test_compared_cells_get_three_seeds_and_a_check(runs):
    # Table 1's claims compare LoRA at the top rank with CeRA at 1/8 and 1/4 of it (and the top: Fig 4)
    for method, rank in [("lora", 512), ("cera", 64), ("cera", 128), ("cera", 512)]:
        point = (f"method={method}", f"paper_rank={rank}")
        assert _seeds(runs, "table1_downstream", *point) == [0, 1, 2], point
        assert _seeds(runs, "table1_downstream", *point, factor=2) == [0], point
    # Fig 1: LoRA at the lowest and the top rank (plateau, control), CeRA at 1/8 and the top
    assert _seeds(runs, "fig1_scaling_law", "method=lora", "paper_rank=16") == [0, 1, 2]
    assert _seeds(runs, "fig1_scaling_law", "method=cera", "paper_rank=64") == [0, 1, 2]
    # Fig 2's compared cells: LoRA at both rates, CeRA (p=0.1) at the low one; Fig 2 has no 2x check
    assert _seeds(runs, "fig2_lr_robustness", "arm=lora", "paper_lr=0.0005") == [0, 1, 2]
    assert _seeds(runs, "fig2_lr_robustness", "arm=cera_p0.1", "paper_lr=0.0001") == [0, 1, 2]
    assert not [r for r in runs if r.experiment == "fig2_lr_robustness" and r.budget_factor == 2]


def test_cells_no_claim_compares_get_one_seed_and_no_check(runs):
    for point in [("method=dora", "paper_rank=512"), ("method=lora", "paper_rank=64")]:
        assert _seeds(runs, "table1_downstream", *point) == [0]
        assert _seeds(runs, "table1_downstream", *point, factor=2) == []
    assert _seeds(runs, "fig2_lr_robustness", "arm=cera_p0.3", "paper_lr=0.0005") == [0]
    assert _seeds(runs, "fig1_scaling_law", "method=cera", "paper_rank=16") == [0]


def test_a_cell_two_experiments_sweep_is_planned_once(runs):
    # Table 3's full CeRA is Fig 1's CeRA at paper rank 128; Table 2 and Fig 4 are cells of Table 1, Fig 3 of Fig 1
    assert not _seeds(runs, "table3_ablation", "arm=cera_full")
    assert _seeds(runs, "fig1_scaling_law", "method=cera", "paper_rank=128") == [0, 1, 2]
    assert not {"table2_case_study", "fig3_spectra", "fig4_spectra"} & {r.experiment for r in runs}
    keys = Counter((r.experiment, r.overrides, r.seed, r.budget_factor) for r in runs)
    assert max(keys.values()) == 1
    # 8 + 4 + 10 + 9 cells; 13 compared cells in the checked experiments get a check
    assert len(runs) == 76 and sum(r.budget_factor == 2 for r in runs) == 13


def test_longest_first_and_one_seed_everywhere_at_seeds_1(runs):
    costs = [r.cost for r in runs]
    assert costs == sorted(costs, reverse=True)
    assert runs[0].budget_factor == 2 and "experiment=table1_downstream" in runs[0].argv()
    single = plan(seeds=1)
    assert {r.seed for r in single} == {0} and len(single) == 31 + 13


def test_execute_stops_after_a_failing_run(tmp_path, capsys):
    bad = Run("fig1_scaling_law", ("method=lora", "paper_rank=0"), 0, 1, 2.0)  # rejected before any work
    never = Run("fig1_scaling_law", ("method=lora", "paper_rank=16"), 0, 1, 1.0)
    assert execute([bad, never], jobs=1, outputs=tmp_path) == 1
    err = capsys.readouterr().err
    assert "failed: experiment=fig1_scaling_law method=lora paper_rank=0 seed=0 (exit 2" in err
    assert "paper_rank=0" in (tmp_path / "logs" / "reproduce-0.log").read_text()
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_bad_arguments_are_one_line_errors(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--seeds", "0"])
    assert exc.value.code == 2 and "--seeds=0 and --jobs=2 must be >= 1" in capsys.readouterr().err
