"""The notebooks in docs/notebooks run top to bottom (small settings, in a scratch folder)."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("pandas")

NOTEBOOKS = Path(__file__).resolve().parent.parent / "docs" / "notebooks"


def _builder():
    spec = importlib.util.spec_from_file_location("notebook_build", NOTEBOOKS / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_notebook_in_the_build_script_is_stored():
    stored = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
    assert stored == sorted(_builder().NOTEBOOKS) and len(stored) == 4


@pytest.mark.parametrize("name", sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")))
def test_notebook_runs(name, tmp_path):
    build = _builder()
    path = tmp_path / name
    shutil.copy(NOTEBOOKS / name, path)
    nb = build.execute(path, tmp_path, quick=True, timeout=300)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert not errors
    # the stored copy's code is what build.py writes: nobody edited one without the other
    stored = [c.source for c in build.build(build.NOTEBOOKS[name]).cells]
    assert [c.source for c in nb.cells] == stored
