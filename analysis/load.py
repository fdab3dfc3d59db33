"""Run directories → tidy pandas frames. Reads files only (outputs/README.md documents them).

One row per run directory, whatever its state: a failed, diverged or unfinished run stays in the
frame (with NaN metrics) so that every artifact can show it as a gap and the report can list it.
Two directories of the same training identity (same config up to keys that cannot change a result,
same seed, same synthetic generators; e.g. an older copy whose hash included `progress_bar`) are one
measurement: `dedupe` keeps one by a fixed rule and names the other, so no cell counts a seed twice.
Every row also carries its `cell_key` (the identity without the seed) and that identity itself
(`cell_config`), so a cell never pools runs of different configs (analysis.cells.one_config).
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import pandas as pd
import yaml

from cera.integrity import CorruptFile, read_json_checked, read_jsonl_checked
from cera.io import read_json
from cera.runs.naming import NON_RESULT_KEYS, identity_of
from cera.runs.record import read_run

INSTRUCT_DATA = {"synthetic_instruct", "slimorca"}
MATH_DATA = {"synthetic_math", "mathinstruct"}
# Embedded task -> the paper task it stands for (Table 1 columns).
TASK_ROLE = {"complex": "math", "hendrycks_math": "math", "math500": "math", "basic": "gsm8k", "gsm8k": "gsm8k"}


_json = read_json  # missing or unreadable files read as `default`


# Keys of the saved config that cannot change a result: cera.runs.naming keeps them out of the run hash,
# analysis keeps them out of a run's identity (an older copy hashed with one is the same measurement).
NON_RESULT_TRAIN_KEYS = tuple(k.split(".", 1)[1] for k in NON_RESULT_KEYS if k.startswith("train."))


def _hash(blob) -> str:
    return hashlib.sha1(json.dumps(blob, sort_keys=True, default=str).encode()).hexdigest()[:8]


def _train_key(train: dict) -> str:
    """Short hash of the training recipe: runs of different recipes never share a cell."""
    return _hash({k: v for k, v in (train or {}).items() if k not in NON_RESULT_TRAIN_KEYS})


def _identity(cfg: dict, status: dict) -> dict:
    """What a run measures (cera.runs.naming.identity_of): its config without the non-result keys, seed
    included, and the synthetic generators' fingerprint its status.json records, so runs of two cera
    versions whose generators differ are two measurements, never one de-duplicated copy."""
    generators = (status or {}).get("generators")
    return identity_of(cfg, generators if isinstance(generators, str) else None)


def _identity_columns(cfg: dict, status: dict, run_dir: Path) -> dict:
    """identity (with the seed: de-duplication), cell_key and cell_config (without it: what a cell may pool)."""
    if not cfg:
        return {"identity": run_dir.name, "cell_key": run_dir.name, "cell_config": {}}
    identity = _identity(cfg, status)
    cell = {k: v for k, v in identity.items() if k != "seed"}
    return {"identity": _hash(identity), "cell_key": _hash(cell), "cell_config": cell}


def _nan_if_none(value):
    return math.nan if value is None else value


def _protocol(value) -> str:
    """'paper' (the paper's text, the default) or another protocol's name (a config group or a string)."""
    if isinstance(value, dict):
        value = value.get("name")
    return str(value) if value else "paper"


def _default_dropout(cfg: dict, method) -> float:
    """The run's protocol's dropout for its method (conf/protocol/authors_code.yaml: LoRA/DoRA 0), else the paper's 0.1."""
    table = ((cfg.get("protocol") or {}) if isinstance(cfg.get("protocol"), dict) else {}).get("dropout") or {}
    value = table.get(method) if isinstance(table, dict) else None
    return float(value) if isinstance(value, (int, float)) else 0.1


def _converged(convergence: dict):
    passed = (convergence or {}).get("passed")
    return passed if isinstance(passed, bool) else math.nan


CONFIG_KEYS = ("method", "model", "data", "train", "rank", "dropout", "lr", "seed")


def _config(run_dir: Path) -> dict:
    path = run_dir / "config.yaml"
    if not path.exists():
        return {}
    try:
        cfg = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise CorruptFile(path, f"invalid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(cfg, dict):
        raise CorruptFile(path, f"expected a mapping, found {type(cfg).__name__}")
    missing = [k for k in CONFIG_KEYS if k not in cfg]
    if missing:  # a truncated YAML file often still parses: its tail sections are gone
        raise CorruptFile(path, f"missing section {missing[0]!r} (truncated?)")
    return cfg


def _run_row(run_dir: Path) -> dict:
    """The run's row; a run with any file that does not read back whole is ``corrupt`` (a gap, with
    the reason in ``error``), never done with blank metrics and never a crash."""
    try:
        cfg, problem = _config(run_dir), None
    except CorruptFile as exc:
        cfg, problem = {}, str(exc)
    status, results, unreadable = read_run(run_dir)
    problem = problem or unreadable
    if problem is None:
        try:
            return _full_row(run_dir, cfg, status, results)
        except CorruptFile as exc:
            problem = str(exc)
        except (TypeError, KeyError, AttributeError, ValueError) as exc:  # valid JSON, wrong shape inside
            problem = f"{run_dir} has a result file of unexpected shape ({type(exc).__name__}: {exc})"
    row = _full_row(run_dir, cfg, {}, {}, identity_only=True)
    return {**row, **_identity_columns(cfg, status, run_dir), "state": "corrupt", "error": problem}


def _paper_lr(cfg: dict, results: dict) -> float | None:
    """The lr in the paper's units (lr / model.lr_scale): what cells and claims compare across backbones."""
    if results.get("paper_lr") is not None:
        return results["paper_lr"]
    lr = cfg.get("lr", results.get("lr"))
    scale = (cfg.get("model") or {}).get("lr_scale") or 1.0
    return None if lr is None else lr / scale


def _full_row(run_dir: Path, cfg: dict, status: dict, results: dict, identity_only: bool = False) -> dict:
    method = cfg.get("method") or {}
    convergence = results.get("convergence") or {}
    row = {
        "run": run_dir.name, "run_dir": str(run_dir), "state": status.get("state", "unknown"),
        "method": method.get("name", results.get("method")), "activation": method.get("activation"),
        "rank": cfg.get("rank", results.get("rank")), "dropout": cfg.get("dropout", results.get("dropout")),
        "lr": _paper_lr(cfg, results), "lr_run": cfg.get("lr", results.get("lr")),
        "seed": cfg.get("seed", results.get("seed")),
        "method_lr": _nan_if_none(method.get("lr")),  # the protocol's default (paper-unit) lr for this method and rank
        "default_dropout": _default_dropout(cfg, method.get("name")),
        "data": (cfg.get("data") or {}).get("name", results.get("data")),
        "model": (cfg.get("model") or {}).get("name", results.get("model")),
        "max_steps": (cfg.get("train") or {}).get("max_steps"), "train_key": _train_key(cfg.get("train")),
        "test_ppl": results.get("test_ppl"), "trainable_params": results.get("trainable_params"),
        "wall_seconds": results.get("wall_seconds"), "error": (status.get("error") or "")[:200],
        "paper_rank": _nan_if_none(cfg.get("paper_rank")), "protocol": _protocol(cfg.get("protocol")),
        "converged": _converged(convergence), "convergence_gain": _nan_if_none(convergence.get("gain")),
        "check_run": convergence.get("check_run"), **_identity_columns(cfg, status, run_dir),
        "ended": _nan_if_none(status.get("ended")),
    }
    if identity_only:
        return row
    read_jsonl_checked(run_dir / "curve.jsonl")  # a corrupt curve makes the run a gap in Fig 2 too
    seqs = read_json_checked(run_dir / "ppl_sequences.json", dict, required=("nll_sum", "tokens"))
    if seqs and results.get("test_ppl") is not None:
        from cera.eval.stats import ppl_ci

        _, row["test_ppl_lo"], row["test_ppl_hi"] = ppl_ci(seqs["nll_sum"], seqs["tokens"])
    spectra = read_json_checked(run_dir / "spectra.json")
    if spectra:
        agg = spectra.get("branch_aggregate") or {}
        summary = spectra.get("summary") or {}  # the run's eval.spectra.aggregate (older runs: the layer mean)
        row["auc90"] = summary.get("auc90", (agg.get("auc90") or {}).get("mean"))
        row["effective_rank"] = summary.get("effective_rank", (agg.get("effective_rank") or {}).get("mean"))
    downstream = results.get("downstream") or read_json_checked(run_dir / "downstream.json") or {}
    for task, m in (downstream.get("tasks") or {}).items():
        role = TASK_ROLE.get(task, task)
        if m.get("problems") is not None:
            row[f"{role} problems"] = m["problems"]
        for key in ("pass@1_greedy", "pass@1", "pass@10"):
            if isinstance(m.get(key), dict):
                row[f"{role} {key}"] = m[key]["value"]
                row[f"{role} {key} lo"], row[f"{role} {key} hi"] = m[key]["lo"], m[key]["hi"]
        case = m.get("case_study") or {}
        if case.get("greedy"):
            row["collapse_rate"] = case["greedy"].get("state_collapse_rate")
            row["collapse_abs_error"] = case["greedy"].get("mean_abs_error")
    return row


COLUMNS = ["run", "state", "method", "activation", "rank", "paper_rank", "dropout", "lr", "method_lr", "seed", "data",
           "model",
           "protocol", "train_key", "identity", "cell_key", "test_ppl", "converged", "convergence_gain", "is_check"]


def load_runs(outputs: str | Path, keep_duplicates: bool = False) -> pd.DataFrame:
    """One row per directory under <outputs>/runs (hidden ones such as .replaced/ are skipped); without
    `keep_duplicates`, one row per training identity (see `dedupe`)."""
    runs_dir = Path(outputs) / "runs"
    dirs = sorted(p for p in runs_dir.glob("*") if p.is_dir() and not p.name.startswith(".")) if runs_dir.is_dir() else []
    frame = pd.DataFrame([_run_row(d) for d in dirs])
    if frame.empty:
        frame = pd.DataFrame(columns=COLUMNS)
    frame["variant"] = frame.apply(_variant, axis=1) if len(frame) else []
    # a 2x-budget convergence check (named by its base run's record) is no seed of its base's cell
    frame["is_check"] = frame["run"].isin(set(frame["check_run"].dropna())) if len(frame) else []
    return frame if keep_duplicates else dedupe(frame)[0]


def dedupe(runs: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """One run per training identity (config without non-result keys, seed included).

    Rule (deterministic): a done run beats any other state; among those, the one that ended last;
    then the smallest directory name. Returns the kept frame and one line per run left out.
    """
    if runs.empty or "identity" not in runs:
        return runs, []
    order = runs.assign(_done=runs["state"] != "done", _ended=-runs["ended"].astype(float).fillna(-math.inf))
    order = order.sort_values(["_done", "_ended", "run"], kind="stable")
    kept = order.drop_duplicates("identity", keep="first")
    notes = []
    for identity, group in order.groupby("identity", sort=True):
        if len(group) > 1:
            keep, *rest = list(group["run"])
            notes += [f"`{r}` duplicates `{keep}` (same config and seed): not counted" for r in rest]
    return runs.loc[runs.index.isin(kept.index)], notes


def rank_label(rank, paper_rank=math.nan) -> str:
    """'r16 (paper 512)' when the run was asked for a paper rank, else 'r64'."""
    if rank is None or (isinstance(rank, float) and math.isnan(rank)):
        return "r?"
    text = f"r{int(rank)}"
    if paper_rank is not None and not (isinstance(paper_rank, float) and math.isnan(paper_rank)):
        if int(paper_rank) != int(rank):
            text += f" (paper {int(paper_rank)})"
    return text


def _variant(row) -> str:
    """method[_activation]: how tables name a row (cera_relu, parallel, lora, ...)."""
    act = row.get("activation")
    return f"{row['method']}_{act}" if isinstance(act, str) and act != "silu" else str(row["method"])


def load_curves(runs: pd.DataFrame) -> pd.DataFrame:
    """Long form: run, step, val_ppl (validation points only) — the Fig 2 curves."""
    rows = []
    for run, run_dir in zip(runs["run"], runs.get("run_dir", [])):
        path = Path(run_dir) / "curve.jsonl"
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            try:
                point = json.loads(line)
            except ValueError:
                continue
            if "val_ppl" in point:
                rows.append({"run": run, "step": point["step"], "val_ppl": point["val_ppl"]})
    return pd.DataFrame(rows, columns=["run", "step", "val_ppl"])


def load_spectra(runs: pd.DataFrame) -> pd.DataFrame:
    """Long form: run, layer, index (1-based), singular value normalised by the layer's largest."""
    rows = []
    for run, run_dir in zip(runs["run"], runs.get("run_dir", [])):
        spectra = _json(Path(run_dir) / "spectra.json")
        for layer, s in ((spectra or {}).get("branch") or {}).items():
            values = s.get("singular_values") or []
            top = values[0] if values and values[0] > 0 else 1.0
            rows += [{"run": run, "layer": layer, "index": i + 1, "sv": v / top} for i, v in enumerate(values)]
    return pd.DataFrame(rows, columns=["run", "layer", "index", "sv"])


def select_setting(runs: pd.DataFrame, model: str | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Runs of one model and, per data set, one training recipe (the most common); notes on the rest."""
    notes: list[str] = []
    if runs.empty:
        return runs, notes
    if model is None:
        model = runs["model"].value_counts().idxmax()
    chosen = runs[runs["model"] == model]
    if len(chosen) < len(runs):
        notes.append(f"{len(runs) - len(chosen)} runs of other models than {model!r} are not in these artifacts")
    keep = []
    for data, group in chosen.groupby("data"):
        recipe = group["train_key"].value_counts().idxmax()
        dropped = group[group["train_key"] != recipe]
        if len(dropped):
            steps = sorted({int(s) for s in dropped["max_steps"].dropna()})
            kept_steps = group.loc[group["train_key"] == recipe, "max_steps"].dropna()
            checks = len(kept_steps) and steps == [2 * int(kept_steps.iloc[0])]
            notes.append(f"{len(dropped)} {data} runs with another training recipe (max_steps {steps}"
                         + (": the 2x-budget convergence checks" if checks else "") + ") are left out; the "
                         f"artifacts use the most common recipe ({len(group) - len(dropped)} runs)")
        keep.append(group[group["train_key"] == recipe])
    return pd.concat(keep) if keep else chosen, notes
