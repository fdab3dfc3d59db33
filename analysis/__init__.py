"""Paper artifacts from run directories: `python -m analysis` / `make figures` (see analysis/README.md)."""

from analysis.build import build_all
from analysis.load import load_curves, load_runs, load_spectra, select_setting

__all__ = ["build_all", "load_runs", "load_curves", "load_spectra", "select_setting"]
