"""Figures 1–4 and the §4.5 benchmark figure: one function each, drawing onto a new Figure.

Every point is a cell mean with a 95% CI error bar (analysis.cells); a cell without a finished run
is left out and named in the figure's footnote, so a gap is visible rather than interpolated.
"""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from analysis import paper  # noqa: E402
from analysis.cells import cell_stats, mixed_marker, one_config, without_checks  # noqa: E402
from analysis.load import INSTRUCT_DATA, MATH_DATA  # noqa: E402
from cera.eval.stats import across_seeds  # noqa: E402

COLORS = {"lora": "tab:blue", "cera": "tab:red", "dora": "tab:green", "pera": "tab:purple"}
LABELS = {"lora": "LoRA", "cera": "CeRA", "dora": "DoRA", "pera": "PERA"}


def _err(stats: list[dict]) -> np.ndarray:
    """Asymmetric error bars; 0 where a cell has no CI (1 seed without bootstrap data)."""
    lower = [max(0.0, s["value"] - s["lo"]) if not math.isnan(s["lo"]) else 0 for s in stats]
    upper = [max(0.0, s["hi"] - s["value"]) if not math.isnan(s["hi"]) else 0 for s in stats]
    return np.array([lower, upper])


def _vs_rank(ax, runs: pd.DataFrame, metric: str, methods=("lora", "cera"), gaps: list | None = None) -> None:
    ranks = sorted({int(r) for r in runs["rank"].dropna()})
    for method in methods:
        stats = [cell_stats(runs, metric, variant=method, rank=r, dropout=0.1) for r in ranks]
        have = [(r, s) for r, s in zip(ranks, stats) if not math.isnan(s["value"])]
        if gaps is not None:
            gaps += [f"{LABELS[method]} r{r}" + (f" ({mixed_marker(s['mixed'])})" if s.get("mixed") else "")
                     for r, s in zip(ranks, stats) if math.isnan(s["value"])]
        if have:
            xs, ss = zip(*have)
            ax.errorbar(xs, [s["value"] for s in ss], yerr=_err(list(ss)), marker="o", capsize=3,
                        color=COLORS[method], label=f"{LABELS[method]} (ours)")
    ax.set_xscale("log", base=2)
    if ranks:
        ax.set_xticks(ranks, [_tick(runs, r) for r in ranks])
    ax.set_xlabel("rank r (log scale; paper's Llama-3-8B rank below)" if _has_paper_rank(runs) else "rank r (log scale)")
    ax.grid(alpha=0.3)


def _has_paper_rank(runs: pd.DataFrame) -> bool:
    return "paper_rank" in runs and runs["paper_rank"].notna().any()


def _tick(runs: pd.DataFrame, rank: int) -> str:
    """'16' or '16\n(p512)': the actual rank and the paper rank it stands for."""
    if not _has_paper_rank(runs):
        return str(rank)
    paper_ranks = sorted({int(p) for p in runs.loc[runs["rank"] == rank, "paper_rank"].dropna()})
    return f"{rank}\n(p{'/'.join(map(str, paper_ranks))})" if paper_ranks else str(rank)


def _legend(ax, size: int) -> None:
    if ax.get_legend_handles_labels()[0]:  # an empty panel (no finished run) gets no empty legend
        ax.legend(fontsize=size)


def _footnote(fig, gaps: list[str], model: str) -> None:
    text = f"model: {model}. Points: mean over seeds, bars: 95% CI."
    if gaps:
        text += " No finished run, or runs of different configs not pooled (gap): " + ", ".join(sorted(set(gaps)))
    fig.text(0.01, 0.01, text, fontsize=7, wrap=True)


def fig1(runs: pd.DataFrame, model: str = "") -> plt.Figure:
    """Test PPL (left) and AUC-90 (right) vs rank, LoRA vs CeRA, instruction data."""
    inst = runs[runs["data"].isin(INSTRUCT_DATA)]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2))
    gaps: list[str] = []
    _vs_rank(left, inst, "test_ppl", gaps=gaps)
    left.axhline(paper.FIG1["lora_plateau"], ls="--", color="gray", lw=1,
                 label=f"paper: LoRA plateau {paper.FIG1['lora_plateau']} (Llama-3-8B)")
    left.set_ylabel("test perplexity (lower is better)")
    left.set_title("Fig 1 (left): test PPL vs rank")
    _legend(left, 8)
    _vs_rank(right, inst, "auc90")
    right.set_ylabel("AUC-90 of the adapter output spectrum\n(singular values to 90% energy)")
    right.set_title("Fig 1 (right): AUC-90 vs rank")
    _legend(right, 8)
    _footnote(fig, gaps, model)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


def fig2(runs: pd.DataFrame, curves: pd.DataFrame, model: str = "") -> plt.Figure:
    """Validation PPL during training at lr 1e-4 and 5e-4: LoRA and CeRA across latent dropouts, at the
    rank the lr sweep ran at (the paper's r64: 1/8 of the grid's top rank)."""
    inst = runs[runs["data"].isin(INSTRUCT_DATA)]
    swept = inst[np.isclose(inst["lr"].astype(float), 1e-4) | np.isclose(inst["lr"].astype(float), 5e-4)] \
        if len(inst) else inst
    rank = int(swept["rank"].value_counts().idxmax()) if len(swept) else None
    inst = inst[(inst["rank"] == rank) & (inst["state"] == "done")]
    arms = [("lora", 0.1, "LoRA (p=0.1)", "tab:blue", "-")] + [
        ("cera", p, f"CeRA p={p:g}", plt.cm.Reds(0.4 + p * 1.8), "-") for p in (0.0, 0.1, 0.2, 0.3)]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), sharey=True)
    gaps: list[str] = []
    for ax, lr in zip(axes, (1e-4, 5e-4)):
        for variant, p, label, color, style in arms:
            sel, mixed = one_config(without_checks(
                inst[(inst["variant"] == variant) & np.isclose(inst["dropout"], p) & np.isclose(inst["lr"], lr)]))
            pts = curves[curves["run"].isin(sel["run"])]
            if pts.empty:
                gaps.append(f"{label} lr={lr:g}" + (f" ({mixed_marker(mixed)})" if mixed else ""))
                continue
            agg = pts.groupby("step")["val_ppl"].apply(list)
            stats = [across_seeds(v) for v in agg]
            mean = np.array([s[0] for s in stats])
            ax.plot(agg.index, mean, style, color=color, label=f"{label} (n={len(sel)})")
            lo, hi = np.array([s[1] for s in stats]), np.array([s[2] for s in stats])
            if not np.isnan(lo).all():
                ax.fill_between(agg.index, lo, hi, color=color, alpha=0.15)
        ax.set_yscale("log")
        ax.set_xlabel("optimizer step")
        ax.set_title(f"Fig 2: lr = {lr:g}" + (f", r{rank}" if rank else ""))
        ax.grid(alpha=0.3, which="both")
        _legend(ax, 7)
    axes[0].set_ylabel("validation perplexity (log scale)")
    _footnote(fig, gaps, model + " — bands: 95% CI over seeds")
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


def _spectra_panel(ax, runs: pd.DataFrame, spectra: pd.DataFrame) -> None:
    top = runs["rank"].max()
    for method in ("lora", "cera"):
        sel, _ = one_config(without_checks(runs[(runs["variant"] == method) & (runs["rank"] == top)
                                                & (runs["dropout"] == 0.1)]))  # mixed: a gap, named by _vs_rank
        sel = sel[sel["state"] == "done"]
        pts = spectra[spectra["run"].isin(sel["run"])]
        if pts.empty:
            continue
        # layers differ in width (v_proj 64 vs q_proj 128 on the tiny model): average only the
        # indices every layer has, or the mean jumps where the narrow layers end
        common = pts.groupby(["run", "layer"])["index"].max().min()
        curve = pts[pts["index"] <= common].groupby("index")["sv"].mean()
        ax.plot(curve.index, curve.values, color=COLORS[method], label=f"{LABELS[method]} r{_tick(runs, int(top)).replace(chr(10), ' ')}")
    ax.set_yscale("log")
    ax.set_xlabel("singular value index")
    ax.set_ylabel("σ_i / σ_1 (mean over layers and seeds;\nindices all layers have)")
    ax.grid(alpha=0.3, which="both")
    _legend(ax, 8)


def _spectral_figure(runs, spectra, data: set, title: str, model: str, with_auc: bool) -> plt.Figure:
    sub = runs[runs["data"].isin(data)]
    n = 3 if with_auc else 2
    fig, axes = plt.subplots(1, n, figsize=(5 * n, 4.2))
    _spectra_panel(axes[0], sub, spectra)
    axes[0].set_title(f"{title}: adapter output spectrum")
    gaps: list[str] = []
    _vs_rank(axes[1], sub, "effective_rank", gaps=gaps)
    axes[1].set_ylabel("effective rank (exp entropy of normalised σ)")
    axes[1].set_title(f"{title}: effective rank vs rank")
    _legend(axes[1], 8)
    if with_auc:
        _vs_rank(axes[2], sub, "auc90")
        axes[2].set_ylabel("AUC-90 (singular values to 90% energy)")
        axes[2].set_title(f"{title}: AUC-90 vs rank")
        _legend(axes[2], 8)
    _footnote(fig, gaps, model + f" — paper (Llama-3-8B, r=512): ER LoRA ≈ {paper.FIG3['lora_er_r512']}, "
              f"CeRA > {paper.FIG3['cera_er_r512']}")
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def fig3(runs: pd.DataFrame, spectra: pd.DataFrame, model: str = "") -> plt.Figure:
    return _spectral_figure(runs, spectra, INSTRUCT_DATA, "Fig 3 (instruction data)", model, with_auc=False)


def fig4(runs: pd.DataFrame, spectra: pd.DataFrame, model: str = "") -> plt.Figure:
    return _spectral_figure(runs, spectra, MATH_DATA, "Fig 4 (math data)", model, with_auc=True)


def fig_bench(bench: dict) -> plt.Figure:
    """§4.5: CeRA and DoRA cost relative to unmerged LoRA at the same rank (median, IQR bars)."""
    rows = [r for r in bench.get("rows", []) if not r.get("merged") and r.get("method") in ("cera", "dora")]
    workloads = [("train_step", "training step"), ("prefill", "prefill"), ("decode", "decode (per token)")]
    fig, axes = plt.subplots(1, 3, figsize=(12, 4), sharey=True)
    for ax, (key, title) in zip(axes, workloads):
        ranks = sorted({r["rank"] for r in rows})
        width = 0.38
        for i, method in enumerate(("cera", "dora")):
            meds, errs = [], [[], []]
            for rank in ranks:
                ratio = next((r["ratios"].get(key) for r in rows if r["method"] == method and r["rank"] == rank), None)
                m = ratio["median"] if ratio else math.nan
                meds.append(m)
                errs[0].append(m - ratio["q1"] if ratio else 0)
                errs[1].append(ratio["q3"] - m if ratio else 0)
            ax.bar(np.arange(len(ranks)) + (i - 0.5) * width, meds, width, yerr=errs, capsize=3,
                   color=COLORS[method], label=f"{LABELS[method]} / LoRA (ours)")
        ax.axhline(1.0, color="black", lw=0.8)
        if key != "train_step":
            ax.axhline(paper.BENCH["latency_overhead"], ls="--", color="gray", lw=1,
                       label="paper: CeRA 1.06× (Llama-3-8B)")
        ax.set_xticks(np.arange(len(ranks)), [f"r={r}" for r in ranks])
        ax.set_title(title)
        ax.grid(alpha=0.3, axis="y")
    axes[0].set_ylabel("time relative to unmerged LoRA, same rank (×)")
    _legend(axes[-1], 8)
    settings = bench.get("settings", {})
    fig.text(0.01, 0.01, f"§4.5 benchmark: {settings.get('model', '')} on "
             f"{settings.get('device', '')}; bars: median of paired per-round ratios, error bars: q1–q3.",
             fontsize=7)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig
