"""The headline claims under both protocols side by side: cells at each protocol's own learning rate and
dropout, and a sentence computed from the verdicts."""

import pandas as pd
import yaml

from analysis import build_all, load_runs
from analysis.protocols import category, sentence, side_by_side
from analysis.spec import load_claims
from tests.analysis.tree import write_run

AUTHORS = {"name": "authors_code", "dropout": {"lora": 0.0, "dora": 0.0, "cera": 0.1}}


def _runs(tmp_path, cera_wins_under_authors: bool):
    """Fig 1's CeRA top/8 vs LoRA top, 3 seeds, under both protocols (authors_code: LoRA at dropout 0 and the
    runs' method.lr as recorded); CeRA loses under the paper protocol."""
    for seed in range(3):
        for rank, paper_rank in ((2, 64), (16, 512)):
            for method in ("lora", "cera"):
                paper = 4.0 if method == "lora" else 4.6
                write_run(tmp_path, method, rank, seed, ppl=paper + 0.01 * seed, paper_rank=paper_rank, spread=0.3,
                          suffix="paper")
                authors = paper if not cera_wins_under_authors or method == "lora" else 3.4
                run = write_run(tmp_path, method, rank, seed, ppl=authors + 0.01 * seed,
                                paper_rank=paper_rank, spread=0.3, dropout=0.0 if method == "lora" else 0.1,
                                lr=1e-3 if method == "cera" else 3e-4, suffix="authors")
                cfg = yaml.safe_load((run / "config.yaml").read_text())
                cfg["method"]["lr"] = cfg["lr"]
                (run / "config.yaml").write_text(yaml.safe_dump({**cfg, "protocol": AUTHORS}))
    return load_runs(tmp_path)


def test_cells_use_each_protocols_lr_and_dropout_and_the_sentence_is_computed(tmp_path):
    title, table, text = side_by_side(_runs(tmp_path, True), load_claims())[0]
    row = table.set_index("claim").loc["Fig 1 (left): CeRA at 1/8 of the top rank reaches LoRA's top-rank PPL"]
    assert (category(row["verdict, paper"]), category(row["verdict, authors_code"])) == ("not reproduced",
                                                                                        "reproduced")
    assert row["depends on protocol"] == "yes" and title.endswith("(model tiny)")
    assert text.startswith("On model tiny the verdict depends on the protocol for 1 of the 1 headline claims")


def test_same_verdicts_say_so(tmp_path):
    _, table, text = side_by_side(_runs(tmp_path, False), load_claims())[0]
    assert "no verdict depends on the protocol" in text and "could not be compared" in text
    assert set(table["depends on protocol"]) <= {"no", "cannot tell (not run under every protocol)"}


def test_report_shows_both_protocols(tmp_path):
    _runs(tmp_path, True)
    build_all(tmp_path)
    md = (tmp_path / "tables" / "claims.md").read_text()
    assert "## model tiny, protocol authors_code" in md and "## model tiny, protocol paper" in md
    assert "## Headline claims under each protocol (model tiny)" in md and "**On model tiny the verdict" in md
    report = (tmp_path / "report.md").read_text()
    assert "12 runs of protocol authors_code are judged in tables/claims.md" in report  # figures: protocol paper


def test_one_protocol_gives_no_side_by_side(tmp_path):
    write_run(tmp_path, "lora", 16, 0, ppl=4.0)
    assert side_by_side(load_runs(tmp_path), load_claims()) == []


def test_sentence_without_comparable_claims():
    table = pd.DataFrame({"claim": ["a"], "depends on protocol": ["cannot tell (not run under one)"]})
    assert sentence("m", table) == ("On model m no headline claim was judged under every protocol; 1 of 1 could "
                                    "not be compared (not run under every protocol).")
