"""Shared helpers of the downstream tests: tasks on hand-made rows, built-in tasks without the Hub."""

from __future__ import annotations

import json
from pathlib import Path

from cera.data import Example
from cera.eval.downstream import build_requests, score_generations
from cera.eval.lmeval_tasks import load_tasks, write_example_task, write_local_real


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def only(tasks: dict):
    (task,) = tasks.values()
    return task


def synthetic_task(eval_dir: Path, name: str, test: list[Example], train: list[Example] | None = None):
    """The cera_<name> lm-eval task on the given examples (train = few-shot pool)."""
    spec = write_example_task(name, eval_dir, test, train or test[:1])
    return only(load_tasks([spec], eval_dir)[name])


def local_real_task(eval_dir: Path, name: str, source: Path, num_fewshot: int | None = 0):
    spec = write_local_real(name, eval_dir, str(source), num_fewshot)
    return only(load_tasks([spec], eval_dir)[name])


def builtin_task(monkeypatch, yaml_path: Path, hub_path: str, data_files: dict):
    """lm-eval's built-in task from its own YAML, its Hub download answered by local files."""
    import datasets
    from lm_eval.tasks import TaskManager

    real = datasets.load_dataset

    def fake(path=None, name=None, **kwargs):
        if path == hub_path:
            return real("json", data_files=data_files)
        return real(path, name=name, **kwargs)

    monkeypatch.setattr(datasets, "load_dataset", fake)
    return only(TaskManager(include_defaults=False).load(str(yaml_path))["tasks"])


def score(task, outputs: list[list[str]], num_fewshot: int = 0) -> list[dict]:
    """score_generations of the given outputs, one list per problem (in test-split order)."""
    instances = build_requests(task, None, num_fewshot, 0)
    return score_generations(task, instances, outputs)


GSM8K_TEST = [
    {"question": "Ann has 500 apples and buys 500 more. How many apples does she have?",
     "answer": "She has 500 + 500 = <<500+500=1000>>1000 apples.\n#### 1000"},
    {"question": "Bob has 2 pens and gets 3 more. How many pens?", "answer": "2 + 3 = <<2+3=5>>5\n#### 5"},
    {"question": "A box holds 4 cups. How many cups in 3 boxes?", "answer": "3 * 4 = <<3*4=12>>12\n#### 12"},
]  # fmt: skip
GSM8K_TRAIN = [{"question": f"What is {i} + {i}?", "answer": f"{i} + {i} = <<{i}+{i}={2 * i}>>{2 * i}\n#### {2 * i}"}
               for i in range(1, 9)]  # fmt: skip
MATH_TEST = [
    {"problem": "What is $1 \\div 2$?", "level": "Level 1", "type": "Algebra",
     "solution": "Dividing gives $\\boxed{\\frac{1}{2}}$."},
    {"problem": "Solve $x + 1 = 3$.", "level": "Level 1", "type": "Algebra", "solution": "So $x = \\boxed{2}$."},
]  # fmt: skip
MATH_TRAIN = [{"problem": f"Compute ${i} + 1$.", "level": "Level 1", "type": "Algebra",
               "solution": f"It is $\\boxed{{{i + 1}}}$."} for i in range(1, 6)]  # fmt: skip
