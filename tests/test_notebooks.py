"""The notebooks in examples/ run top to bottom on a clean kernel (nbclient), and are committed
without outputs.

`fit_your_runs.ipynb` trains the smoke sweep when PyTorch is installed (about half a minute on two cores),
so both are marked slow: CI runs them; the wheel run without PyTorch skips them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))


def test_the_two_notebooks_exist_without_outputs():
    assert {p.name for p in NOTEBOOKS} >= {"plan_a_run.ipynb", "fit_your_runs.ipynb"}
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, f"{path.name} has outputs"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_top_to_bottom(path, tmp_path):
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError naming the cell that failed
    shown = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    html = [
        o["data"]["text/html"]
        for o in shown
        if o.get("output_type") == "execute_result" and "text/html" in o.get("data", {})
    ]
    assert html, "no result displayed itself as HTML"
    assert not [o for o in shown if o.get("output_type") == "error"]
