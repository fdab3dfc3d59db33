"""python -m analysis [--outputs DIR] [--model NAME]: every table and figure from run directories."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analysis", description=__doc__)
    parser.add_argument("--outputs", default=os.environ.get("CERA_OUTPUTS", "outputs"),
                        help="the outputs directory holding runs/ (default: $CERA_OUTPUTS or outputs)")
    parser.add_argument("--model", default=None, help="model name to report (default: the one with most runs)")
    args = parser.parse_args(argv)
    if not Path(args.outputs).is_dir():
        print(f"analysis: error: --outputs {args.outputs!r} is not a directory", file=sys.stderr)
        return 2
    from analysis.build import build_all

    start = time.perf_counter()
    result = build_all(args.outputs, args.model)
    for path in result["written"]:
        print(f"wrote {path}")
    for problem in result["problems"]:
        print(f"problem: {problem}")
    for line in result.get("mixed", []):
        print(f"warning: {line}")
    print(f"{result['runs']} runs read; {len(result['written'])} files in {time.perf_counter() - start:.1f} s "
          f"(see {Path(args.outputs) / 'report.md'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
