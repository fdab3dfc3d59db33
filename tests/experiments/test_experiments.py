"""experiments/: every sweep file composes, expands to the documented grid, shares runs where it says so,
and (slow) runs end to end on a tiny model."""

import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose as hydra_compose
from hydra import initialize_config_dir
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from cera.config import CONF_DIR, given_keys, register_resolvers, resolve_rank
from cera.runs.naming import run_id
from tests.conftest import TINY

EXPERIMENTS = sorted(p.stem for p in (CONF_DIR / "experiment").glob("*.yaml"))
# Runs per experiment at the default seeds=3 (the numbers the experiment headers and README state).
GRID = {"fig1_scaling_law": 24, "fig2_lr_robustness": 30, "fig3_spectra": 18, "fig4_spectra": 18,
        "table1_downstream": 27, "table2_case_study": 12, "table3_ablation": 15}


def test_every_experiment_is_known():
    assert EXPERIMENTS == sorted(GRID)


def jobs(experiment: str, *cli: str) -> list[list[str]]:
    """The override list of every job `python -m cera.run -m experiment=<e> <cli>` launches."""
    register_resolvers()
    fixed = [o for o in cli if not OverridesParser.create().parse_override(o).is_sweep_override()]
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = hydra_compose("config", overrides=[f"experiment={experiment}", *fixed], return_hydra_config=True)
    params = OmegaConf.to_container(cfg.hydra.sweeper.params, resolve=True)
    cli_keys = {o.split("=", 1)[0] for o in cli}
    sweep = [f"{k}={v}" for k, v in params.items() if k not in cli_keys] + list(cli)
    parsed = OverridesParser.create().parse_overrides([f"experiment={experiment}", *sweep])
    return BasicSweeper.split_arguments(parsed, None)[0]


def job_configs(experiment: str, *cli: str) -> list:
    """Each job's config as the job sees it: composed, then paper_rank/budget_factor resolved (cera.run)."""
    configs, every = [], jobs(experiment, *cli)
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        for overrides in every:
            cfg = hydra_compose("config", overrides=[*overrides, "paths.output_dir=/nonexistent"])
            given = given_keys(overrides)
            resolve_rank(cfg, rank_given="rank" in given, lr_given="lr" in given)
            configs.append(cfg)
    return configs


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_grid_size_and_seeds_knob(experiment):
    assert len(jobs(experiment)) == GRID[experiment]
    assert len(jobs(experiment, "seeds=1")) == GRID[experiment] // 3


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_job_composes_on_the_reproduce_budget(experiment):
    ids = [run_id(cfg) for cfg in job_configs(experiment, "seeds=1")]
    assert len(set(ids)) == len(ids)  # no two cells collapse into one run
    cfg = job_configs(experiment, "seeds=1")[0]
    math = experiment in ("table1_downstream", "table2_case_study", "fig4_spectra")  # train/reproduce_math
    assert cfg.train.max_steps == (600 if math else 150) and cfg.model.name == "tiny"


def test_paper_scale_overrides_win_over_the_experiment():
    every = job_configs("fig1_scaling_law", "model=llama3_8b", "data=slimorca", "train=paper",
                        "paper_rank=16,32,64,128,256,512", "seeds=1")
    cfg = every[0]
    assert (cfg.model.name, cfg.data.name) == ("llama3_8b", "slimorca")
    assert cfg.train.max_steps != 150
    assert sorted({c.rank for c in every}) == [16, 32, 64, 128, 256, 512]  # rank_scale 1: the paper's ranks
    assert len(jobs("fig1_scaling_law", "paper_rank=16,32,64,128,256,512")) == 2 * 6 * 3


def test_paper_ranks_keep_the_papers_rank_to_width_ratio():
    """Embedded backbone (width 128, rank_scale 1/32): the paper's 16/64/128/512 become 1/2/4/16."""
    assert sorted({c.rank for c in job_configs("fig1_scaling_law", "seeds=1")}) == [1, 2, 4, 16]
    assert sorted({c.rank for c in job_configs("table1_downstream", "seeds=1")}) == [2, 4, 16]
    assert {c.paper_rank for c in job_configs("table3_ablation", "seeds=1")} == {128}


def test_downstream_math_adapts_the_backbones_declared_modules_for_its_budget():
    """Table 1/2 and Fig 4 on the embedded backbone: every linear layer, 600 steps (README "Embedded tasks
    and budgets"); the instruction experiments keep the paper's q and v at 150 steps; at paper scale q, v."""
    every = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    for experiment in ("table1_downstream", "table2_case_study", "fig4_spectra"):
        for cfg in job_configs(experiment, "seeds=1"):
            assert list(cfg.model.target_modules) == every and cfg.train.max_steps == 600, experiment
    for cfg in job_configs("fig1_scaling_law", "seeds=1"):
        assert list(cfg.model.target_modules) == ["q_proj", "v_proj"] and cfg.train.max_steps == 150
    for cfg in job_configs("table1_downstream", "seeds=1", "model=llama3_8b", "train=paper"):
        assert list(cfg.model.target_modules) == ["q_proj", "v_proj"]


def cells(experiment):
    return {run_id(cfg) for cfg in job_configs(experiment, "seeds=1")}


def test_shared_cells_are_the_same_runs():
    """Fig 3/4 and Table 2 train nothing new; Table 3's full CeRA is Fig 1's CeRA r128."""
    assert cells("table2_case_study") <= cells("table1_downstream")
    assert cells("fig3_spectra") <= cells("fig1_scaling_law")
    assert cells("fig4_spectra") <= cells("table1_downstream")
    shared = cells("table3_ablation") & cells("fig1_scaling_law")
    assert [i.split("-")[:3] for i in shared] == [["cera", "r4", "do0.1"]]  # paper rank 128 at width 128


def test_arms_set_what_their_names_say():
    by_arm = {}
    for cfg in job_configs("table3_ablation", "seeds=1"):
        by_arm[(cfg.method.name, cfg.method.activation, cfg.dropout)] = cfg.rank
    assert set(by_arm) == {("cera", "silu", 0.1), ("parallel", "silu", 0.1), ("cera", "identity", 0.1),
                           ("cera", "relu", 0.1), ("cera", "silu", 0)}
    assert set(by_arm.values()) == {4}
    fig2 = {(c.method.name, c.dropout, round(c.lr / c.model.lr_scale, 12))
            for c in job_configs("fig2_lr_robustness", "seeds=1")}  # the paper's lrs, x lr_scale (32) here
    assert fig2 == {(m, p, lr) for m, p in [("lora", 0.1), ("cera", 0), ("cera", 0.1), ("cera", 0.2),
                                            ("cera", 0.3)] for lr in (1e-4, 5e-4)}
    assert sorted({c.lr for c in job_configs("fig2_lr_robustness", "seeds=1")}) == pytest.approx([3.2e-3, 1.6e-2])


@pytest.mark.slow
@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_runs_two_steps_on_a_tiny_model(experiment, cli_env, tmp_path):
    # the tiny test backbone is 32 wide; keep the embedded default's rank_scale so no two cells collapse
    cmd = [sys.executable, "-m", "cera.run", "-m", f"experiment={experiment}", "seeds=1", *TINY,
           "model.rank_scale=0.03125"]
    proc = subprocess.run(cmd, env=cli_env, cwd=CONF_DIR.parent, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = sorted(Path(cli_env["CERA_OUTPUTS"], "runs").glob("*/results.json"))
    assert len(runs) == GRID[experiment] // 3
