"""Regenerate every artifact into <outputs>/figures, <outputs>/tables, results.csv and report.md.

Each artifact is built on its own: one that fails (e.g. no runs of its kind yet) is recorded in
the report and the others are still written. Never trains or evaluates anything.
"""

from __future__ import annotations

import traceback
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from analysis import figures, tables
from analysis.bench_claims import bench_claims, choose_bench, describe
from analysis.cells import mixed_cells
from analysis.claims import COLUMNS, control_banner, mechanism_claims, tier_claims
from analysis.load import dedupe, load_curves, load_runs, load_spectra, select_setting
from analysis.mechanism import load_linear_optimum, load_mechanism, mechanism_figure, mechanism_table
from analysis.protocols import side_by_side
from analysis.spec import load_claims


def _mechanism(outputs: Path, problems: list[str]) -> pd.DataFrame:
    """analysis.mechanism's fits; an unreadable mechanism.json is a problem line and an empty frame."""
    try:
        return load_mechanism(outputs)
    except Exception as exc:  # noqa: BLE001 - a broken mechanism output is a gap, not a crash
        problems.append(f"mechanism: could not be read ({type(exc).__name__}: {exc})")
        return pd.DataFrame()


def tiers(runs: pd.DataFrame) -> list[tuple[str, pd.DataFrame, list[str]]]:
    """(name, runs, selection notes) per model (and protocol, when runs name another than 'paper')."""
    out = []
    if runs.empty:
        return out
    protocols = sorted(runs["protocol"].fillna("paper").unique()) if "protocol" in runs else ["paper"]
    for protocol in protocols:
        sub = runs[runs["protocol"].fillna("paper") == protocol] if "protocol" in runs else runs
        for model in sorted(sub["model"].dropna().unique()):
            chosen, notes = select_setting(sub, model)
            name = f"model {model}" + ("" if protocols == ["paper"] else f", protocol {protocol}")
            out.append((name, chosen, [n for n in notes if "other models" not in n]))
    return out


def write_claims(sections: list[tuple], banner: list[str], out_dir: Path) -> list[Path]:
    """tables/claims.md (banner, then one table per tier, the protocols side by side, the mechanism and §4.5)
    and claims.tex; a section is (title, frame) or (title, frame, a sentence printed above the table)."""
    md = ["# Paper claims vs our measurements", ""]
    md += [f"> {line}" for line in banner] + ([""] if banner else [])
    md += ["Verdicts, MDE and the declaration: analysis/README.md (claims as data: analysis/claims.yaml). "
           "MDE: minimum detectable effect of the comparison at 80% power, 5% two-sided; "
           "'underpowered' = MDE larger than the paper's effect.", ""]
    tex = ["% Paper claims vs our measurements; requires \\usepackage{booktabs}"]
    for title, frame, *note in sections:
        columns = COLUMNS if not note else list(frame.columns)
        shown = frame.reindex(columns=[c for c in columns if c in frame]) if len(frame) else frame
        md += [f"## {title}", ""] + ([f"**{note[0]}**", ""] if note else [])
        md += [shown.to_markdown(index=False) if len(shown) else "(no claims)", ""]
        tex += [f"% {title}"] + [f"% {n}" for n in note] + [shown.to_latex(index=False, escape=True) if len(shown) else ""]
    (out_dir / "claims.md").write_text("\n".join(md), encoding="utf-8")
    (out_dir / "claims.tex").write_text("\n".join(tex), encoding="utf-8")
    return [out_dir / "claims.md", out_dir / "claims.tex"]


def build_all(outputs: str | Path, model: str | None = None) -> dict:
    outputs = Path(outputs)
    fig_dir, tab_dir = outputs / "figures", outputs / "tables"
    fig_dir.mkdir(parents=True, exist_ok=True)
    tab_dir.mkdir(parents=True, exist_ok=True)
    every_dir = load_runs(outputs, keep_duplicates=True)
    all_runs, duplicates = dedupe(every_dir)
    every_dir.assign(counted=every_dir.index.isin(all_runs.index)) \
        .drop(columns=["run_dir", "cell_config"], errors="ignore").to_csv(outputs / "results.csv", index=False)
    protocol = all_runs["protocol"].fillna("paper") if "protocol" in all_runs else pd.Series(dtype=str)
    others = sorted(set(protocol) - {"paper"})
    paper_runs = all_runs[protocol == "paper"] if others and (protocol == "paper").any() else all_runs
    runs, notes = select_setting(paper_runs, model)  # figures and Tables 1-3: one protocol, the paper's if run
    if len(paper_runs) < len(all_runs):
        notes.append(f"{len(all_runs) - len(paper_runs)} runs of protocol {', '.join(others)} are judged in "
                     "tables/claims.md (their own tier, and side by side); the figures and Tables 1-3 show protocol paper")
    name = model or (runs["model"].iloc[0] if len(runs) else "")
    curves, spectra = load_curves(runs), load_spectra(runs)
    bench, bench_file = choose_bench(outputs)
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
        figure("bench_overhead", lambda: figures.fig_bench(bench))  # the same record as the §4.5 claims
    else:
        problems.append("bench_overhead: no outputs/bench/*.json (run `make bench`)")
    mechanism = _mechanism(outputs, problems)
    if len(mechanism):
        figure("mechanism", lambda: mechanism_figure(mechanism, load_linear_optimum(outputs)))
        table("mechanism", "Mechanism (one frozen layer): held-out residual ‖ŷ − y‖²/‖Δ‖², mean [95% CI] "
              "over seeds (python -m cera.mechanism)",
              lambda: mechanism_table(mechanism, load_linear_optimum(outputs)))
    elif not any(p.startswith("mechanism:") for p in problems):
        problems.append("mechanism: no outputs/mechanism/mechanism.json (run `make mechanism`)")
    table("table1_downstream", f"Table 1 — exact match (%) with 95% CI, model {name}", lambda: tables.table1(runs))
    table("table2_case_study", f"Table 2 — logistic-map case study (greedy), model {name}", lambda: tables.table2(runs))
    table("table3_ablation", f"Table 3 — ablation at 1/4 of the top rank (paper: r128), test PPL with 95% CI, model {name}",
          lambda: tables.table3(runs))
    # cells whose runs differ in a config key the cell does not name: shown as 'mixed configs', never pooled
    mixed = [f"{tier}: {line}" for tier, tier_runs, _ in tiers(all_runs) for line in mixed_cells(tier_runs)]
    banner: list[str] = []
    try:
        declared = load_claims()
        sections = [(f"{tier} ({len(tier_runs)} runs)", tier_claims(tier_runs, declared))
                    for tier, tier_runs, _ in tiers(all_runs)] or [("no runs", tier_claims(all_runs, declared))]
        banner = control_banner(dict(sections))
        sections += side_by_side(all_runs, declared)
        mech = ("Mechanism: the linear ceiling on a frozen layer (analysis.mechanism)", mechanism_claims(mechanism, declared))
        sections.append(mech)
        banner += control_banner(dict([mech]))
        sections.append(("§4.5 efficiency (" + (describe(bench, bench_file) if bench else "no benchmark") + ")",
                         bench_claims(bench, bench_file)))
        written.extend(write_claims(sections, mixed + banner, tab_dir))
    except Exception as exc:  # noqa: BLE001
        problems.append(f"claims: could not be built ({type(exc).__name__}: {exc})")
        traceback.print_exc()
    report = _report(all_runs, notes, problems, banner, duplicates, mixed)
    (outputs / "report.md").write_text(report)
    written.append(outputs / "report.md")
    return {"written": [str(p) for p in written], "problems": problems, "runs": len(all_runs), "mixed": mixed}


def _report(runs, notes: list[str], problems: list[str], banner: list[str] = (), duplicates: list[str] = (),
            mixed: list[str] = ()) -> str:
    lines = ["# Analysis report", ""] + [f"> {b}" for b in banner] + ([""] if banner else [])
    lines += [f"{len(runs)} runs counted."]
    if len(runs):
        counts = runs["state"].value_counts().to_dict()
        lines.append("States: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) + ".")
        bad = runs[runs["state"] != "done"]
        if len(bad):
            lines += ["", "## Runs that are not done (gaps in the artifacts)", ""]
            lines += [f"- `{r.run}`: {r.state}" + (f" — {r.error}" if r.error else "") for r in bad.itertuples()]
    if duplicates:
        lines += ["", "## Duplicate run directories (one kept per config and seed: done, then newest, then name)",
                  ""] + [f"- {d}" for d in duplicates]
    if mixed:
        lines += ["", "## Cells of mixed configs (not pooled: their tables and claims read 'mixed configs')", ""]
        lines += [f"- {m}" for m in mixed]
    if notes:
        lines += ["", "## Selection", ""] + [f"- {n}" for n in notes]
    if problems:
        lines += ["", "## Artifacts with problems", ""] + [f"- {p}" for p in problems]
    lines += ["", "Cells with no finished run appear as '—' in tables and are named under each figure; cells "
              "whose runs differ in config read 'mixed configs (<keys>)' and are never pooled."]
    return "\n".join(lines) + "\n"
