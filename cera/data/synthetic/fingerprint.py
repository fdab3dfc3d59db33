"""One short hash of what the synthetic generators and the pre-training corpus produce.

A run's identity (``cera.runs.naming``) hashes its config, but two versions of cera can draw
different data from the same config: a changed template, range or corpus weight leaves every key
as it was. Without this fingerprint in the identity, a relaunch after such a change finds the old
run "done" and reports numbers trained on data that no longer exists (it happened while the
embedded tasks were being calibrated: one run name, two backbones). The probe is fixed and small
(64 examples per family at seed 0 and 256 corpus documents, ~20 ms): any change to a format, a
range or a sampling weight changes it; a change that touches only draws outside the probe would
not (none of the generators has such a branch today).
"""

from __future__ import annotations

import hashlib
import json
from functools import cache

PROBE_EXAMPLES = 64
PROBE_DOCS = 256


@cache
def generator_fingerprint() -> str:
    from cera.data.synthetic import FAMILIES, generate_family, pretraining_texts

    h = hashlib.sha256()
    for family in sorted(FAMILIES):
        for ex in generate_family(family, 0, {"train": PROBE_EXAMPLES})["train"]:
            row = [ex.system, ex.instruction, ex.response, ex.answer, dict(ex.meta)]
            h.update(json.dumps(row, sort_keys=True, default=str).encode())
    for doc in pretraining_texts(PROBE_DOCS, 0):
        h.update(doc.encode() + b"\0")
    return h.hexdigest()[:16]
