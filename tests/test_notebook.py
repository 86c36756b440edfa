"""The chapter-8 notebook runs top to bottom in a Jupyter kernel of this environment.

The kernel is the ``python3`` kernelspec that ipykernel installs into the
environment; jupyter_client starts it with the interpreter running the tests.
The checks read the notebook's outputs as Jupyter would show them: the HTML
progress bar and epoch table ``fit`` draws, the results' HTML tables.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import embrec

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "examples" / "collab_chapter8.ipynb"
CELL_TIMEOUT = 180
TOTAL_SECONDS = 300
EPOCHS = 4  # the notebook's fastbook settings

PROBE = """import json, sys
import embrec as _embrec
print(json.dumps({
    "executable": sys.executable, "embrec": _embrec.__file__,
    "rmse": {"dot": dot.metrics["test_rmse"], "biased": biased.metrics["test_rmse"],
             "net": net.metrics["test_rmse"], "fast": fast.metrics["test_rmse"],
             "cv": cv.rmse_mean},
    "new_user": new_user.strategy, "n_new_user": len(new_user),
}))"""


def code_cells(notebook: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def cell_with(notebook: nbformat.NotebookNode, text: str) -> nbformat.NotebookNode:
    matches = [cell for cell in code_cells(notebook) if text in cell.source]
    assert len(matches) == 1, f"{len(matches)} cells hold {text!r}"
    return matches[0]


def html_of(cell: nbformat.NotebookNode) -> list[str]:
    return [o["data"]["text/html"] for o in cell.outputs if "text/html" in o.get("data", {})]


def test_the_notebook_is_committed_without_outputs():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    assert notebook.metadata.kernelspec.name == "python3"
    for cell in code_cells(notebook):
        assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]


@pytest.mark.realdata
@pytest.mark.slow
def test_chapter8_notebook_runs_in_this_environments_kernel(data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("EMBREC_DATA_DIR", str(data_dir))
    monkeypatch.setenv("EMBREC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(REPO / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]
    ))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(PROBE))
    client = NotebookClient(
        notebook, timeout=CELL_TIMEOUT, kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    started = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - started
    assert seconds < TOTAL_SECONDS

    probe = json.loads(code_cells(notebook)[-1].outputs[0]["text"])
    assert os.path.realpath(probe["executable"]) == os.path.realpath(sys.executable)
    assert Path(probe["embrec"]).resolve() == Path(embrec.__file__).resolve()
    rmse = probe["rmse"]
    assert 0.85 < rmse["biased"] < 0.95 and 0.85 < rmse["dot"] < 0.97
    assert 0.85 < rmse["net"] < 0.98 and 0.85 < rmse["fast"] < 0.94 and 0.85 < rmse["cv"] < 0.94
    assert probe["new_user"].startswith("fold-in") and probe["n_new_user"] == 8

    for model in ('"mf"', '"mf-bias"', '"embnet"'):
        name = f"fit(split.train, {model}"
        progress = [h for h in html_of(cell_with(notebook, name)) if "<progress" in h]
        assert len(progress) == 1, name  # one display, updated in place
        assert f'value="{EPOCHS}" max="{EPOCHS}"' in progress[0]
        assert progress[0].count("<tr>") == 1 + EPOCHS  # the header and one row per epoch
    cv_html = html_of(cell_with(notebook, "cross_validate"))
    assert any("Fold 5" in h and "Mean" in h and "RMSE (testset)" in h for h in cv_html)
    shown = cell_with(notebook, "embrec.recommend(biased, 196").outputs[-1]["data"]
    assert shown["text/plain"].startswith("5 recommendations for user 196")
    assert "<table" in shown["text/html"]
    for cell in code_cells(notebook):
        streams = [o for o in cell.outputs if o.output_type == "stream" and o.name == "stderr"]
        assert not streams, f"{cell.source[:40]!r} wrote to stderr: {streams[0]['text'][:300]}"
