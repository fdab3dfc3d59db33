"""The claims report: each paper claim (SPEC §2) with our numbers, CIs and a verdict.

Verdicts compare 95% CIs: "reproduced" when the intervals separate in the claimed direction, "not
reproduced" when they separate the other way, "inside noise" when they overlap (conservative:
overlapping CIs can still hide a real difference), "not run" when a cell has no finished run.
PPL claims use the paired per-sequence comparison (analysis.paired) where seeds match; a pass@k
claim where both sides score 0 says so ("both at 0: floor") instead of a bare "inside noise".
"""

from __future__ import annotations

import math

import pandas as pd

from analysis import paper
from analysis.cells import cell_stats, fmt
from analysis.load import INSTRUCT_DATA, MATH_DATA
from analysis.paired import fmt_ratio, paired_ppl_ratio, ratio_verdict


def _less(a: dict, b: dict) -> str:
    """Verdict for the claim a < b."""
    if math.isnan(a["value"]) or math.isnan(b["value"]):
        return "not run"
    a_hi = a["hi"] if not math.isnan(a["hi"]) else a["value"]
    a_lo = a["lo"] if not math.isnan(a["lo"]) else a["value"]
    b_hi = b["hi"] if not math.isnan(b["hi"]) else b["value"]
    b_lo = b["lo"] if not math.isnan(b["lo"]) else b["value"]
    if a_hi < b_lo:
        return "reproduced"
    if a_lo > b_hi:
        return "not reproduced"
    return "inside noise"


def _flip(verdict: str) -> str:
    return {"reproduced": "not reproduced", "not reproduced": "reproduced"}.get(verdict, verdict)


def claims(runs: pd.DataFrame, bench: dict | None) -> pd.DataFrame:
    inst, mth = runs[runs["data"].isin(INSTRUCT_DATA)], runs[runs["data"].isin(MATH_DATA)]
    ppl = lambda v, r, d=0.1: cell_stats(inst, "test_ppl", variant=v, rank=r, dropout=d)  # noqa: E731
    out = []

    def add(claim, paper_says, ours, verdict):
        out.append({"claim": claim, "paper": paper_says, "ours (95% CI)": ours, "verdict": verdict})

    ranks = sorted({int(r) for r in inst[inst["variant"] == "lora"]["rank"].dropna()})
    if len(ranks) >= 2:
        lo_r, hi_r = ppl("lora", ranks[0]), ppl("lora", ranks[-1])
        add(f"LoRA PPL plateaus with rank (r{ranks[0]} → r{ranks[-1]})", "≈ 3.90 from r16 to r512",
            f"r{ranks[0]}: {fmt(lo_r, 3)}; r{ranks[-1]}: {fmt(hi_r, 3)}",
            # a plateau: no significant gain from more rank; overlap is "inside noise", not a confirmation
            {"reproduced": "not reproduced", "not reproduced": "not reproduced"}.get(_less(hi_r, lo_r), _less(hi_r, lo_r)))
    else:
        add("LoRA PPL plateaus with rank", "≈ 3.90 from r16 to r512", "—", "not run")
    c64, l512 = ppl("cera", 64), ppl("lora", 512)
    pair = paired_ppl_ratio(inst, {"variant": "cera", "rank": 64, "dropout": 0.1},
                            {"variant": "lora", "rank": 512, "dropout": 0.1})
    add("CeRA r64 PPL ≤ LoRA r512 (instruction data)", "3.89 vs ≈ 3.90",
        f"{fmt(c64, 3)} vs {fmt(l512, 3)}; {fmt_ratio(pair)}", ratio_verdict(pair, _less(c64, l512)))
    for metric, name in (("math pass@1_greedy", "MATH(-like) pass@1"), ("math pass@10", "MATH(-like) pass@10")):
        c = cell_stats(mth, metric, variant="cera", rank=64)
        lr = cell_stats(mth, metric, variant="lora", rank=512)
        ref = paper.TABLE1[("cera", 64)], paper.TABLE1[("lora", 512)]
        i = 1 if "@10" in name else 0
        add(f"CeRA r64 beats LoRA r512 on {name}", f"{ref[0][i]:.2f} vs {ref[1][i]:.2f} %",
            f"{fmt(c, 1, 100)} vs {fmt(lr, 1, 100)} %",
            "inside noise (both at 0: floor)" if c["value"] == 0 == lr["value"] else _flip(_less(c, lr)))
    er_c = cell_stats(inst, "effective_rank", variant="cera", rank=512, dropout=0.1)
    er_l = cell_stats(inst, "effective_rank", variant="lora", rank=512, dropout=0.1)
    ratio = er_c["value"] / er_l["value"] if er_l["value"] else math.nan
    add("Effective rank at r=512: CeRA ≫ LoRA (paper ≈ 330 vs 60, ratio > 5.5; our layers are narrower, "
        "so compare the ratio)", "> 330 vs ≈ 60", f"{fmt(er_c, 1)} vs {fmt(er_l, 1)} (ratio {ratio:.2f})",
        _flip(_less(er_c, er_l)))
    order = [("cera", 0.1), ("cera_relu", 0.1), ("cera", 0.0), ("parallel", 0.1), ("cera_identity", 0.1)]
    cells = [ppl(v, 128, d) for v, d in order]
    names = ["full", "ReLU", "no dropout", "module-level", "identity"]
    if any(math.isnan(c["value"]) for c in cells):
        verdict = "not run"
    else:
        pairs = [paired_ppl_ratio(inst, {"variant": v, "rank": 128, "dropout": d},
                                  {"variant": w, "rank": 128, "dropout": e})
                 for (v, d), (w, e) in zip(order, order[1:])]
        steps = [ratio_verdict(p, _less(cells[i], cells[i + 1])) for i, p in enumerate(pairs)]
        verdict = ("reproduced" if all(s == "reproduced" for s in steps) else
                   "not reproduced" if any(s == "not reproduced" for s in steps) else "inside noise")
    add("Ablation ordering (r128 PPL): full < ReLU < no dropout < module-level < identity",
        "3.81 < 3.84 < 3.85 < 3.90 < 3.97", "; ".join(f"{n} {fmt(c, 3)}" for n, c in zip(names, cells))
        + ("" if verdict == "not run" else "; paired PPL ratios of neighbours: " + ", ".join(
            f"{names[i]}/{names[i + 1]} " + (f"{p['ratio']:.3f} [{p['lo']:.3f}, {p['hi']:.3f}]" if p else "—")
            for i, p in enumerate(pairs))), verdict)
    targets = {t["target"]: t for t in (bench or {}).get("targets", [])}
    for rank in (64, 128):
        t = targets.get(f"cera r={rank} unmerged decode / unmerged lora")
        add(f"CeRA unmerged decode time ≤ 1.06× unmerged LoRA's, r{rank} (tiny model, CPU)", "≈ 1.06× (Llama-3-8B)",
            f"{t['measured']:.3f}× [{t['q1']:.3f}–{t['q3']:.3f}]" if t else "—",
            ("reproduced" if t["q3"] <= 1.06 else "inside noise" if t["q1"] <= 1.06 else "not reproduced")
            if t else "not run")
    t = targets.get("cera r=64 / lora r=512 peak train memory")
    add("Training memory: CeRA r64 < LoRA r512", "lower", f"{t['measured']:.2f}×" if t else "—",
        ("reproduced" if t["measured"] < 1 else "not reproduced") if t else "not run")
    return pd.DataFrame(out)
