"""What a backbone knows before any fine-tuning: the math tasks' one-step facts and in-context recall.

The embedded math tasks are designed so that fine-tuning teaches a *procedure* on top of knowledge
the backbone already has (README "Embedded tasks and budgets"). Whether that holds is a property of
the built backbone, so it is measured here rather than assumed: greedy completion of

* ``fact/<family>``: one-step facts of each task family, prompted up to the ``=``
  (``3.6*0.40*0.60=`` → ``0.86``), drawn by the same ``step_fact`` generators as the corpus;
* ``recall/<k>var``: ``Let a = 0.43 and b = 17. Then b is`` → ``17``, with k bound variables
  (chance is 1/k when the model copies some bound value without finding the asked one);
* ``copy``: a list repeated after ``; again:``.

    python -m cera.models.skills                      # the default embedded backbone (built if needed)
    python -m cera.models.skills model.pretrain.steps=1000 n=200

Prints one line per skill and the gate's verdict, and writes nothing. Every backbone build measures
the same skills (``BUILD_N`` prompts each) into its ``build.json``, and loading a backbone that misses
a gate logs a warning (``cera.models.backbone``).
"""

from __future__ import annotations

import sys
from random import Random

FAMILIES = ("basic", "logistic", "cubic_mod", "digit_squares")
# Fixed before any fine-tuned result was looked at (README "The recall gate"): a backbone that cannot
# read one named value back cannot read a problem's givens, and every math result on it measures that.
GATES = {"recall/1var": 0.90}
BUILD_N = 50  # prompts per skill measured at build time (~10-20 s on the default backbone)


def gate_failures(scores: dict[str, float]) -> list[str]:
    """The gates ``scores`` miss, one ``"<skill> <measured> < <floor>"`` each; empty when all pass."""
    return [f"{name} {scores.get(name, 0.0):.1%} < {floor:.0%}" for name, floor in GATES.items()
            if scores.get(name, 0.0) < floor]


def fact_prompts(family: str, n: int, seed: int = 0) -> list[tuple[str, str]]:
    """``n`` (prompt, answer) pairs of one family's one-step facts, split at the last ``=``."""
    from cera.data.synthetic import basic, complex as cx

    if family not in FAMILIES:
        raise ValueError(f"family={family!r} is not one of {', '.join(FAMILIES)}")
    rng = Random(f"skills:{family}:{seed}")
    draw = basic.step_fact if family == "basic" else lambda r: cx.step_fact(r, family)
    lines = [draw(rng)[:-1] for _ in range(n)]  # the corpus sentence without its full stop
    return [(line.rsplit("=", 1)[0] + "=", line.rsplit("=", 1)[1]) for line in lines]


def recall_prompts(k: int, n: int, seed: int = 0) -> list[tuple[str, str]]:
    """``n`` associative-recall prompts with ``k`` bound variables; the answer is the asked one's value."""
    rng = Random(f"skills:recall:{k}:{seed}")
    out = []
    for _ in range(n):
        names = rng.sample("abcdkmnpqrtuvwxyz", k)
        values = [f"0.{rng.randint(10, 99)}" if rng.random() < 0.5 else str(rng.randint(2, 199)) for _ in names]
        binds = [f"{a} = {v}" for a, v in zip(names, values)]
        said = binds[0] if k == 1 else ", ".join(binds[:-1]) + " and " + binds[-1]
        i = rng.randrange(k)
        out.append((f"Let {said}. Then {names[i]} is ", values[i]))
    return out


def copy_prompts(n: int, seed: int = 0) -> list[tuple[str, str]]:
    rng = Random(f"skills:copy:{seed}")
    out = []
    for _ in range(n):
        items = ", ".join(str(rng.randint(10, 199)) for _ in range(rng.randint(2, 4)))
        out.append((f"{items}; again: ", items))
    return out


def is_correct(completion: str, answer: str) -> bool:
    """The completion starts with the answer and the answer is not the prefix of a longer number."""
    rest = completion[len(answer) :]
    return completion.startswith(answer) and not (rest[:1].isdigit() or (rest[:1] == "." and rest[1:2].isdigit()))


def complete(model, tokenizer, prompts: list[str], max_new_tokens: int = 8) -> list[str]:
    """Greedy completions, one prompt at a time (prompts differ in length; the byte model is fast)."""
    import torch

    out = []
    for prompt in prompts:
        ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt").input_ids.to(model.device)
        with torch.inference_mode():
            gen = model.generate(ids, max_new_tokens=max_new_tokens, do_sample=False,
                                 pad_token_id=tokenizer.pad_token_id)
        out.append(tokenizer.decode(gen[0, ids.shape[1] :]))
    return out


def measure(model, tokenizer, n: int = 100, seed: int = 0) -> dict[str, float]:
    """Accuracy per skill (see the module docstring)."""
    suites = {f"fact/{f}": fact_prompts(f, n, seed) for f in FAMILIES}
    suites |= {f"recall/{k}var": recall_prompts(k, n, seed) for k in (1, 2, 3)}
    suites["copy"] = copy_prompts(n, seed)
    scores = {}
    for name, pairs in suites.items():
        width = max(len(a) for _, a in pairs) + 2
        got = complete(model, tokenizer, [p for p, _ in pairs], max_new_tokens=width)
        scores[name] = sum(is_correct(c, a) for c, (_, a) in zip(got, pairs)) / len(pairs)
    return scores


def main(argv: list[str]) -> int:
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from cera.config import CONF_DIR
    from cera.models.load import load_model

    n = 100
    rest = []
    for arg in argv:
        if arg.startswith("n="):
            value = arg[2:]
            if not value.isdigit() or int(value) < 1:
                print(f"cera.models.skills: error: n={value} is invalid: must be a positive integer", file=sys.stderr)
                return 2
            n = int(value)
        else:
            rest.append(arg)
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=rest)
    model, tokenizer = load_model(OmegaConf.to_container(cfg.model, resolve=True), cfg.paths.cache_dir)
    model.eval()
    scores = measure(model, tokenizer, n=n)
    for name, acc in scores.items():
        print(f"{name:24s} {acc:6.1%}  ({n} prompts)")
    failures = gate_failures(scores)
    print(f"gate: FAILED ({'; '.join(failures)})" if failures else
          f"gate: passed ({', '.join(f'{k} >= {v:.0%}' for k, v in GATES.items())})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
