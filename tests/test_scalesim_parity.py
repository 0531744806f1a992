"""Compute cycles equal those of the real SCALE-Sim v3 (PyPI ``scalesim``), shape by shape."""

import pytest

from sim.families.systolic.kernel import scalesim_total_cycles

pytest.importorskip("scalesim", reason="install the peer extra: pip install -e '.[peer]'")
from peer_scalesim import scalesim_compute_cycles  # noqa: E402

SHAPES = [  # (rows, cols, m, n, k): GEMVs, non-dividing and non-square shapes
    (8, 8, 1, 20, 16), (4, 8, 5, 13, 7), (16, 16, 33, 17, 40), (8, 4, 1, 1, 9),
    (32, 32, 64, 96, 48), (6, 10, 12, 25, 31), (32, 32, 1, 200, 128),
]


@pytest.mark.slow
@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_cycles_equal_scalesim(dataflow, shape, tmp_path):
    rows, cols, m, n, k = shape
    theirs = scalesim_compute_cycles(dataflow, rows, cols, m, n, k, tmp_path)
    assert scalesim_total_cycles(dataflow, rows, cols, m, n, k) == theirs
