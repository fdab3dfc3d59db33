"""The embedded default backbone: a small Llama pre-trained here, offline, and cached by content.

Why build our own: the Hub is unreachable on development machines and CI, yet the adapters need a
*pre-trained* model to adapt (a random one gives meaningless adapter comparisons). The backbone is
pre-trained on ``cera.data.pretraining_texts`` — plain text that teaches bytes, words and numbers but
never the instruction template — so fine-tuning still has something real to learn.

Caching: the directory name is a hash of the architecture, the pre-training recipe and the corpus
bytes themselves, so any change to any of them builds a new backbone and a stale one is never used.
Concurrent jobs serialise on a file lock: one builds (into a temp dir, then an atomic rename), the
others wait and then load it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from cera.models.cache import build_once

log = logging.getLogger(__name__)

BUILD_FORMAT = 1  # bump when the build procedure changes in a way the spec does not capture
DONE_MARKER = "build.json"


@dataclass(frozen=True)
class Architecture:
    hidden_size: int = 128
    num_layers: int = 4
    num_heads: int = 4
    num_kv_heads: int = 2  # grouped-query attention like Llama-3: v_proj maps d -> d/2
    intermediate_size: int = 344
    max_position_embeddings: int = 512


@dataclass(frozen=True)
class Pretraining:
    docs: int = 30000  # documents in the synthetic corpus
    corpus_seed: int = 1234
    steps: int = 600  # optimizer steps
    batch_size: int = 16  # sequences per step
    seq_len: int = 256  # tokens (bytes) per packed sequence
    lr: float = 3e-3
    warmup_steps: int = 30
    weight_decay: float = 0.01
    seed: int = 0


@dataclass(frozen=True)
class BackboneSpec:
    architecture: Architecture = field(default_factory=Architecture)
    pretrain: Pretraining = field(default_factory=Pretraining)

    @classmethod
    def from_dict(cls, d: dict | None) -> "BackboneSpec":
        d = dict(d or {})
        arch = d.pop("architecture", {}) or {}
        pre = d.pop("pretrain", {}) or {}
        if d:
            raise ValueError(f"unknown backbone keys {sorted(d)}: allowed are architecture, pretrain")
        return cls(Architecture(**arch), Pretraining(**pre))


def _corpus(spec: BackboneSpec) -> list[str]:
    from cera.data import pretraining_texts

    return pretraining_texts(spec.pretrain.docs, spec.pretrain.corpus_seed)


def backbone_key(spec: BackboneSpec, corpus: list[str]) -> str:
    h = hashlib.sha256()
    h.update(json.dumps({"format": BUILD_FORMAT, **asdict(spec)}, sort_keys=True).encode())
    for doc in corpus:
        h.update(doc.encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


def ensure_backbone(spec: BackboneSpec, cache_dir: str | os.PathLike) -> Path:
    """Return the directory of the built backbone, building it first if no job has yet."""
    corpus = _corpus(spec)
    target = Path(cache_dir).expanduser() / "backbones" / f"tiny-llama-{backbone_key(spec, corpus)}"

    def build(tmp: Path) -> None:
        log.info("building the embedded backbone into %s (once; later runs reuse it)", target)
        _build(spec, corpus, tmp)

    return build_once(target, DONE_MARKER, build)


def llama_config(a: Architecture, tokenizer):
    """The transformers LlamaConfig of an embedded architecture (also used by ``model.init=random``)."""
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=a.hidden_size,
        intermediate_size=a.intermediate_size,
        num_hidden_layers=a.num_layers,
        num_attention_heads=a.num_heads,
        num_key_value_heads=a.num_kv_heads,
        max_position_embeddings=a.max_position_embeddings,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )


def _packed_blocks(tokenizer, corpus: list[str], seq_len: int) -> list[list[int]]:
    ids: list[int] = []
    for enc in tokenizer(corpus, add_special_tokens=False)["input_ids"]:
        ids.extend(enc)
        ids.append(tokenizer.eos_token_id)
    return [ids[i : i + seq_len] for i in range(0, len(ids) - seq_len + 1, seq_len)]


def _build(spec: BackboneSpec, corpus: list[str], out: Path) -> None:
    import torch
    from datasets import Dataset
    from transformers import LlamaForCausalLM, Trainer, TrainingArguments, default_data_collator

    from cera.provenance import provenance
    from cera.tokenizer import build_tokenizer

    a, p = spec.architecture, spec.pretrain
    tokenizer = build_tokenizer(model_max_length=a.max_position_embeddings)
    config = llama_config(a, tokenizer)
    torch.manual_seed(p.seed)
    model = LlamaForCausalLM(config)
    blocks = _packed_blocks(tokenizer, corpus, p.seq_len)
    data = Dataset.from_dict({"input_ids": blocks, "labels": blocks})
    args = TrainingArguments(
        output_dir=str(out / "_trainer"),
        max_steps=p.steps,
        per_device_train_batch_size=p.batch_size,
        learning_rate=p.lr,
        lr_scheduler_type="cosine",
        warmup_steps=p.warmup_steps,
        weight_decay=p.weight_decay,
        logging_steps=max(1, p.steps // 20),
        save_strategy="no",
        report_to=[],
        seed=p.seed,
        use_cpu=not torch.cuda.is_available(),
        dataloader_num_workers=0,
    )
    start = time.time()
    trainer = Trainer(model=model, args=args, train_dataset=data, data_collator=default_data_collator)
    trainer.train()
    curve = [{"step": r["step"], "loss": r["loss"]} for r in trainer.state.log_history if "loss" in r]
    shutil.rmtree(out / "_trainer", ignore_errors=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    record = {
        "spec": asdict(spec),
        "parameters": sum(t.numel() for t in model.parameters()),
        "corpus_docs": len(corpus),
        "corpus_tokens": len(blocks) * p.seq_len,
        "epochs": p.steps * p.batch_size / max(1, len(blocks)),
        "build_seconds": round(time.time() - start, 1),
        "loss_curve": curve,
        **provenance(),
    }
    record["skills"] = _skills(model, tokenizer)
    (out / DONE_MARKER).write_text(json.dumps(record, indent=2, default=str))
    log.info("backbone built in %.0fs, final pre-training loss %.3f", record["build_seconds"], curve[-1]["loss"])


def _skills(model, tokenizer) -> dict:
    """What the new backbone knows (``cera.models.skills``), kept beside it: whether it is fit for the
    math tasks is a property of this build (it changes with the pre-training seed), not of the recipe."""
    from cera.models.skills import BUILD_N, gate_failures, measure

    model.eval()
    scores = {k: round(v, 4) for k, v in measure(model, tokenizer, n=BUILD_N).items()}
    return {"n": BUILD_N, "scores": scores, "gate_failures": gate_failures(scores)}


def warn_if_below_gate(path: str | os.PathLike) -> list[str]:
    """Log a warning when the backbone at ``path`` missed a skills gate at build time; return the misses.
    Backbones built before the build measured skills have no record and pass silently."""
    record = json.loads((Path(path) / DONE_MARKER).read_text())
    failures = (record.get("skills") or {}).get("gate_failures") or []
    if failures:
        log.warning("the backbone %s misses the skills gate (%s): math results on it measure that, not the "
                    "adapters (README \"The recall gate\"; python -m cera.models.skills re-measures it)",
                    Path(path).name, "; ".join(failures))
    return failures
