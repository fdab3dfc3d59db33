"""Tables 1–3: one function each, returning a DataFrame of display strings (ours with CI, paper beside)."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from analysis import paper
from analysis.cells import cell_stats, fmt, mixed_marker
from analysis.load import INSTRUCT_DATA, MATH_DATA, rank_label
from analysis.spec import resolve_rank

# Rows as (variant, rank spec, the paper's rank on Llama-3-8B): ranks relative to the grid's top rank,
# so the same table reads any backbone (spec: analysis/spec.py).
TABLE1_ROWS = [("lora", "top/8", 64), ("lora", "top/4", 128), ("lora", "top", 512), ("dora", "top/8", 64),
               ("dora", "top/4", 128), ("cera", "top/8", 64)]
TABLE3_ROWS = [("cera", 0.1), ("parallel", 0.1), ("cera_identity", 0.1), ("cera_relu", 0.1), ("cera", 0.0)]


def _grid(runs: pd.DataFrame) -> list[int]:
    return sorted({int(r) for r in runs["rank"].dropna()}) if len(runs) else []


def _label(runs: pd.DataFrame, variant: str, rank: int | None, spec: str) -> str:
    """'lora r16 (paper 512)': the actual rank and, when the runs were asked for one, the paper rank."""
    if rank is None:
        return f"{variant} {spec} (not in grid)"
    paper_ranks = set(runs.loc[(runs["variant"] == variant) & (runs["rank"] == rank), "paper_rank"].dropna()) \
        if "paper_rank" in runs else set()
    return f"{variant} {rank_label(rank, paper_ranks.pop() if len(paper_ranks) == 1 else math.nan)}"


def _seeds(stats: dict):
    """The seeds behind a cell, or its mixed-configs marker (never a count of pooled configs)."""
    return mixed_marker(stats["mixed"]) if stats.get("mixed") else stats["n"]


def _paper(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f}"


def table1(runs: pd.DataFrame) -> pd.DataFrame:
    """Exact match (%) on the math-trained runs: MATH(-like) pass@1 / pass@10, GSM8K(-like) pass@1."""
    rows = []
    math_runs = runs[runs["data"].isin(MATH_DATA)]
    grid = _grid(math_runs)
    for method, spec, paper_rank in TABLE1_ROWS:
        rank = resolve_rank(spec, grid)[0]
        where = dict(variant=method, rank=rank)
        ref = paper.TABLE1.get((method, paper_rank), (None,) * 3)
        params = cell_stats(math_runs, "trainable_params", **where)["value"]
        rows.append({
            "method": _label(math_runs, method, rank, spec),
            "params": "—" if math.isnan(params) else f"{int(params):,}",
            "MATH pass@1": fmt(cell_stats(math_runs, "math pass@1_greedy", **where), 1, 100),
            "MATH pass@10": fmt(cell_stats(math_runs, "math pass@10", **where), 1, 100),
            "GSM8K pass@1": fmt(cell_stats(math_runs, "gsm8k pass@1_greedy", **where), 1, 100),
            "problems": _problems(math_runs, where),
            "paper MATH@1 / @10 / GSM8K": " / ".join(_paper(v) for v in ref),
            "seeds": _seeds(cell_stats(math_runs, "test_ppl", **where)),
        })
    return pd.DataFrame(rows)


def _problems(runs: pd.DataFrame, where: dict) -> str:
    """Problems per run behind the MATH / GSM8K columns (a CI's width depends on it)."""
    rows = runs[(runs["variant"] == where["variant"]) & (runs["rank"] == where["rank"])]
    counts = [f"{int(rows[c].max())}" for c in ("math problems", "gsm8k problems") if c in rows and rows[c].notna().any()]
    return " / ".join(counts) or "—"


def table2(runs: pd.DataFrame) -> pd.DataFrame:
    """Logistic-map case study (greedy): state-collapse rate and mean abs error, LoRA at the top rank vs
    CeRA at 1/4 of it (the paper's r512 vs r128)."""
    math_runs = runs[runs["data"].isin(MATH_DATA)]
    grid = _grid(math_runs)
    rows = []
    for method, spec in [("lora", "top"), ("cera", "top/4")]:
        rank = resolve_rank(spec, grid)[0]
        where = dict(variant=method, rank=rank)
        rows.append({"method": _label(math_runs, method, rank, spec),
                     "state-collapse rate": fmt(cell_stats(math_runs, "collapse_rate", **where), 3, clip=(0, 1)),
                     "mean abs error per step": fmt(cell_stats(math_runs, "collapse_abs_error", **where), 3),
                     "seeds": _seeds(cell_stats(math_runs, "collapse_rate", **where))})
    return pd.DataFrame(rows)


def table3(runs: pd.DataFrame) -> pd.DataFrame:
    """Ablation at 1/4 of the grid's top rank (the paper's r128) on instruction data: test PPL per arm."""
    inst = runs[runs["data"].isin(INSTRUCT_DATA)]
    rank = resolve_rank("top/4", _grid(inst[inst["variant"].isin(["lora", "cera"])]))[0]
    rows = []
    for variant, dropout in TABLE3_ROWS:
        key = "cera_no_dropout" if (variant, dropout) == ("cera", 0.0) else variant
        stats = cell_stats(inst, "test_ppl", variant=variant, rank=rank, dropout=dropout)
        rows.append({"variant": paper.TABLE3_LABELS[key], "rank": _label(inst, variant, rank, "top/4"),
                     "test PPL": fmt(stats, 3),
                     "paper PPL": f"{paper.TABLE3[key]:.2f}", "seeds": _seeds(stats)})
    return pd.DataFrame(rows)


def write_table(frame: pd.DataFrame, out_dir: Path, name: str, caption: str) -> list[Path]:
    """Markdown and LaTeX (booktabs rules) versions of one table."""
    out_dir.mkdir(parents=True, exist_ok=True)
    md, tex = out_dir / f"{name}.md", out_dir / f"{name}.tex"
    md.write_text(f"{caption}\n\n{frame.to_markdown(index=False)}\n")
    body = frame.to_latex(index=False, escape=True)  # pandas writes \toprule / \midrule / \bottomrule
    tex.write_text(f"% {caption}\n% requires \\usepackage{{booktabs}}\n{body}")
    return [md, tex]
