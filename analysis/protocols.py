"""The headline claims under both protocols, side by side (conf/protocol/: paper | authors_code).

The paper's text and the authors' public code differ (branch scale, inits, baselines, learning rates,
evaluation, spectra; README "Paper text versus the authors' code"). For every model whose outputs hold runs
of more than one protocol, each headline claim (`headline: true` in claims.yaml) is judged on each protocol's
runs, and a sentence says — computed from the verdicts, never written by hand — whether a verdict depends on
the protocol. A verdict's category is its first clause (reproduced / not reproduced / inside noise / not
run / not judged / no plateau call); a claim not run (or not judged: mixed configs) under one protocol cannot
be compared and is counted as such.
"""

from __future__ import annotations

import pandas as pd

from analysis.claims import tier_claims
from analysis.load import select_setting
from analysis.spec import Claim

CATEGORIES = ("not reproduced", "reproduced", "inside noise", "not run", "not judged", "no plateau call")


def category(verdict: str) -> str:
    """The verdict's category: its leading clause ('inside noise, underpowered …' → 'inside noise')."""
    text = str(verdict)
    return next((c for c in CATEGORIES if text.startswith(c)), text.split(" (")[0].split(",")[0])


def _protocols(runs: pd.DataFrame) -> pd.Series:
    return runs["protocol"].fillna("paper") if "protocol" in runs else pd.Series("paper", index=runs.index)


def side_by_side(runs: pd.DataFrame, claims: list[Claim]) -> list[tuple[str, pd.DataFrame, str]]:
    """[(title, table, sentence)] for every model with runs of two or more protocols."""
    headline = [c for c in claims if c.headline and c.source == "runs"]
    if runs.empty or not headline:
        return []
    protocol = _protocols(runs)
    out = []
    for model in sorted(runs["model"].dropna().unique()):
        names = sorted(protocol[runs["model"] == model].unique(), key=lambda p: (p != "paper", p))
        if len(names) < 2:
            continue
        judged = {}
        for name in names:
            chosen, _ = select_setting(runs[(protocol == name) & (runs["model"] == model)], model)
            judged[name] = tier_claims(chosen, headline).set_index("id")
        rows = []
        for claim in headline:
            row = {"claim": f"{claim.artifact}: {claim.claim}"}
            for name in names:
                r = judged[name].loc[claim.id]
                row[f"ours, {name}"] = r["ours (95% CI)"]
                row[f"verdict, {name}"] = r["verdict"]
            row["depends on protocol"] = _depends([category(judged[n].loc[claim.id, "verdict"]) for n in names])
            rows.append(row)
        table = pd.DataFrame(rows)
        out.append((f"Headline claims under each protocol (model {model})", table, sentence(model, table)))
    return out


def _depends(categories: list[str]) -> str:
    if "not judged" in categories:  # a cell of runs of different configs (analysis.cells.one_config)
        return "cannot tell (mixed configs under " + ("every protocol" if set(categories) == {"not judged"} else "one") + ")"
    if "not run" in categories:
        return "cannot tell (not run under " + ("every protocol" if set(categories) == {"not run"} else "one") + ")"
    return "yes" if len(set(categories)) > 1 else "no"


def sentence(model: str, table: pd.DataFrame) -> str:
    """One sentence, from the table's last column, on whether any headline verdict depends on the protocol."""
    flags = table["depends on protocol"].tolist()
    judged = [f for f in flags if f in ("yes", "no")]
    untold = len(flags) - len(judged)
    why = "not run, or of mixed configs," if any(str(f).startswith("cannot tell (mixed") for f in flags) else "not run"
    tail = f"; {untold} of {len(flags)} could not be compared ({why} under every protocol)" if untold else ""
    if not judged:
        return f"On model {model} no headline claim was judged under every protocol{tail}."
    changed = table.loc[table["depends on protocol"] == "yes", "claim"].tolist()
    if changed:
        return (f"On model {model} the verdict depends on the protocol for {len(changed)} of the {len(judged)} "
                f"headline claims judged under every protocol ({'; '.join(changed)}){tail}.")
    one = len(judged) == 1
    return (f"On model {model} no verdict depends on the protocol: the {len(judged)} headline claim"
            f"{'' if one else 's'} judged under every protocol get{'s' if one else ''} the same verdict category{tail}.")
