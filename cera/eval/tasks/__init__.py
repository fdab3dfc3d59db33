"""lm-eval task definitions of the embedded synthetic tasks (YAML) and the functions they name.

The YAML files are lm-eval task configs; ``utils.py`` holds the ``!function`` targets. See README.md.
"""
