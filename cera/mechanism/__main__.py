"""Hydra entry point: ``python -m cera.mechanism [key=value ...]`` (see conf/mechanism.yaml).

Prints a residual table (mean over seeds, per target, variant and rank) and where the JSON went.
A bad option exits with code 2 and one ``cera: error: ...`` line before any fit runs.
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

from cera.config import ConfigError


@hydra.main(config_path="../../conf", config_name="mechanism", version_base="1.3")
def main(cfg: DictConfig) -> None:
    from cera.mechanism import run_mechanism
    from cera.mechanism.settings import check_mechanism

    try:
        check_mechanism(cfg)
    except ConfigError as exc:
        print(f"cera: error: {str(exc).splitlines()[0]}", file=sys.stderr)
        sys.exit(2)
    record = run_mechanism(cfg)
    print(summary(record))
    print(f"wrote {record['file']} ({record['wall_seconds']:.0f} s)")


def summary(record: dict) -> str:
    """Mean held-out residual per (target, variant) across ranks; '*' marks a cell with an unconverged
    fit, and every unconverged fit is named with its last gain."""
    import pandas as pd

    rows = pd.DataFrame(record["rows"])
    lines = []
    for target, sub in rows.groupby("target", sort=False):
        cell = sub.groupby(["variant", "rank"], sort=False).agg(res=("residual_test", "mean"),
                                                                ok=("converged", "all"))
        ranks = sorted(sub["rank"].unique())
        lines += [f"\n{target} target: held-out relative residual (mean over {sub['seed'].nunique()} seeds)",
                  f"{'variant':<16}" + "".join(f"{'r=' + str(r):>10}" for r in ranks)]
        for variant in dict.fromkeys(sub["variant"]):
            cells = [cell.loc[(variant, r)] for r in ranks]
            lines.append(f"{variant:<16}" + "".join(f"{c.res:>9.4f}{' ' if c.ok else '*'}" for c in cells))
    bad = rows[~rows["converged"]]
    steps = rows["steps"]
    lines.append(f"\nconvergence: {len(rows) - len(bad)} of {len(rows)} fits passed (train objective gained "
                 f"< {record['config']['converge_tol'] * 100:g}% over the last half of their steps); steps run: "
                 f"median {int(steps.median())}, max {int(steps.max())}")
    lines += [f"  NOT converged: {r.target} {r.variant} r={r.rank} seed {r.seed}: still gained {r.gain:.1%} "
              f"from step {r.steps // 2} to {r.steps}" for r in bad.itertuples()]
    return "\n".join(lines) + "\n(* = a fit in this cell did not converge)"


if __name__ == "__main__":
    main()
