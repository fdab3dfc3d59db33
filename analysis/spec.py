"""The claims declaration (analysis/claims.yaml) as validated dataclasses, and rank-relative cells.

A claim names its cells by rank *relative to the grid present* ("top", "lowest", "top/8") so the
same declaration reads the embedded backbone (paper ranks 16…512 → r1…16 through `paper_rank`), a
small pretrained model and Llama-3-8B (r16…512) without edits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import yaml

DECLARATION = Path(__file__).with_name("claims.yaml")

# How each metric is compared: "ratio" metrics (positive, multiplicative noise) on the log scale and
# shown as a relative difference; "diff" metrics (rates in [0, 1]) as a difference in points.
# percent: the paper quotes it in percent (pass@k); binomial: a per-problem proportion (MDE floor).
METRICS = {
    "test_ppl": {"scale": "ratio"},
    "effective_rank": {"scale": "ratio"},
    "auc90": {"scale": "ratio"},
    "residual_test": {"scale": "ratio"},
    "math pass@1_greedy": {"scale": "diff", "percent": True, "binomial": "math problems"},
    "math pass@10": {"scale": "diff", "percent": True, "binomial": "math problems"},
    "gsm8k pass@1_greedy": {"scale": "diff", "percent": True, "binomial": "gsm8k problems"},
    "collapse_rate": {"scale": "diff"},
}
SOURCES = ("runs", "mechanism")
DATA = ("instruct", "math")
RELATIONS = ("<", ">", "≈")
CELL_KEYS = {"variant", "rank", "dropout", "lr", "target"}
CLAIM_KEYS = {"id", "artifact", "claim", "source", "data", "metric", "relation", "cells", "paper", "margin", "control",
              "headline"}


class SpecError(ValueError):
    """A claims declaration that cannot be interpreted (names the claim and the bad value)."""


@dataclass(frozen=True)
class Cell:
    variant: str
    rank: str  # "top" | "lowest" | "top/N" | an absolute integer, as text
    dropout: float | None = None  # None: runs at the paper's 0.1; mechanism fits: as the variant defines it
    lr: str = "paper"  # "paper" | "paper/N" | an absolute value, as text
    target: str | None = None  # mechanism only: the fitted target (None: nonlinear)

    @property
    def relative_lr(self) -> bool:
        """The protocol's lr, or a fraction of it (not an absolute value)."""
        return self.lr == "paper" or self.lr.startswith("paper/")

    def lr_value(self, paper_lr: float) -> float:
        if self.lr == "paper":
            return paper_lr
        if self.lr.startswith("paper/"):
            return paper_lr / float(self.lr.split("/", 1)[1])
        return float(self.lr)


@dataclass(frozen=True)
class Claim:
    id: str
    artifact: str
    claim: str
    metric: str
    relation: str
    cells: tuple[Cell, ...]
    source: str = "runs"
    data: str | None = None
    paper: tuple[float, ...] | None = None
    margin: float | None = None
    control: bool = False
    headline: bool = False  # shown under every protocol side by side (analysis.protocols)
    scale: str = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "scale", METRICS.get(self.metric, {}).get("scale", "ratio"))

    @property
    def percent(self) -> bool:
        return bool(METRICS.get(self.metric, {}).get("percent"))

    def paper_effect(self, i: int = 0) -> float | None:
        """The paper's effect of pair (i, i+1) on the comparison scale (log ratio or difference, fraction)."""
        if not self.paper:
            return None
        a, b = self.paper[i], self.paper[i + 1]
        if self.scale == "ratio":
            return math.log(a / b)
        return (a - b) / (100 if self.percent else 1)


def _rank_text(value, where: str) -> str:
    text = str(value).strip()
    if text in ("top", "lowest") or text.isdigit() and int(text) > 0:
        return text
    if text.startswith("top/") and text[4:].isdigit() and int(text[4:]) > 0:
        return text
    raise SpecError(f"{where}: rank {value!r} is invalid: use top, lowest, top/N or a positive integer")


def _cell(raw, where: str) -> Cell:
    if not isinstance(raw, dict) or "variant" not in raw or "rank" not in raw:
        raise SpecError(f"{where}: a cell needs variant and rank, got {raw!r}")
    unknown = set(raw) - CELL_KEYS
    if unknown:
        raise SpecError(f"{where}: unknown cell key(s) {sorted(unknown)}; allowed: {sorted(CELL_KEYS)}")
    lr = str(raw.get("lr", "paper"))
    if not (lr == "paper" or lr.startswith("paper/") or _is_number(lr)):
        raise SpecError(f"{where}: lr {raw['lr']!r} is invalid: use paper, paper/N or a number")
    dropout = raw.get("dropout")
    return Cell(variant=str(raw["variant"]), rank=_rank_text(raw["rank"], where),
                dropout=None if dropout is None else float(dropout), lr=lr, target=raw.get("target"))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _claim(raw: dict) -> Claim:
    where = f"claim {raw.get('id', '?')!r}"
    unknown = set(raw) - CLAIM_KEYS
    if unknown:
        raise SpecError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(CLAIM_KEYS)}")
    for key in ("id", "artifact", "claim", "metric", "relation", "cells"):
        if key not in raw:
            raise SpecError(f"{where}: missing {key!r}")
    source = raw.get("source", "runs")
    if source not in SOURCES:
        raise SpecError(f"{where}: source {source!r} is invalid; allowed: {', '.join(SOURCES)}")
    if source == "runs" and raw.get("data") not in DATA:
        raise SpecError(f"{where}: data {raw.get('data')!r} is invalid; allowed: {', '.join(DATA)}")
    if raw["relation"] not in RELATIONS:
        raise SpecError(f"{where}: relation {raw['relation']!r} is invalid; allowed: {' '.join(RELATIONS)}")
    cells = tuple(_cell(c, where) for c in raw["cells"])
    if len(cells) < 2 or (raw["relation"] == "≈" and len(cells) != 2):
        raise SpecError(f"{where}: needs at least 2 cells (exactly 2 for ≈), got {len(cells)}")
    paper = raw.get("paper")
    if paper is not None and (not isinstance(paper, list) or len(paper) != len(cells)):
        raise SpecError(f"{where}: paper must list one value per cell ({len(cells)}) or be null")
    if raw["relation"] == "≈" and not raw.get("margin"):
        raise SpecError(f"{where}: relation ≈ needs a margin (largest relative difference called 'none')")
    return Claim(id=str(raw["id"]), artifact=str(raw["artifact"]), claim=str(raw["claim"]), metric=str(raw["metric"]),
                 relation=raw["relation"], cells=cells, source=source, data=raw.get("data"),
                 paper=tuple(float(p) for p in paper) if paper else None,
                 margin=float(raw["margin"]) if raw.get("margin") else None, control=bool(raw.get("control")),
                 headline=bool(raw.get("headline")))


def load_claims(path: str | Path = DECLARATION) -> list[Claim]:
    """The declaration as Claims, validated: a bad entry raises SpecError naming the claim and value."""
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if not isinstance(raw, list):
        raise SpecError(f"{path}: expected a list of claims")
    claims = [_claim(c) for c in raw]
    ids = [c.id for c in claims]
    if len(set(ids)) != len(ids):
        raise SpecError(f"{path}: duplicate claim ids {sorted({i for i in ids if ids.count(i) > 1})}")
    return claims


def resolve_rank(spec: str, grid: list[int]) -> tuple[int | None, str]:
    """(rank, why) for a rank spec on the ranks present; rank None with the reason when absent."""
    if not grid:
        return None, "no runs"
    top = max(grid)
    if spec == "top":
        return top, ""
    if spec == "lowest":
        return min(grid), ""
    if spec.startswith("top/"):
        n = int(spec[4:])
        if top % n:
            return None, f"top rank {top} / {n} is not an integer"
        want = top // n
    else:
        want = int(spec)
    return (want, "") if want in grid else (None, f"r{want} not in the grid")
