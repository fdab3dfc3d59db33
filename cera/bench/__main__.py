"""Hydra entry point: ``python -m cera.bench [key=value ...]`` (see conf/bench.yaml).

Prints the Markdown table and where the JSON and Markdown went. Bad input (an unknown method, a
non-positive shape, device=cuda without CUDA) exits with code 2 and one ``cera: error: ...`` line
before the backbone is loaded.
"""

from __future__ import annotations

import logging
import sys

import hydra
from omegaconf import DictConfig

from cera.config import ConfigError

log = logging.getLogger("cera.bench")


@hydra.main(config_path="../../conf", config_name="bench", version_base="1.3")
def main(cfg: DictConfig) -> None:
    from cera.adapters import AdapterError
    from cera.bench import benchmark
    from cera.models.load import ModelError

    try:
        result = benchmark(cfg)
    except (ConfigError, ModelError, AdapterError) as exc:
        print(f"cera: error: {str(exc).splitlines()[0]}", file=sys.stderr)
        sys.exit(2)
    print(result["markdown"])
    print(f"wrote {' and '.join(result['files'])} ({result['wall_seconds']:.0f} s)")


def cli() -> None:
    from cera.config import check_unknown_keys

    try:  # a typo such as shapes.bach=4 or +foo=1: one line, before Hydra composes anything
        check_unknown_keys(sys.argv[1:], "bench")
    except ConfigError as exc:
        print(f"cera: error: {exc}", file=sys.stderr)
        sys.exit(2)
    main()


if __name__ == "__main__":
    cli()
