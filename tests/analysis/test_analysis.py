"""analysis/: frames, tables, claims and the report on a small tree with known values."""

import math
import subprocess
import sys
from pathlib import Path

import pandas as pd

from analysis import build_all, load_runs, select_setting
from analysis.cells import cell_stats, fmt
from analysis.claims import claims
from analysis.tables import table1, table3
from tests.analysis.tree import small_tree, write_run

ROOT = Path(__file__).resolve().parents[2]


def test_one_row_per_run_with_its_state(tmp_path):
    runs = load_runs(small_tree(tmp_path))
    assert len(runs) == 14
    assert runs["state"].value_counts().to_dict() == {"done": 12, "failed": 1, "diverged": 1}
    relu = runs[runs["variant"] == "cera_relu"].iloc[0]
    assert relu["test_ppl"] == 6.9 and relu["rank"] == 128
    # the bootstrap CI of a run whose sequences all have the same NLL per token is that PPL exactly
    assert math.isclose(relu["test_ppl_lo"], 6.9) and math.isclose(relu["test_ppl_hi"], 6.9)


def test_cell_mean_and_t_interval_over_seeds(tmp_path):
    runs = load_runs(small_tree(tmp_path))
    s = cell_stats(runs, "test_ppl", variant="lora", rank=16)
    assert s["n"] == 2 and math.isclose(s["value"], 5.01)
    half = 12.706 * 0.01414213562 / math.sqrt(2)  # t_{0.975,1} * sd / sqrt(2)
    assert math.isclose(s["hi"] - s["value"], half, rel_tol=1e-3)
    assert fmt(s, 2).startswith("5.01 [")
    assert fmt(cell_stats(runs, "test_ppl", variant="cera", rank=512)) == "—"  # failed: a gap


def test_table3_cells_equal_the_inputs_and_gaps_show(tmp_path):
    t = table3(load_runs(small_tree(tmp_path))).set_index("variant")
    assert t.loc["full CeRA (SiLU, latent dropout)", "test PPL"] == "7.000 [7.000, 7.000]"
    assert t.loc["(a) module-level parallel adapter", "test PPL"].startswith("6.500")
    assert t.loc["(c) no dropout", "test PPL"].startswith("7.100")
    assert t.loc["(b) activation: identity", "test PPL"] == "—"  # diverged
    assert t.loc["(b) activation: identity", "paper PPL"] == "3.97"


def test_table1_percentages_and_paper_beside(tmp_path):
    t = table1(load_runs(small_tree(tmp_path))).set_index("method")
    assert t.loc["lora r64", "MATH pass@1"] == "25.0 [15.0, 35.0]"
    assert t.loc["lora r64", "paper MATH@1 / @10 / GSM8K"] == "14.36 / 50.20 / 48.38"
    assert t.loc["lora r512", "paper MATH@1 / @10 / GSM8K"] == "15.72 / 55.20 / 49.64"  # top rank = paper r512
    assert t.loc["cera r64", "MATH pass@1"] == "—"


def test_claim_verdicts(tmp_path):
    c = claims(load_runs(small_tree(tmp_path)), None).set_index("id")
    # r512 4.01 is clearly below r16 5.01, but no cell recorded a convergence check: no plateau call
    assert c.loc["fig1_plateau", "verdict"] == "no plateau call: cells not shown converged"
    assert "convergence not checked: lora r16, lora r512" in c.loc["fig1_plateau", "caveats"]
    assert c.loc["control_rank", "verdict"] == "reproduced"
    assert c.loc["fig1_cera_low_rank", "verdict"].startswith("not run")
    assert c.loc["table3_order", "verdict"] == "not run (cera_identity r128)"  # diverged


def test_select_setting_keeps_one_recipe_and_says_so(tmp_path):
    small_tree(tmp_path)
    other = write_run(tmp_path, "lora", 16, 7, ppl=3.0)
    (other / "config.yaml").write_text((other / "config.yaml").read_text().replace("max_steps: 150", "max_steps: 300"))
    runs, notes = select_setting(load_runs(tmp_path))
    assert other.name not in set(runs["run"])
    assert any("max_steps [300]" in n for n in notes)


def test_build_all_with_failed_and_diverged_runs_writes_every_file(tmp_path):
    out = small_tree(tmp_path)
    result = subprocess.run([sys.executable, "-m", "analysis", "--outputs", str(out)], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    for fig in ("fig1_scaling_law", "fig2_lr_robustness", "fig3_spectra_instruct", "fig4_spectra_math"):
        for ext in ("png", "pdf"):
            assert (out / "figures" / f"{fig}.{ext}").stat().st_size > 1000
    for tab in ("table1_downstream", "table2_case_study", "table3_ablation", "claims"):
        assert (out / "tables" / f"{tab}.md").exists()
        assert "\\toprule" in (out / "tables" / f"{tab}.tex").read_text()
    report = (out / "report.md").read_text()
    assert "cera-r512-do0.1-lr0.0003-s0-synthetic_instruct-tiny-x`: failed" in report
    assert "diverged" in report and "no outputs/bench" in report
    assert len(pd.read_csv(out / "results.csv")) == 14


def test_empty_outputs_tree_is_not_a_crash(tmp_path):
    result = build_all(tmp_path)
    assert result["runs"] == 0
    assert (tmp_path / "tables" / "claims.md").exists()


def test_bad_outputs_dir_is_one_line_error(tmp_path):
    r = subprocess.run([sys.executable, "-m", "analysis", "--outputs", str(tmp_path / "nope")], cwd=ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0 and "is not a directory" in r.stderr


def test_a_cell_is_at_the_paper_lr_unless_asked(tmp_path):
    small_tree(tmp_path)
    write_run(tmp_path, "lora", 16, 0, ppl=50.0, lr=1e-4)  # a Fig 2 run: same method/rank/dropout, other lr
    runs = load_runs(tmp_path)
    assert math.isclose(cell_stats(runs, "test_ppl", variant="lora", rank=16)["value"], 5.01)
    assert cell_stats(runs, "test_ppl", variant="lora", rank=16, lr=1e-4)["value"] == 50.0


def test_rates_are_clipped_to_their_range():
    assert fmt({"value": 0.1, "lo": -0.2, "hi": 0.4}, 2, clip=(0, 1)) == "0.10 [0.00, 0.40]"


def test_paired_ppl_ratio_is_the_ratio_of_seed_matched_runs(tmp_path):
    from analysis.paired import paired_ppl_ratio, ratio_verdict

    for seed, (c, lo) in enumerate([(3.0, 4.0), (3.0, 4.0)]):
        write_run(tmp_path, "cera", 64, seed, ppl=c)
        write_run(tmp_path, "lora", 512, seed, ppl=lo)
    write_run(tmp_path, "lora", 512, 7, ppl=9.0)  # no CeRA seed 7: not paired
    runs = load_runs(tmp_path)
    res = paired_ppl_ratio(runs, {"variant": "cera", "rank": 64}, {"variant": "lora", "rank": 512})
    assert res["seeds"] == 2 and res["n"] == 8
    assert math.isclose(res["ratio"], 0.75) and math.isclose(res["lo"], 0.75) and math.isclose(res["hi"], 0.75)
    assert ratio_verdict(res, "x") == "reproduced"
    assert paired_ppl_ratio(runs, {"variant": "cera", "rank": 16}, {"variant": "lora", "rank": 512}) is None
    claim = claims(runs, None).set_index("id").loc["fig1_cera_low_rank"]
    assert claim["verdict"] == "reproduced" and claim["effect: ours / paper"] == "-25.0% [-25.0%, -25.0%] / -0.3%"
