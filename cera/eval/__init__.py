"""Measurements of SPEC §3: pass@k, confidence intervals, spectra of adapter updates, state collapse.

Pure functions over numbers, tensors and text; nothing here runs lm-eval or loads data. Import
from the submodules: `cera.eval.passk`, `cera.eval.stats`, `cera.eval.spectral`,
`cera.eval.collapse`.
"""
