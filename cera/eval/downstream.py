"""Exact match through lm-eval on an in-memory model: greedy pass@1, sampled pass@k, bootstrap CIs.

Flow per task (``evaluate_tasks``):

1. lm-eval builds the prompts (``Task.build_all_requests``: its doc_to_text, few-shot sampler and
   delimiters); every prompt is checked against the model's context (``check_prompt_lengths``),
   since HFLM would otherwise cut long prompts from the left with only a log line.
2. HFLM (``lm_eval.models.huggingface.HFLM`` wrapping the adapted model object) generates one greedy
   answer (temperature 0) and ``n_samples`` sampled ones per problem. Generation kwargs are the
   task's own, plus: ``max_gen_toks = eval.max_new_tokens``; the stop string ``"\\n\\n### "`` (the
   next SFT block) added to the task's ``until`` (HFLM adds the eos token itself); for sampling
   ``do_sample=True, temperature=eval.temperature, top_k=0, top_p=eval.top_p`` (top_p 1 = plain
   ancestral sampling; transformers would otherwise apply its default top_k=50).
3. Every generation is scored on its own with the task's own filter pipelines and
   ``process_results`` (``score_generations``): lm-eval's ``repeats`` path keeps only the first of
   n samples (``take_first``), so the samples are fed one at a time through the same filters.
4. Per problem: greedy correct (0/1), n, c. pass@k = mean over problems of the unbiased
   ``cera.eval.passk.pass_at_k``; every accuracy gets a percentile-bootstrap 95% CI over problems
   (``cera.eval.stats.bootstrap_ci``). ``summarize_rows`` recomputes all of it from samples.jsonl.

Prompts are tokenized as in training: HFLM is built with ``add_bos_token=False`` (no BOS, and the
tokenizer adds no EOS), so a synthetic prompt is exactly the tokens of ``format_prompt(ex)``.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import time

import numpy as np

from cera.eval.collapse import score_logistic, summarize_collapse
from cera.eval.config import EvalError
from cera.eval.passk import pass_at_k
from cera.eval.stats import bootstrap_ci

log = logging.getLogger(__name__)

SFT_STOP = "\n\n### "
_TOKEN_LIMIT_KEYS = ("max_gen_toks", "max_new_tokens", "max_tokens", "max_completion_tokens")


def make_lm(model, tokenizer, batch_size: int):
    """lm-eval's HFLM around the in-memory (adapted) model; a PeftModel is unwrapped to its base
    model, which carries the injected LoRA/DoRA layers."""
    from lm_eval.models.huggingface import HFLM
    from peft import PeftModel

    base = model.get_base_model() if isinstance(model, PeftModel) else model
    return HFLM(pretrained=base, tokenizer=tokenizer, batch_size=batch_size, add_bos_token=False)


def generation_kwargs(task, max_new_tokens: int, temperature: float | None, top_p: float = 1.0) -> dict:
    """The task's generation kwargs with our stop, length and decoding (temperature None = greedy)."""
    kw = copy.deepcopy(task.config.generation_kwargs or {})
    until = kw.get("until") or []
    until = [until] if isinstance(until, str) else list(until)
    for key in _TOKEN_LIMIT_KEYS:
        kw.pop(key, None)
    kw.update(until=until + ([SFT_STOP] if SFT_STOP not in until else []), max_gen_toks=max_new_tokens)
    if temperature is None:
        kw.update(do_sample=False, temperature=0.0)
        for key in ("top_k", "top_p"):
            kw.pop(key, None)
    else:
        kw.update(do_sample=True, temperature=float(temperature), top_k=0, top_p=float(top_p))
    return kw


def build_requests(task, limit: int | None, num_fewshot: int | None, seed: int) -> list:
    """lm-eval's own generate_until instances (prompt = few-shot context + doc_to_text) of a task."""
    if num_fewshot is not None:
        task.set_config(key="num_fewshot", value=num_fewshot)
    elif task.get_config("num_fewshot") is None:
        task.set_config(key="num_fewshot", value=0)
    task.set_fewshot_seed(seed=seed)
    task.build_all_requests(limit=limit)
    if task.OUTPUT_TYPE != "generate_until":
        raise EvalError(f"lm-eval task {task.task_name} is {task.OUTPUT_TYPE}, not generate_until")
    return list(task.instances)


def check_prompt_lengths(lm, name: str, instances: list, max_new_tokens: int) -> int:
    """Raise when a prompt plus max_new_tokens exceeds the model's context; returns the longest prompt."""
    lengths = [len(lm.tok_encode(inst.arguments[0])) for inst in instances]
    room = lm.max_length - max_new_tokens
    over = [n for n in lengths if n > room]
    if over:
        raise EvalError(f"eval task {name}: {len(over)} of {len(lengths)} prompts are longer than {room} tokens "
                        f"(model max length {lm.max_length} - eval.max_new_tokens {max_new_tokens}), the longest "
                        f"{max(over)}; HFLM would cut them from the left: lower eval.num_fewshot or "
                        "eval.max_new_tokens")  # fmt: skip
    return max(lengths, default=0)


def generate(lm, instances: list, gen_kwargs: dict, repeats: int) -> list[list[str]]:
    """``repeats`` generations per instance, through HFLM.generate_until (batched, progress bar)."""
    from lm_eval.api.instance import Instance

    if repeats == 0 or not instances:
        return [[] for _ in instances]
    requests = [Instance(request_type="generate_until", doc=inst.doc, idx=inst.idx,
                         arguments=(inst.arguments[0], dict(gen_kwargs)),
                         metadata=(inst.task_name, inst.doc_id, repeats)) for inst in instances]  # fmt: skip
    flat = lm.generate_until([r for r in requests for _ in range(repeats)])
    return [flat[i * repeats : (i + 1) * repeats] for i in range(len(instances))]


def metric_names(task) -> list[str]:
    """The task's metric names in ``metric_list`` order; the first is the primary one (pass@k)."""
    names = [m["metric"] for m in (task.config.metric_list or []) if isinstance(m.get("metric"), str)]
    return names or ["exact_match"]


def score_generations(task, instances: list, generations: list[list[str]]) -> list[dict]:
    """Score every generation alone with the task's filters and process_results.

    Returns per instance {filter name: {"extracted": [...], "correct": [0/1, ...], "metrics": {metric:
    [0/1, ...]}}}, one entry per generation, filters in the task's order (the first is the primary
    one); ``correct`` is the primary metric (``metric_names``), ``metrics`` has every metric of the
    task's ``metric_list`` (e.g. complex/MATH: math_verify and exact_match).
    """
    from lm_eval.api.instance import Instance

    names = metric_names(task)
    single = [Instance(request_type="generate_until", doc=inst.doc, arguments=inst.arguments, idx=inst.idx,
                       metadata=(inst.task_name, inst.doc_id, 1), resps=[g])
              for inst, gens in zip(instances, generations, strict=True) for g in gens]  # fmt: skip
    if single:
        for ensemble in task._filters:  # the task's own FilterEnsembles (lm-eval 0.4 attribute)
            ensemble.apply(single)
    out, pos = [], 0
    for gens in generations:
        scored: dict[str, dict] = {}
        for inst in single[pos : pos + len(gens)]:
            for key, value in inst.filtered_resps.items():
                metrics = task.process_results(inst.doc, [value])
                missing = [m for m in names if m not in metrics]
                if missing:
                    raise EvalError(f"lm-eval task {task.task_name} returned no {missing[0]} metric: {sorted(metrics)}")
                entry = scored.setdefault(key, {"extracted": [], "correct": [], "metrics": {m: [] for m in names}})
                entry["extracted"].append(value if value is None or isinstance(value, str) else str(value))
                for m in names:
                    entry["metrics"][m].append(int(float(metrics[m]) > 0))
                entry["correct"].append(entry["metrics"][names[0]][-1])
        out.append(scored)
        pos += len(gens)
    return out


def _doc_meta(doc: dict):
    meta = doc.get("meta")
    if isinstance(meta, str):
        try:
            return json.loads(meta)
        except json.JSONDecodeError:
            return meta
    return meta


def evaluate_task(lm, name: str, tasks: dict, cfg: dict) -> list[dict]:
    """samples.jsonl rows (one per problem) of one cera task over its lm-eval leaf tasks."""
    import torch

    rows = []
    for leaf, task in tasks.items():
        instances = build_requests(task, cfg["limit"], cfg["num_fewshot"], cfg["seed"])
        longest = check_prompt_lengths(lm, name, instances, cfg["max_new_tokens"])
        log.info("eval %s (%s): %d problems, %d-shot, longest prompt %d tokens, 1 greedy + %d sampled each",
                 name, leaf, len(instances), task.get_config("num_fewshot"), longest, cfg["n_samples"])
        greedy = generate(lm, instances, generation_kwargs(task, cfg["max_new_tokens"], None), 1)
        torch.manual_seed(cfg["seed"])
        sampled = generate(lm, instances,
                           generation_kwargs(task, cfg["max_new_tokens"], cfg["temperature"], cfg.get("top_p", 1.0)),
                           cfg["n_samples"])  # fmt: skip
        greedy_scores = score_generations(task, instances, greedy)
        sampled_scores = score_generations(task, instances, sampled)
        primary = next(iter(greedy_scores[0])) if greedy_scores else None
        metrics = metric_names(task)
        for inst, g, gs, s, ss in zip(instances, greedy, greedy_scores, sampled, sampled_scores, strict=True):
            correct = ss[primary]["correct"] if s else []
            rows.append({
                "task": name, "lm_eval_task": leaf, "doc_id": inst.doc_id, "prompt": inst.arguments[0],
                "target": str(task.doc_to_target(inst.doc)), "filter": primary, "metric": metrics[0],
                "greedy_generation": g[0], "greedy_extracted": gs[primary]["extracted"][0],
                "greedy_correct": gs[primary]["correct"][0],
                "greedy_by_filter": {k: v["correct"][0] for k, v in gs.items()},
                "greedy_by_metric": {m: v[0] for m, v in gs[primary]["metrics"].items()},
                "generations": s, "extracted": ss[primary]["extracted"] if s else [], "correct": correct,
                "correct_by_metric": ss[primary]["metrics"] if s else {m: [] for m in metrics},
                "n": len(s), "c": int(sum(correct)), "meta": _doc_meta(inst.doc),
            })  # fmt: skip
    return rows


def _ci(values, seed: int) -> dict:
    point, lo, hi = bootstrap_ci(values, seed=seed)
    return {"value": point, "lo": lo, "hi": hi}


def _per_step(scores: list[dict]) -> list[float | None]:
    """Mean |x̂_n − x_n| per step n = 1..max K over the problems where step n was parsed."""
    width = max((len(s["errors"]) for s in scores), default=0)
    out = []
    for n in range(width):
        errs = [s["errors"][n] for s in scores if n < len(s["errors"]) and not math.isnan(s["errors"][n])]
        out.append(float(np.mean(errs)) if errs else None)
    return out


def case_study(rows: list[dict]) -> dict | None:
    """State collapse on the logistic-map problems of the rows (greedy and sampled generations)."""
    logistic = [r for r in rows if isinstance(r.get("meta"), dict) and r["meta"].get("task") == "logistic"]
    if not logistic:
        return None
    out = {"problems": len(logistic)}
    for kind, texts in (("greedy", lambda r: [r["greedy_generation"]]), ("sampled", lambda r: r["generations"])):
        scores = [score_logistic(t, r["meta"]) for r in logistic for t in texts(r)]
        if scores:
            out[kind] = {**summarize_collapse(scores), "per_step_abs_error": _per_step(scores)}
    return out


def _metric_summary(rows: list[dict], metric: str, n: int, ks: list[int], seed: int) -> dict:
    """pass@1 greedy and pass@k of one metric (primary filter), each with its bootstrap CI."""
    out = {"pass@1_greedy": _ci([r["greedy_by_metric"][metric] for r in rows], seed)}
    if n > 0:
        for k in ks:
            out[f"pass@{k}"] = _ci([pass_at_k(r["n"], sum(r["correct_by_metric"][metric]), k) for r in rows], seed)
    return out


def _group_of(meta) -> tuple[str, str] | None:
    """(family, level) of a synthetic problem's meta; real tasks: MATH's type/level when present."""
    if not isinstance(meta, dict):
        return None
    family = meta.get("family") or meta.get("task") or meta.get("type")
    level = meta.get("level")
    return (str(family), str(level)) if family is not None and level is not None else None


def breakdown(rows: list[dict], seed: int = 0) -> dict | None:
    """Greedy pass@1 (with its bootstrap CI and problem count) per family, per level and per
    "family/level" of the problems' meta; None when no row carries a family and a level."""
    groups = [(g, r["greedy_correct"]) for r in rows if (g := _group_of(r.get("meta")))]
    if not groups:
        return None
    out: dict[str, dict] = {"by_family": {}, "by_level": {}, "by_family_level": {}}
    for key, pick in (("by_family", lambda g: g[0]), ("by_level", lambda g: g[1]),
                      ("by_family_level", lambda g: f"{g[0]}/{g[1]}")):  # fmt: skip
        cells: dict[str, list[int]] = {}
        for g, correct in groups:
            cells.setdefault(pick(g), []).append(correct)
        out[key] = {k: {"problems": len(v), "pass@1_greedy": _ci(v, seed)} for k, v in sorted(cells.items())}
    return out


def summarize_rows(rows: list[dict], ks: list[int], seed: int = 0) -> dict:
    """One task's accuracies with 95% bootstrap CIs, from its samples.jsonl rows alone."""
    if not rows:
        raise EvalError("no problems were evaluated")
    out = {"problems": len(rows), "filter": rows[0]["filter"],
           "pass@1_greedy": _ci([r["greedy_correct"] for r in rows], seed),
           "greedy_by_filter": {k: _ci([r["greedy_by_filter"][k] for r in rows], seed)
                                for k in rows[0]["greedy_by_filter"]}}  # fmt: skip
    n = min(r["n"] for r in rows)
    if n > 0:
        out["n_samples"] = n
        for k in ks:
            out[f"pass@{k}"] = _ci([pass_at_k(r["n"], r["c"], k) for r in rows], seed)
    if "greedy_by_metric" in rows[0]:  # rows written before metrics were recorded have only `correct`
        out["metric"] = rows[0]["metric"]
        out["by_metric"] = {m: _metric_summary(rows, m, n, ks, seed) for m in rows[0]["greedy_by_metric"]}
    groups = breakdown(rows, seed)
    if groups:
        out["breakdown"] = groups
    collapse = case_study(rows)
    if collapse:
        out["case_study"] = collapse
    return out


def evaluate_tasks(model, tokenizer, loaded: dict, cfg: dict) -> tuple[dict, list[dict]]:
    """({task: summary}, all samples.jsonl rows) for ``loaded`` = lmeval_tasks.load_tasks(...)."""
    lm = make_lm(model, tokenizer, cfg["batch_size"])
    summaries, rows = {}, []
    for name, tasks in loaded.items():
        start = time.time()
        task_rows = evaluate_task(lm, name, tasks, cfg)
        summary = summarize_rows(task_rows, cfg["k"] if cfg["n_samples"] else [], cfg["seed"])
        versions = {leaf: t.VERSION for leaf, t in tasks.items()}
        summary.update(lm_eval_tasks=versions, num_fewshot=next(iter(tasks.values())).get_config("num_fewshot"),
                       temperature=cfg["temperature"] if cfg["n_samples"] else None,
                       seconds=round(time.time() - start, 2))  # fmt: skip
        log.info("eval %s: pass@1 greedy %.3f [%.3f, %.3f] over %d problems (%.0fs)", name,
                 summary["pass@1_greedy"]["value"], summary["pass@1_greedy"]["lo"], summary["pass@1_greedy"]["hi"],
                 summary["problems"], summary["seconds"])  # fmt: skip
        summaries[name] = summary
        rows.extend(task_rows)
    return summaries, rows
