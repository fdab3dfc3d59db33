"""Tables 1–3: one function each, returning a DataFrame of display strings (ours with CI, paper beside)."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from analysis import paper
from analysis.cells import cell_stats, fmt
from analysis.load import INSTRUCT_DATA, MATH_DATA

TABLE1_ROWS = [("lora", 64), ("lora", 128), ("lora", 512), ("dora", 64), ("dora", 128), ("cera", 64)]
TABLE3_ROWS = [("cera", 0.1), ("parallel", 0.1), ("cera_identity", 0.1), ("cera_relu", 0.1), ("cera", 0.0)]


def _paper(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f}"


def table1(runs: pd.DataFrame) -> pd.DataFrame:
    """Exact match (%) on the math-trained runs: MATH(-like) pass@1 / pass@10, GSM8K(-like) pass@1."""
    rows = []
    math_runs = runs[runs["data"].isin(MATH_DATA)]
    for method, rank in TABLE1_ROWS:
        where = dict(variant=method, rank=rank)
        ref = paper.TABLE1.get((method, rank), (None,) * 3)
        params = cell_stats(math_runs, "trainable_params", **where)["value"]
        rows.append({
            "method": f"{method} r{rank}",
            "params": "—" if math.isnan(params) else f"{int(params):,}",
            "MATH pass@1": fmt(cell_stats(math_runs, "math pass@1_greedy", **where), 1, 100),
            "MATH pass@10": fmt(cell_stats(math_runs, "math pass@10", **where), 1, 100),
            "GSM8K pass@1": fmt(cell_stats(math_runs, "gsm8k pass@1_greedy", **where), 1, 100),
            "paper MATH@1 / @10 / GSM8K": " / ".join(_paper(v) for v in ref),
            "seeds": cell_stats(math_runs, "test_ppl", **where)["n"],
        })
    return pd.DataFrame(rows)


def table2(runs: pd.DataFrame) -> pd.DataFrame:
    """Logistic-map case study (greedy): state-collapse rate and mean abs error, LoRA r512 vs CeRA r128."""
    math_runs = runs[runs["data"].isin(MATH_DATA)]
    rows = []
    for method, rank in [("lora", 512), ("cera", 128)]:
        where = dict(variant=method, rank=rank)
        rows.append({"method": f"{method} r{rank}",
                     "state-collapse rate": fmt(cell_stats(math_runs, "collapse_rate", **where), 3, clip=(0, 1)),
                     "mean abs error per step": fmt(cell_stats(math_runs, "collapse_abs_error", **where), 3),
                     "seeds": cell_stats(math_runs, "collapse_rate", **where)["n"]})
    return pd.DataFrame(rows)


def table3(runs: pd.DataFrame) -> pd.DataFrame:
    """Ablation at r=128 on instruction data: test PPL per arm, paper value beside."""
    inst = runs[runs["data"].isin(INSTRUCT_DATA)]
    rows = []
    for variant, dropout in TABLE3_ROWS:
        key = "cera_no_dropout" if (variant, dropout) == ("cera", 0.0) else variant
        stats = cell_stats(inst, "test_ppl", variant=variant, rank=128, dropout=dropout)
        rows.append({"variant": paper.TABLE3_LABELS[key], "test PPL": fmt(stats, 3),
                     "paper PPL": f"{paper.TABLE3[key]:.2f}", "seeds": stats["n"]})
    return pd.DataFrame(rows)


def write_table(frame: pd.DataFrame, out_dir: Path, name: str, caption: str) -> list[Path]:
    """Markdown and LaTeX (booktabs rules) versions of one table."""
    out_dir.mkdir(parents=True, exist_ok=True)
    md, tex = out_dir / f"{name}.md", out_dir / f"{name}.tex"
    md.write_text(f"{caption}\n\n{frame.to_markdown(index=False)}\n")
    body = frame.to_latex(index=False, escape=True)  # pandas writes \toprule / \midrule / \bottomrule
    tex.write_text(f"% {caption}\n% requires \\usepackage{{booktabs}}\n{body}")
    return [md, tex]
