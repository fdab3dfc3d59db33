"""A cell never pools runs of different configs, never counts a seed twice, never pools a 2x-budget
check with its base runs; de-duplication keeps runs of different synthetic generators apart."""

from analysis import build_all, load_runs
from analysis.__main__ import main
from analysis.cells import cell_stats, describe, differences, mixed_cells
from analysis.claims import tier_claims
from analysis.load import dedupe
from analysis.tables import table1
from tests.analysis.tree import write_run

QV = {"target_modules": ["q_proj", "v_proj"]}
ALL = {"target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]}
MATH = dict(data="synthetic_math", paper_rank=512, problems=32)


def _qv_vs_all_linear(outputs):
    """The observed case: LoRA and CeRA at paper rank 512, each with q/v and with all 7 linear layers, seed 0."""
    for method, (a, b) in (("lora", (0.25, 0.5)), ("cera", (0.2, 0.45))):
        write_run(outputs, method, 16, 0, ppl=5.0, math_acc=a, model_cfg=QV, suffix="qv", **MATH)
        write_run(outputs, method, 16, 0, ppl=4.0, math_acc=b, model_cfg=ALL, suffix="all", **MATH)


def test_runs_differing_only_in_target_modules_are_not_two_seeds(tmp_path):
    _qv_vs_all_linear(tmp_path)
    runs = load_runs(tmp_path)
    assert len(runs) == 4  # two configs, not duplicates
    stats = cell_stats(runs, "test_ppl", variant="lora", rank=16)
    assert stats["n"] == 0 and stats["ci"] == "" and list(stats["mixed"]) == ["model.target_modules"]
    row = table1(runs).set_index("method").loc["lora r16 (paper 512)"]
    assert row["seeds"] == "mixed configs (model.target_modules)"  # not 2
    assert row["MATH pass@1"] == "mixed configs (model.target_modules)"
    line = describe(differences(runs[runs["variant"] == "lora"]))  # values in run-directory order (-all, -qv)
    assert line == "model.target_modules: [q_proj, ..., down_proj] (7) vs [q_proj, v_proj]"
    assert [m.split(":")[0] for m in mixed_cells(runs)] == \
        ["variant=cera rank=16 dropout=0.1 lr=0.0003 data=synthetic_math",
         "variant=lora rank=16 dropout=0.1 lr=0.0003 data=synthetic_math"]
    judged = tier_claims(runs)
    verdicts = judged.set_index("id")["verdict"]  # never a verdict on pooled configs
    assert verdicts["table1_math_pass1"] == "not judged (lora r16 (paper 512): mixed configs (model.target_modules))"
    assert verdicts["fig4_er"].startswith("not judged (cera r16 (paper 512): mixed configs")


def test_the_report_and_the_cli_name_the_differing_key_and_values(tmp_path, capsys):
    _qv_vs_all_linear(tmp_path)
    assert main(["--outputs", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "warning: model tiny: variant=lora rank=16 dropout=0.1 lr=0.0003 data=synthetic_math: 2 runs of 2 " \
        "configs, not pooled" in out
    assert "model.target_modules: [q_proj, ..., down_proj] (7) vs [q_proj, v_proj]" in out
    report = (tmp_path / "report.md").read_text()
    assert "## Cells of mixed configs" in report and "2 runs of 2 configs, not pooled" in report
    assert "> model tiny: variant=lora rank=16" in (tmp_path / "tables" / "claims.md").read_text()
    assert "seeds 2" not in (tmp_path / "tables" / "table1_downstream.md").read_text()


def test_three_seeds_of_one_config_are_still_one_cell(tmp_path):
    for seed in range(3):
        write_run(tmp_path, "lora", 16, seed, ppl=5.0 + 0.01 * seed, math_acc=0.25, model_cfg=ALL, **MATH)
    runs = load_runs(tmp_path)
    stats = cell_stats(runs, "test_ppl", variant="lora", rank=16)
    assert stats["ci"] == "t over 3 seeds" and stats["mixed"] == {} and abs(stats["value"] - 5.01) < 1e-12
    assert table1(runs).set_index("method").loc["lora r16 (paper 512)", "seeds"] == 3
    assert mixed_cells(runs) == [] and build_all(tmp_path)["mixed"] == []


def test_a_2x_budget_check_is_neither_a_seed_nor_a_mixed_config(tmp_path):
    check = write_run(tmp_path, "lora", 16, 0, ppl=4.9, train={"max_steps": 300}, suffix="check", **MATH)
    record = {"passed": True, "gain": 0.004, "check_run": check.name, "budget": 150}
    for seed in range(3):
        write_run(tmp_path, "lora", 16, seed, ppl=5.0 + 0.01 * seed, convergence=record, **MATH)
    runs = load_runs(tmp_path)
    assert runs.set_index("run").loc[check.name, "is_check"] and runs["is_check"].sum() == 1
    stats = cell_stats(runs, "test_ppl", variant="lora", rank=16)  # no select_setting in between
    assert stats["ci"] == "t over 3 seeds" and stats["mixed"] == {}
    assert mixed_cells(runs) == []
    only = cell_stats(runs, "test_ppl", variant="lora", rank=16, checks=True, max_steps=300)
    assert only["n"] == 1 and only["value"] == 4.9  # asked for: the check itself


def test_runs_of_other_generators_are_not_duplicates_nor_pooled(tmp_path):
    a = write_run(tmp_path, "lora", 16, 0, ppl=5.0, generators="aaaa", suffix="a", **MATH)
    b = write_run(tmp_path, "lora", 16, 0, ppl=4.0, generators="bbbb", suffix="b", **MATH)
    every = load_runs(tmp_path, keep_duplicates=True)
    kept, notes = dedupe(every)
    assert set(kept["run"]) == {a.name, b.name} and notes == []
    stats = cell_stats(kept, "test_ppl", variant="lora", rank=16)
    assert stats["mixed"] == {"generators": ["aaaa", "bbbb"]}


def test_the_same_run_and_generators_twice_is_still_one_measurement(tmp_path):
    write_run(tmp_path, "lora", 16, 0, ppl=5.0, generators="aaaa", train={"progress_bar": True}, ended=1.0, suffix="o")
    new = write_run(tmp_path, "lora", 16, 0, ppl=5.0, generators="aaaa", ended=2.0, suffix="n")
    kept, notes = dedupe(load_runs(tmp_path, keep_duplicates=True))
    assert list(kept["run"]) == [new.name] and len(notes) == 1


def test_a_changed_value_is_named_before_keys_one_version_lacks(tmp_path):
    write_run(tmp_path, "lora", 16, 0, ppl=5.0, model_cfg={"a_new_key": 1, "b": [1]}, generators="aaaa", suffix="new")
    write_run(tmp_path, "lora", 16, 0, ppl=5.0, model_cfg={"b": [2]}, suffix="old")
    diff = differences(load_runs(tmp_path))
    assert list(diff) == ["model.b", "generators", "model.a_new_key"]
    assert describe(diff, most=1) == "model.b: [1] vs [2]; and 2 more keys"
