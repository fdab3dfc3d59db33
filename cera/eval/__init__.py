"""Measurements of SPEC §3: pass@k, confidence intervals, spectra of adapter updates, state collapse,
and the downstream evaluation of a trained run that uses them.

Pure functions over numbers, tensors and text: `cera.eval.passk`, `cera.eval.stats`,
`cera.eval.spectral` (with `cera.eval.rank`), `cera.eval.collapse`.
Evaluation of a model (runs lm-eval, generates data): `cera.eval.run_eval.evaluate_run` and its parts
`cera.eval.lmeval_tasks` (task files), `cera.eval.downstream` (generation, per-sample scoring,
pass@k), `cera.eval.probe` (spectra on a probe batch), `cera.eval.config` (the `eval` group).
See cera/eval/README.md.
"""
