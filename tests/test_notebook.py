"""notebooks/training_a_dcgan.ipynb runs top to bottom (on tiny data set
through its parameter cell)."""

import glob
import os
import re

import pytest

from conftest import ROOT, make_idx_folder

NOTEBOOK = os.path.join(ROOT, "notebooks", "training_a_dcgan.ipynb")


@pytest.mark.slow
def test_the_notebook_runs_top_to_bottom_on_tiny_data(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("DCGAN_CACHE", str(tmp_path / "cache"))
    data = make_idx_folder(tmp_path / "data", train=400, test=200)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    parameters = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(parameters) == 1 and nb.cells.index(parameters[0]) == 1     # at the top
    parameters[0].source = (f"EPOCHS = 2\nBATCH_SIZE = 64\nDATA_DIR = {str(data)!r}\n"
                            f"OUTPUT = {str(tmp_path / 'run')!r}\nLIMIT = None\nEVAL_NUM = 256\n"
                            "SEED = 42\n")
    for cell in nb.cells:                          # run it fresh
        if cell.cell_type == "code":
            cell.outputs = []
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": os.path.dirname(NOTEBOOK)}})
    client.execute()                               # raises CellExecutionError on any cell's error
    assert (tmp_path / "run" / "epoch_0002.png").exists()
    assert (tmp_path / "run" / "walk.gif").exists()
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "[INFO] Generator Loss:" in printed and "fld" in printed


def test_the_committed_notebook_is_executed_and_small():
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if "image/png" in o.get("data", {}) or "image/gif" in o.get("data", {})]
    assert len(images) >= 6                        # montages, losses, GIF, samples, walk
    assert os.path.getsize(NOTEBOOK) < 2 * 2**20


def test_the_committed_records_name_no_path_of_this_machine():
    # records written for sharing: paths relative to the output folder or ~
    machine = re.compile(r"(?<![\w.~])/(root|home|Users|work|tmp|mnt|private)/")
    shared = glob.glob(os.path.join(ROOT, "output", "*.json")) + [NOTEBOOK]
    for path in shared:
        with open(path, encoding="utf-8") as f:
            found = machine.search(f.read())
        assert found is None, f"{os.path.relpath(path, ROOT)} names {found.group(0)}"
