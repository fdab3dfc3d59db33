"""The mechanism experiment (python -m cera.mechanism): its rows as a DataFrame, cell statistics and
the figure `mechanism.{png,pdf}` (held-out residual vs rank and parameters, per variant).

    rows = load_mechanism("outputs")          # one row per fit; empty frame if the file is absent
    cells = mechanism_cells(rows)             # mean and 95% t-CI over seeds per (target, variant, rank)
    d = paired_difference(rows, "cera", "lora", "nonlinear")   # per-seed paired, at the top rank
    fig = mechanism_figure(rows, load_linear_optimum("outputs"))
    table = mechanism_table(rows, load_linear_optimum("outputs"))   # the README's table
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib import ticker  # noqa: E402

from cera.eval.stats import across_seeds  # noqa: E402

FLOOR = 1e-6  # residuals below this are drawn on it: solved to float32 precision, the exponent means nothing
COLUMNS = ["target", "variant", "method", "activation", "dropout", "rank", "params", "seed", "residual_test",
           "residual_train", "objective_half", "objective_end", "gain", "steps", "converged"]
OPTIMUM_COLUMNS = ["target", "rank", "seed", "residual_train", "residual_test"]
STYLE = {  # variant: (label, colour, marker)
    "lora": ("LoRA", "tab:blue", "o"),
    "cera": ("CeRA (SiLU, dropout 0.1)", "tab:red", "s"),
    "cera_identity": ("CeRA identity σ (ablation)", "tab:gray", "v"),
    "cera_relu": ("CeRA ReLU (ablation)", "tab:orange", "^"),
    "cera_nodropout": ("CeRA no dropout (ablation)", "tab:purple", "D"),
}


def _record(outputs_dir: str | Path) -> dict | None:
    path = Path(outputs_dir) / "mechanism" / "mechanism.json"
    return json.loads(path.read_text()) if path.is_file() else None


def load_mechanism(outputs_dir: str | Path) -> pd.DataFrame:
    """The rows of <outputs_dir>/mechanism/mechanism.json (one per fit); empty frame if absent."""
    record = _record(outputs_dir)
    rows = pd.DataFrame(record["rows"] if record else [])
    return rows.reindex(columns=[*COLUMNS, *(c for c in rows.columns if c not in COLUMNS)])


def load_linear_optimum(outputs_dir: str | Path) -> pd.DataFrame:
    """Closed-form best rank-r linear map per (target, rank, seed): the linear ceiling; empty if absent."""
    record = _record(outputs_dir)
    return pd.DataFrame((record or {}).get("linear_optimum", []), columns=OPTIMUM_COLUMNS)


def mechanism_cells(rows: pd.DataFrame, metric: str = "residual_test") -> pd.DataFrame:
    """Per (target, variant, rank): params, seeds, mean, 95% t-CI over seeds, and all_converged."""
    out = []
    for (target, variant, rank), g in rows.groupby(["target", "variant", "rank"], sort=False):
        mean, lo, hi = across_seeds(g[metric].to_numpy())
        out.append({"target": target, "variant": variant, "rank": int(rank), "params": int(g["params"].iloc[0]),
                    "seeds": len(g), "mean": mean, "lo": lo, "hi": hi,
                    "all_converged": bool(g["converged"].all())})
    return pd.DataFrame(out, columns=["target", "variant", "rank", "params", "seeds", "mean", "lo", "hi",
                                      "all_converged"])


def paired_difference(rows: pd.DataFrame, a: str, b: str, target: str, rank: int | None = None,
                      metric: str = "residual_test") -> dict:
    """Mean over seeds of a − b (same seed = same task and init seed) with its 95% t-CI.

    `rank` defaults to the grid's top rank. Negative diff: `a` leaves less residual than `b`.
    """
    sub = rows[rows["target"] == target]
    rank = int(sub["rank"].max()) if rank is None else rank
    sub = sub[sub["rank"] == rank]
    pa, pb = (sub[sub["variant"] == v].set_index("seed")[metric] for v in (a, b))
    seeds = sorted(set(pa.index) & set(pb.index))
    if not seeds:
        raise ValueError(f"no seed has both {a} and {b} at rank {rank} on the {target} target")
    diff, lo, hi = across_seeds((pa[seeds] - pb[seeds]).to_numpy())
    return {"a": a, "b": b, "target": target, "rank": rank, "seeds": len(seeds), "diff": diff, "lo": lo,
            "hi": hi, "a_mean": float(pa[seeds].mean()), "b_mean": float(pb[seeds].mean())}


def _cell(mean: float, lo: float, hi: float, ok: bool = True) -> str:
    ci = "" if math.isnan(lo) else f" [{lo:.4f}, {hi:.4f}]"
    return f"{mean:.4f}{ci}" + ("" if ok else " (not converged)")


def mechanism_table(rows: pd.DataFrame, optimum: pd.DataFrame | None = None) -> pd.DataFrame:
    """Held-out residual, mean [95% t-CI] over seeds: one row per (target, variant), one column per
    rank (with its parameter count); the closed-form best rank-r linear map as an extra row."""
    cells = mechanism_cells(rows)
    ranks = sorted(cells["rank"].unique())
    params = dict(zip(cells["rank"], cells["params"]))
    header = {r: f"r={r} ({params[r]:,} params)" for r in ranks}
    out = []
    for target in dict.fromkeys(cells["target"]):
        sub = cells[cells["target"] == target]
        for variant in dict.fromkeys(sub["variant"]):
            c = sub[sub["variant"] == variant].set_index("rank")
            out.append({"target": target, "variant": STYLE.get(variant, (variant,))[0],
                        **{header[r]: _cell(*c.loc[r, ["mean", "lo", "hi", "all_converged"]]) if r in c.index else "—"
                           for r in ranks}})
        if optimum is not None and not optimum.empty:
            o = optimum[optimum["target"] == target]
            out.append({"target": target, "variant": "best rank-r linear map (closed form)",
                        **{header[r]: _cell(*across_seeds(o.loc[o["rank"] == r, "residual_test"].to_numpy()))
                           if (o["rank"] == r).any() else "—" for r in ranks}})
    return pd.DataFrame(out)


def mechanism_figure(rows: pd.DataFrame, optimum: pd.DataFrame | None = None) -> plt.Figure:
    """One panel per target: held-out residual (log) vs rank (bottom axis) and parameters (top axis)."""
    if rows.empty:
        raise ValueError("no mechanism rows: run `make mechanism` (python -m cera.mechanism)")
    targets = list(dict.fromkeys(rows["target"]))
    cells = mechanism_cells(rows)
    fig, axes = plt.subplots(1, len(targets), figsize=(6.2 * len(targets), 4.8), squeeze=False)
    for ax, target in zip(axes[0], targets):
        sub = cells[cells["target"] == target]
        for variant in dict.fromkeys(sub["variant"]):
            c = sub[sub["variant"] == variant].sort_values("rank")
            label, color, marker = STYLE.get(variant, (variant, None, "o"))
            mean, lo, hi = (c[k].clip(lower=FLOOR) for k in ("mean", "lo", "hi"))
            err = [(mean - lo).clip(lower=0).fillna(0), (hi - mean).clip(lower=0).fillna(0)]
            ax.errorbar(c["rank"], mean, yerr=err, marker=marker, ms=4, capsize=3, color=color,
                        label=label, lw=2.2 if variant in ("lora", "cera") else 1.1,
                        alpha=1.0 if variant in ("lora", "cera") else 0.8)
        if optimum is not None and not optimum.empty:
            o = optimum[optimum["target"] == target].groupby("rank")["residual_test"].mean()
            ax.plot(o.index, o.clip(lower=FLOOR).values, ls="--", color="black", lw=1, zorder=5,
                    label="best rank-r linear map (closed form)")
        ranks = sorted(sub["rank"].unique())
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(ranks, [str(r) for r in ranks])
        ax.xaxis.set_minor_locator(ticker.NullLocator())
        lo_y, hi_y = ax.get_ylim()
        ax.yaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0) if hi_y / lo_y < 200 else (1.0,)))
        ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(ticker.NullFormatter())
        ax.set_xlabel("rank r (log scale)")
        ax.set_ylabel("held-out residual ‖ŷ − y‖² / ‖Δ‖²\n(log scale; 1 = no adaptation, 0 = Δ learned)")
        params = dict(zip(sub["rank"], sub["params"]))
        top = ax.secondary_xaxis("top")
        top.set_xticks(ranks, [f"{params[r]:,}" for r in ranks], fontsize=7)
        top.xaxis.set_minor_locator(ticker.NullLocator())
        top.set_xlabel("trainable parameters r·(d_in + d_out), same for every variant", fontsize=8)
        ax.set_title(f"{target} target" + (" (control: exact low-rank Δ)" if target == "linear" else ""),
                     fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    seeds = int(rows["seed"].nunique())
    note = (f"Points: mean over {seeds} seeds (task and initialisation); bars: 95% t-CI. "
            "Fit: full-batch Adam at a constant rate until the train objective gains < tol from step t/2 to t. "
            f"Values below {FLOOR:g} are drawn at {FLOOR:g} (solved).")
    bad = rows[~rows["converged"].astype(bool)]
    if len(bad):
        note += (f" Not converged: {len(bad)} of {len(rows)} fits ("
                 + ", ".join(sorted({f'{t}/{v} r{r}' for t, v, r in zip(bad['target'], bad['variant'], bad['rank'])}))
                 + ").")
    fig.text(0.01, 0.01, note, fontsize=7, wrap=True)
    fig.tight_layout(rect=(0, 0.07 if len(bad) else 0.04, 1, 1))
    return fig


__all__ = ["COLUMNS", "load_linear_optimum", "load_mechanism", "mechanism_cells", "mechanism_figure",
           "mechanism_table", "paired_difference"]
