"""Regenerate every artifact into <outputs>/figures, <outputs>/tables, results.csv and report.md.

Each artifact is built on its own: one that fails (e.g. no runs of its kind yet) is recorded in
the report and the others are still written. Never trains or evaluates anything.
"""

from __future__ import annotations

import json
import traceback
from pathlib import Path

import matplotlib.pyplot as plt

from analysis import figures, tables
from analysis.claims import claims
from analysis.load import load_curves, load_runs, load_spectra, select_setting


def _bench(outputs: Path) -> dict | None:
    files = sorted((outputs / "bench").glob("*.json"), key=lambda p: p.stat().st_mtime)
    return json.loads(files[-1].read_text()) if files else None


def build_all(outputs: str | Path, model: str | None = None) -> dict:
    outputs = Path(outputs)
    fig_dir, tab_dir = outputs / "figures", outputs / "tables"
    fig_dir.mkdir(parents=True, exist_ok=True)
    tab_dir.mkdir(parents=True, exist_ok=True)
    all_runs = load_runs(outputs)
    all_runs.drop(columns=["run_dir"], errors="ignore").to_csv(outputs / "results.csv", index=False)
    runs, notes = select_setting(all_runs, model)
    name = model or (runs["model"].iloc[0] if len(runs) else "")
    curves, spectra, bench = load_curves(runs), load_spectra(runs), _bench(outputs)
    written, problems = [outputs / "results.csv"], []

    def figure(fname, make):
        try:
            fig = make()
            for ext in ("png", "pdf"):
                fig.savefig(fig_dir / f"{fname}.{ext}", dpi=150)
                written.append(fig_dir / f"{fname}.{ext}")
            plt.close(fig)
        except Exception as exc:  # noqa: BLE001 - one broken artifact must not hide the others
            problems.append(f"{fname}: could not be drawn ({type(exc).__name__}: {exc})")
            traceback.print_exc()

    def table(fname, caption, make):
        try:
            written.extend(tables.write_table(make(), tab_dir, fname, caption))
        except Exception as exc:  # noqa: BLE001
            problems.append(f"{fname}: could not be built ({type(exc).__name__}: {exc})")
            traceback.print_exc()

    figure("fig1_scaling_law", lambda: figures.fig1(runs, name))
    figure("fig2_lr_robustness", lambda: figures.fig2(runs, curves, name))
    figure("fig3_spectra_instruct", lambda: figures.fig3(runs, spectra, name))
    figure("fig4_spectra_math", lambda: figures.fig4(runs, spectra, name))
    if bench:
        figure("bench_overhead", lambda: figures.fig_bench(bench))
    else:
        problems.append("bench_overhead: no outputs/bench/*.json (run `make bench`)")
    table("table1_downstream", f"Table 1 — exact match (%) with 95% CI, model {name}", lambda: tables.table1(runs))
    table("table2_case_study", f"Table 2 — logistic-map case study (greedy), model {name}", lambda: tables.table2(runs))
    table("table3_ablation", f"Table 3 — ablation at r=128, test PPL with 95% CI, model {name}",
          lambda: tables.table3(runs))
    table("claims", f"Paper claims vs our measurements (model {name}); verdicts compare 95% CIs "
          "(PPL claims: paired per-sequence bootstrap over seed-matched runs on the same test sequences)",
          lambda: claims(runs, bench))
    report = _report(all_runs, notes, problems)
    (outputs / "report.md").write_text(report)
    written.append(outputs / "report.md")
    return {"written": [str(p) for p in written], "problems": problems, "runs": len(all_runs)}


def _report(runs, notes: list[str], problems: list[str]) -> str:
    lines = ["# Analysis report", "", f"{len(runs)} run directories read."]
    if len(runs):
        counts = runs["state"].value_counts().to_dict()
        lines.append("States: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) + ".")
        bad = runs[runs["state"] != "done"]
        if len(bad):
            lines += ["", "## Runs that are not done (gaps in the artifacts)", ""]
            lines += [f"- `{r.run}`: {r.state}" + (f" — {r.error}" if r.error else "") for r in bad.itertuples()]
    if notes:
        lines += ["", "## Selection", ""] + [f"- {n}" for n in notes]
    if problems:
        lines += ["", "## Artifacts with problems", ""] + [f"- {p}" for p in problems]
    lines += ["", "Cells with no finished run appear as '—' in tables and are named under each figure."]
    return "\n".join(lines) + "\n"
