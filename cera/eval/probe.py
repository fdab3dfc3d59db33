"""Spectra of a trained adapter on a fixed probe batch (SPEC §3), written to spectra.json.

Probe batch: the first ``eval.probe_size`` examples of the test split of the run's own data config
(for synthetic data drawn with n_test = probe_size, so it never depends on the other split sizes),
tokenized exactly as in training (prompt + response + eos, cut at ``train.max_seq_len``). It is a
pure function of the data config, hence the same at the end of training and in a later
``python -m cera.evaluate``. Padding tokens are excluded (unless ``eval.spectra.mask_padding=false``);
at most ``MAX_TOKENS`` rows per layer.

``summary`` is the run's headline effective rank and AUC-90: the mean over layers of each layer's value
(``eval.spectra.aggregate=per_layer``), or those of the layers' normalised spectra averaged
(``mean_spectrum``, the CeRA authors' way).
"""

from __future__ import annotations

from collections.abc import Mapping

from cera.adapters import AdapterError, method_of
from cera.eval.spectral import aggregate, collect_branch_spectra, delta_weight_spectra, mean_spectrum

MAX_TOKENS = 2048  # activation rows per layer (tokens of the probe batch, in batch order)


def probe_examples(data_cfg: Mapping, size: int) -> list:
    """The first ``size`` test examples of a ``data`` config."""
    from cera.data import load_splits

    data = dict(data_cfg)
    if data.get("source") == "synthetic":
        data.update(n_train=0, n_val=0, n_test=size)
    return list(load_splits(data).test[:size])


def probe_batch(tokenizer, examples: list, max_len: int) -> dict:
    """Right-padded training-format batch (input_ids, attention_mask, labels) of ``examples``."""
    from cera.data import SFTCollator, tokenize_sft

    features = [f for f in (tokenize_sft(tokenizer, ex, max_len) for ex in examples) if f is not None]
    if not features:
        raise ValueError(f"probe batch: no example fits train.max_seq_len={max_len}")
    return SFTCollator(tokenizer.pad_token_id)(features)


def measure_spectra(model, batch: Mapping, options: Mapping | None = None) -> dict:
    """{"method", "probe", "options", "branch", "branch_aggregate", "summary", "delta_weight",
    "delta_weight_aggregate"}; `options` are ``eval.spectra``'s (cera.eval.config.SPECTRA_DEFAULTS)."""
    from cera.eval.config import SPECTRA_DEFAULTS

    options = {**SPECTRA_DEFAULTS, **(options or {})}
    method = method_of(model)
    branch = collect_branch_spectra(model, batch, max_tokens=MAX_TOKENS, center=options["center"],
                                    layers=options["layers"], mask_padding=options["mask_padding"])
    per_layer = aggregate(branch)
    if options["aggregate"] == "mean_spectrum":
        mean = mean_spectrum(branch)
        summary = {"effective_rank": mean["effective_rank"], "auc90": mean["auc90"], "how": "mean_spectrum",
                   "singular_values": mean["singular_values"]}
    else:
        summary = {"effective_rank": per_layer["effective_rank"]["mean"], "auc90": per_layer["auc90"]["mean"],
                   "how": "per_layer"}
    try:
        delta = delta_weight_spectra(model)
    except AdapterError:  # no ΔW: a non-linear method (cera, parallel)
        delta = None
    mask = batch["attention_mask"]
    return {
        "method": method,
        "probe": {"sequences": int(mask.shape[0]), "tokens": int(mask.sum()), "max_tokens_per_layer": MAX_TOKENS},
        "options": {k: options[k] for k in ("center", "layers", "mask_padding", "aggregate")},
        "branch": branch,
        "branch_aggregate": per_layer,
        "summary": summary,
        "delta_weight": delta,
        "delta_weight_aggregate": aggregate(delta) if delta else None,
    }
