"""The mechanism experiment's known answers: a rank-k linear target is fitted exactly by LoRA at
r ≥ k and not below; CeRA with σ = identity and dropout 0 is LoRA; the convergence rule; the
JSON schema; and bad options failing in one line with exit 2, nothing written."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from cera.adapters import adapter_state_dict, branch_output, iter_adapter_layers
from cera.mechanism.fit import Variant, build_model, converged, fit, train, window_mean
from cera.mechanism.task import linear_optimum, make_task, tanh_mean
from tests.conftest import REPO

LORA = Variant("lora", "lora", None, 0.0)
CERA_LINEAR = Variant("cera_identity0", "cera", "identity", 0.0)
SMALL = ["d=8", "ranks=[1,2]", "seeds=2", "n_train=64", "n_test=32", "steps=10", "max_steps=20", "target_width=4",
         "linear_rank=2", "linear_variants=[lora,cera]"]


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def compose_mechanism(tmp_path):
    from hydra import compose, initialize_config_dir

    from cera.config import CONF_DIR

    def _compose(*overrides: str):
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            return compose("mechanism", overrides=[f"paths.output_dir={tmp_path / 'outputs'}", *overrides])

    return _compose


@pytest.mark.parametrize("rank", [1, 2, 3, 5])
def test_lora_fits_a_rank_k_linear_target_exactly_iff_rank_at_least_k(rank):
    k = 3
    task = make_task("linear", d=16, n_train=256, n_test=256, seed=0, rank=k)
    row = fit(task, LORA, rank, seed=0, steps=200, max_steps=2000, lr=1e-2, tol=0.01, floor=1e-4)
    best = linear_optimum(task, rank)
    assert row["params"] == rank * 32
    if rank >= k:
        assert best["residual_test"] < 1e-10  # the rank-k map itself is a rank-r map
        assert row["residual_test"] < 1e-3 and row["converged"]
    else:  # the discarded singular directions of a Gaussian rank-3 map carry a real share of Δ
        assert best["residual_train"] > 0.02
        assert row["residual_test"] > 0.02
        # a converged LoRA is the reduced-rank regression optimum, not worse and not better
        assert row["residual_train"] == pytest.approx(best["residual_train"], rel=1e-3)


def test_cera_identity_without_dropout_is_lora_step_by_step():
    """Same W_up = A, W_down = B = 0 at init, same scale: the same trajectory and the same fit."""
    W0 = torch.randn(10, 12, generator=torch.Generator().manual_seed(0))  # d_out ≠ d_in
    task = make_task("nonlinear", d=12, n_train=128, n_test=64, seed=0, width=4)
    task.W0, task.delta_train, task.delta_test = W0, task.delta_train[:, :10], task.delta_test[:, :10]
    lora, cera = build_model(W0, LORA, 3, seed=0), build_model(W0, CERA_LINEAR, 3, seed=1)
    by_shape = {tuple(t.shape): t for t in adapter_state_dict(cera).values()}
    with torch.no_grad():
        for name, p in lora.named_parameters():
            if p.requires_grad:
                by_shape[tuple(p.shape)].copy_(p)  # A (3×12) -> W_up, B (10×3) -> W_down
    assert torch.equal(lora(task.x_test), cera(task.x_test))
    ra, rb = (train(m, task, steps=50, max_steps=100, lr=1e-2, tol=0.01, floor=1e-4) for m in (lora, cera))
    with torch.no_grad():
        torch.testing.assert_close(cera(task.x_test), lora(task.x_test), rtol=1e-4, atol=1e-5)
    assert ra["steps"] == rb["steps"] == 100
    assert rb["residual_test"] == pytest.approx(ra["residual_test"], rel=1e-4)
    assert ra["objective_end"] < ra["objective_half"] < 1.0  # it did learn something


def test_silu_branch_has_a_linear_odd_part():
    """Why the non-linear target has biases: σ(z) − σ(−z) = z for SiLU, so a bias-free CeRA
    branch satisfies f(x) − f(−x) = s · W_down W_up x, a purely linear odd part."""
    W0 = torch.zeros(6, 6)
    model = build_model(W0, Variant("cera0", "cera", "silu", 0.0), 3, seed=0)
    (_, layer), = iter_adapter_layers(model)
    with torch.no_grad():
        for t in adapter_state_dict(model).values():
            t.normal_(generator=torch.Generator().manual_seed(1))
        x = torch.randn(5, 6)
        odd = (branch_output(layer, x) - branch_output(layer, -x)).float()  # branch_output is float64
        A, B = (t for t in sorted(adapter_state_dict(model).values(), key=lambda t: t.shape[0]))
        linear = (branch_output(layer, x) + branch_output(layer, -x))  # the even part is not zero
    assert linear.abs().max() > 1e-3
    scale = odd.norm() / (x @ A.T @ B.T).norm()
    torch.testing.assert_close(odd, scale * (x @ A.T @ B.T), rtol=1e-5, atol=1e-5)


def test_tanh_mean_matches_known_values():
    assert tanh_mean(np.array([0.0]), np.array([2.0]))[0] == pytest.approx(0.0, abs=1e-12)  # odd
    assert tanh_mean(np.array([0.5]), np.array([1e-9]))[0] == pytest.approx(math.tanh(0.5))  # point mass
    z = np.random.default_rng(0).normal(0.7, 1.3, 2_000_000)
    assert tanh_mean(np.array([0.7]), np.array([1.3]))[0] == pytest.approx(np.tanh(z).mean(), abs=2e-3)


def test_nonlinear_target_is_centred_and_not_linear():
    task = make_task("nonlinear", d=32, n_train=4096, n_test=16, seed=0, width=8)
    mean, scale = task.delta_train.mean(0), task.delta_train.std(0)
    assert (mean.abs() < 4 * scale / math.sqrt(4096)).float().mean() > 0.9  # E[Δ] = 0 up to sampling
    assert linear_optimum(task, 32)["residual_train"] > 0.02  # some of Δ is beyond every linear map


def test_convergence_rule_by_hand():
    assert converged(0.1009, 0.1000, tol=0.01, floor=1e-4)       # gain 0.9% < 1%
    assert not converged(0.1011, 0.1000, tol=0.01, floor=1e-4)   # gain 1.1%
    assert converged(0.0999, 0.1000, tol=0.01, floor=1e-4)       # got worse: no further gain
    assert converged(1e-3, 5e-5, tol=0.01, floor=1e-4)           # solved: below the floor
    losses = [float(i) for i in range(1, 101)]                   # the windows are the last 10% before t
    assert window_mean(losses, 100) == pytest.approx(sum(range(91, 101)) / 10)
    assert window_mean(losses, 50) == pytest.approx(sum(range(46, 51)) / 5)


def test_a_fit_stops_at_its_first_passed_check_and_reports_the_last_gain():
    """Checks every N steps from 2N: a solved fit stops at 2N; one capped before it converges says so."""
    task = make_task("linear", d=16, n_train=256, n_test=64, seed=0, rank=2)
    solved = fit(task, LORA, 4, seed=0, steps=100, max_steps=1000, lr=1e-2, tol=0.01, floor=1e-4)
    assert solved["converged"] and solved["steps"] == 200 and solved["objective_end"] < 1e-4
    capped = fit(task, LORA, 4, seed=0, steps=10, max_steps=30, lr=1e-2, tol=0.01, floor=1e-4)  # far from it
    assert capped["steps"] == 30 and not capped["converged"] and capped["gain"] > 1  # checks at 20 and 30 failed
    assert capped["gain"] == pytest.approx((capped["objective_half"] - capped["objective_end"]) / capped["objective_end"])


def test_record_schema_and_loader(compose_mechanism, tmp_path):
    from analysis.mechanism import COLUMNS, load_linear_optimum, load_mechanism, mechanism_cells, mechanism_figure
    from analysis.mechanism import mechanism_table, paired_difference
    from cera.mechanism import ROW_KEYS, run_mechanism

    assert load_mechanism(tmp_path / "outputs").empty  # absent file: empty frame, the columns still there
    assert list(load_mechanism(tmp_path / "outputs").columns) == COLUMNS
    result = run_mechanism(compose_mechanism(*SMALL), progress=False)
    record = json.loads((tmp_path / "outputs" / "mechanism" / "mechanism.json").read_text())
    assert result["file"].endswith("mechanism/mechanism.json")
    assert record["schema_version"] == 2 and {"versions", "git", "hardware"} <= set(record["provenance"])
    assert record["config"]["d"] == 8 and record["config"]["ranks"] == [1, 2]
    assert len(record["rows"]) == 2 * (5 + 2) * 2  # seeds × (variants + linear_variants) × ranks
    for row in record["rows"]:
        assert set(row) == set(ROW_KEYS)
        assert row["params"] == row["rank"] * 16 and isinstance(row["converged"], bool)
        assert row["steps"] == 20  # one check (2N = max_steps)
        assert 0 <= row["residual_test"] and 0 <= row["residual_train"]
        assert (row["activation"] is None) == (row["method"] == "lora")
    assert {r["variant"] for r in record["rows"]} == {"lora", "cera", "cera_identity", "cera_relu", "cera_nodropout"}
    assert len(record["linear_optimum"]) == 2 * 2 * 2
    rows = load_mechanism(tmp_path / "outputs")
    assert list(rows.columns) == COLUMNS and len(rows) == 28
    cells = mechanism_cells(rows)
    assert len(cells) == 14 and (cells["seeds"] == 2).all() and (cells["lo"] <= cells["hi"]).all()
    d = paired_difference(rows, "cera", "lora", "nonlinear")
    assert d["rank"] == 2 and d["seeds"] == 2 and d["diff"] == pytest.approx(d["a_mean"] - d["b_mean"])
    table = mechanism_table(rows, load_linear_optimum(tmp_path / "outputs"))
    assert list(table.columns) == ["target", "variant", "r=1 (16 params)", "r=2 (32 params)"]
    assert len(table) == 6 + 3 and table["variant"].iloc[5] == "best rank-r linear map (closed form)"
    mechanism_figure(rows, load_linear_optimum(tmp_path / "outputs")).savefig(tmp_path / "m.png")
    assert (tmp_path / "m.png").stat().st_size > 10_000


@pytest.mark.parametrize("override, message", [
    ("ranks=[0]", "rank=0 is invalid"),
    ("ranks=[128]", "ranks: 128 exceeds d=64"),
    ("ranks=4", "ranks=4 is invalid: give a list"),
    ("variants=[lora,foo]", "variants: 'foo' is not a known variant"),
    ("variants=[lora,lora]", "lists a value twice"),
    ("targets=[quadratic]", "targets: 'quadratic' is not a known target"),
    ("variant_table.cera.activation=tanh", "variant_table.cera.activation='tanh' is invalid"),
    ("variant_table.lora.activation=silu", "lora is linear"),
    ("variant_table.cera.dropout=1.5", "dropout=1.5 is invalid"),
    ("seeds=0", "seeds=0 is invalid"),
    ("lr=-1", "lr=-1 is invalid"),
    ("converge_tol=0", "converge_tol=0 is invalid"),
    ("max_steps=400", "max_steps=400 is invalid: the first check is at 2·steps = 500"),
    ("linear_variants=[bar]", "linear_variants: 'bar' is not a known variant"),
])
def test_bad_option_is_one_line(override, message, compose_mechanism):
    from cera.config import ConfigError
    from cera.mechanism.settings import check_mechanism

    with pytest.raises(ConfigError, match="^[^\\n]*$") as err:
        check_mechanism(compose_mechanism(override))
    assert message in str(err.value)


def test_cli_bad_option_exits_2_and_writes_nothing(tmp_path):
    out = tmp_path / "outputs"
    proc = subprocess.run([sys.executable, "-m", "cera.mechanism", "variants=[lora,foo]", f"paths.output_dir={out}"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == "cera: error: variants: 'foo' is not a known variant: choose from lora, cera, " \
                          "cera_identity, cera_relu, cera_nodropout\n"
    assert list(tmp_path.iterdir()) == []  # not even Hydra's log directory
