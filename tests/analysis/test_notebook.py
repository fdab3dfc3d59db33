"""notebooks/reproduction.ipynb executes end to end on a small outputs tree."""

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.analysis.tree import small_tree

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_notebook_executes(tmp_path, monkeypatch):
    out = small_tree(tmp_path / "outputs")
    monkeypatch.setenv("CERA_OUTPUTS", str(out))
    monkeypatch.setenv("PYTHONPATH", f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    nb = nbformat.read(ROOT / "notebooks" / "reproduction.ipynb", as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs)
    assert (out / "tables" / "claims.md").exists()
