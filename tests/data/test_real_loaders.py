"""Real-data loaders on small local files in each schema (no network), and their error messages."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from cera.data import DataError, load_splits
from cera.data.answers import gsm8k_answer, last_boxed
from cera.data.real import is_local


def write(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        pd.DataFrame(rows).to_parquet(path)
    elif path.suffix == ".json":
        path.write_text(json.dumps(rows))
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def cfg(fmt: str, source: Path | str, tmp_path: Path, **kw) -> dict:
    base = {"name": fmt, "format": fmt, "source": str(source), "n_train": None, "n_val": 2, "n_test": 2,
            "seed": 0, "cache_dir": str(tmp_path / "hf_cache")}  # fmt: skip
    return {**base, **kw}


def slimorca_rows(n: int) -> list[dict]:
    return [{"conversations": [{"from": "system", "value": f"sys {i}"}, {"from": "human", "value": f"q {i}"},
                               {"from": "gpt", "value": f"a {i}"}, {"from": "human", "value": "more?"},
                               {"from": "gpt", "value": "no"}]} for i in range(n)]  # fmt: skip


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_slimorca_carves_val_and_test(tmp_path, suffix):
    path = write(tmp_path / f"slim{suffix}", slimorca_rows(12))
    s = load_splits(cfg("slimorca", path, tmp_path, n_train=5))
    assert s.sizes() == {"train": 5, "val": 2, "test": 2}
    ex = s.train[0]
    i = ex.instruction.split()[1]
    assert (ex.system, ex.instruction, ex.response) == (
        f"sys {i}",
        f"q {i}",
        f"a {i}",
    )  # first human, first gpt after it
    ids = [[e.instruction for e in part] for part in (s.train, s.val, s.test)]
    assert len(set(sum(ids, []))) == 9  # disjoint
    again = load_splits(cfg("slimorca", path, tmp_path, n_train=5))
    assert [e.instruction for e in again.test] == ids[2]
    other = load_splits(cfg("slimorca", path, tmp_path, n_train=5, seed=1))
    assert [e.instruction for e in other.train + other.val + other.test] != sum(ids, [])


def test_mathinstruct_json_array(tmp_path):
    rows = [
        {"instruction": f"Solve {i}", "output": f"Answer {i}", "source": "data/CoT/gsm_rft.json"} for i in range(10)
    ]
    s = load_splits(cfg("mathinstruct", write(tmp_path / "mi.json", rows), tmp_path, n_val=1, n_test=None))
    assert s.sizes() == {"train": 8, "val": 1, "test": 1}  # null n_test on a carved split = 1% (at least 1)
    ex = s.train[0]
    assert ex.response == "Answer " + ex.instruction.split()[1] and ex.meta["source"] == "data/CoT/gsm_rft.json"


def test_gsm8k_directory_uses_its_test_file(tmp_path):
    def rows(tag, n):
        return [{"question": f"{tag} q{i}", "answer": f"Step <<2*3=6>>.\n#### 1,{i:03d}"} for i in range(n)]

    write(tmp_path / "gsm" / "train.jsonl", rows("train", 8))
    write(tmp_path / "gsm" / "test.jsonl", rows("test", 5))
    s = load_splits(cfg("gsm8k", tmp_path / "gsm", tmp_path, n_val=3, n_test=None))
    assert s.sizes() == {"train": 5, "val": 3, "test": 5}
    assert all(e.instruction.startswith("test") for e in s.test)
    assert all(e.instruction.startswith("train") for e in s.train + s.val)
    assert s.test[4].answer == "1004" and s.test[4].response.endswith("#### 1,004")


def test_hendrycks_math_rows(tmp_path):
    rows = [
        {"problem": "p0", "solution": "So $\\boxed{\\frac{1}{2}}$.", "level": "Level 3", "type": "Algebra"},
        {
            "problem": "p1",
            "solution": "First \\boxed{1}, finally \\fbox{x^{2}}",
            "level": "Level ?",
            "type": "Geometry",
        },
        {"problem": "p2", "solution": "no box here", "level": "Level 5", "type": "Number Theory"},
    ]
    write(tmp_path / "math" / "train.parquet", rows * 2)
    write(tmp_path / "math" / "test.parquet", rows)
    s = load_splits(cfg("hendrycks_math", tmp_path / "math", tmp_path, n_val=1, n_test=None))
    by_problem = {e.instruction: e for e in s.test}
    assert by_problem["p0"].answer == "\\frac{1}{2}" and by_problem["p0"].meta == {
        "task": "hendrycks_math",
        "level": 3,
        "type": "Algebra",
    }
    assert by_problem["p1"].answer == "x^{2}" and by_problem["p1"].meta["level"] is None
    assert by_problem["p2"].answer is None and len(s.train) == 5


@pytest.mark.parametrize(
    ("fmt", "rows", "bad_row", "message"),
    [
        (
            "mathinstruct",
            [{"instruction": "a", "output": "b"}] * 3 + [{"instruction": "c"}],
            3,
            "missing field 'output'",
        ),
        ("mathinstruct", [{"instruction": "a", "output": 5}] * 4, 0, "field 'output' must be str, got int"),
        (
            "gsm8k",
            [{"question": "q", "answer": "#### 3"}] * 2 + [{"question": "q", "answer": "3"}] * 2,
            2,
            "no '#### N'",
        ),
        (
            "slimorca",
            [{"conversations": [{"from": "human", "value": "only a question"}]}] * 4,
            0,
            "no 'human' turn followed by a 'gpt'",
        ),
        ("slimorca", [{"conversations": "not a list"}] * 4, 0, "field 'conversations' must be list"),
    ],
)
def test_malformed_row_names_row_file_and_field(tmp_path, fmt, rows, bad_row, message):
    path = write(tmp_path / "bad.jsonl", rows)
    with pytest.raises(DataError) as err:
        load_splits(cfg(fmt, path, tmp_path, n_val=0, n_test=0))
    text = str(err.value)
    assert f"malformed data row {bad_row} in {path}" in text and message in text and "\n" not in text


def test_missing_file_and_bad_suffix(tmp_path):
    missing = tmp_path / "nope" / "x.jsonl"
    with pytest.raises(DataError, match=f"data file not found: {missing}"):
        load_splits(cfg("gsm8k", missing, tmp_path))
    csv = tmp_path / "x.csv"
    csv.write_text("a,b\n")
    with pytest.raises(DataError, match="allowed suffixes: .json, .jsonl, .parquet"):
        load_splits(cfg("gsm8k", csv, tmp_path))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no .json/.jsonl/.parquet files"):
        load_splits(cfg("gsm8k", tmp_path / "empty", tmp_path))


def test_config_errors(tmp_path):
    with pytest.raises(
        DataError, match="unknown data.format 'orca'.*allowed: instruct, basic, complex, math, slimorca"
    ):
        load_splits(cfg("orca", "x.jsonl", tmp_path))
    with pytest.raises(DataError, match="unknown data config key"):
        load_splits({**cfg("gsm8k", "x.jsonl", tmp_path), "n_trian": 5})
    with pytest.raises(DataError, match="data.source must be 'synthetic'"):
        load_splits(cfg("basic", "x.jsonl", tmp_path, n_train=1))
    with pytest.raises(DataError, match="real dataset"):
        load_splits(cfg("gsm8k", "synthetic", tmp_path))
    with pytest.raises(DataError, match="data.n_train=-1 must be a non-negative integer"):
        load_splits(cfg("basic", "synthetic", tmp_path, n_train=-1))


def test_unreachable_hub_is_one_line(tmp_path, monkeypatch):
    import datasets

    def offline(*args, **kwargs):
        raise ConnectionError("Couldn't reach 'openai/gsm8k' on the Hub\nmore detail")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(DataError, match="could not load hub dataset 'openai/gsm8k' split 'train'.*local") as err:
        load_splits(cfg("gsm8k", "openai/gsm8k", tmp_path, hub_config="main", test_split="test"))
    assert "\n" not in str(err.value)


def test_source_kind():
    assert not is_local("openai/gsm8k") and not is_local("gsm8k")
    assert all(map(is_local, ["/data/x", "./x", "~/x", "data/sub/x", "x.jsonl", "dir/"]))


@pytest.mark.parametrize(
    ("text", "boxed"),
    [("a \\boxed{1} b \\boxed{\\frac{a}{b}}", "\\frac{a}{b}"), ("\\fbox{7}", "7"), ("$\\boxed 5$", "5"),
     ("\\boxed{unbalanced", None), ("none", None), ("\\boxed{1} then \\fbox{2}", "2")],
)  # fmt: skip
def test_last_boxed(text, boxed):
    assert last_boxed(text) == boxed


def test_gsm8k_answer():
    assert gsm8k_answer("x\n#### 1,234") == "1234" and gsm8k_answer("no marker") is None
