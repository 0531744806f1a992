"""Exact compute cycles of a GEMM on an R x C systolic array (OS, WS, IS dataflows).

The GEMM C[M,N] = A[M,K] @ B[K,N] is mapped to spatial rows ``Sr``, spatial columns ``Sc`` and a
temporal dimension ``T`` as in SCALE-Sim v3:

========  ======  ======  =====
dataflow  Sr      Sc      T
========  ======  ======  =====
os        M       N       K
ws        K       N       M
is        K       M       N
========  ======  ======  =====

The array processes ``ceil(Sr/R) * ceil(Sc/C)`` folds strictly one after another; every fold is
padded to the full array, so each costs the same number of cycles:

* os: ``T + R + C - 2``   (operands skew in over R-1 / C-1 cycles, the last MAC fires in PE(R-1,C-1))
* ws, is: ``2R + C + T - 2`` (R cycles to shift the stationary tile in, then skewed streaming with
  partial sums flowing down R rows and the last column starting C-1 cycles late)

With ``preload="double_buffered"`` (ws/is only) the next fold's stationary tile shifts into shadow
registers while the current fold streams, so every fold after the first costs
``max(R + C + T - 2, R)``: its stream phase, or the R-cycle preload if that is longer.

These are the cycle counts at which the last MAC of the fold fires, counted from 1; the per-cycle
register model in :mod:`sim.families.systolic.reference` produces exactly them. SCALE-Sim's
``COMPUTE_REPORT`` prints ``folds * cycles_per_fold - 1`` (a 0-based index of the last cycle,
its issue #125); :func:`scalesim_total_cycles` gives that figure for comparisons.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from sim.core.jit import kernel

DATAFLOWS = ("os", "ws", "is")
DF_CODE = {"os": 0, "ws": 1, "is": 2}


@kernel
def _fold_cycles(df: int, rows: int, cols: int, t: int) -> int:
    """Cycles of one fold (padded to the full array) with temporal extent ``t``."""
    if df == 0:
        return t + rows + cols - 2
    return 2 * rows + cols + t - 2


@kernel
def _preloaded_fold_cycles(df: int, rows: int, cols: int, t: int) -> int:
    """Cycles of a ws/is fold whose stationary tile was shifted in during the previous fold."""
    stream = rows + cols + t - 2
    return stream if stream > rows else rows


@kernel
def _spatial_map(df: int, m: int, n: int, k: int):
    """(Sr, Sc, T) of a GEMM for dataflow code ``df``."""
    if df == 0:
        return m, n, k
    if df == 1:
        return k, n, m
    return k, m, n


@kernel
def _gemm_compute_cycles(df: int, rows: int, cols: int, m: int, n: int, k: int, count: int,
                         overlap: int):
    """(cycles, folds per instance, first-fold cycles, later-fold cycles) of ``count`` GEMMs.

    ``overlap`` = 1 preloads each fold's stationary tile during the previous fold (ws/is).
    """
    sr, sc, t = _spatial_map(df, m, n, k)
    folds = ((sr + rows - 1) // rows) * ((sc + cols - 1) // cols)
    first = _fold_cycles(df, rows, cols, t)
    later = _preloaded_fold_cycles(df, rows, cols, t) if overlap == 1 and df != 0 else first
    return first + (folds * count - 1) * later, folds, first, later


PRELOADS = ("serial", "double_buffered")


def spatial_map(dataflow: str, m: int, n: int, k: int) -> tuple[int, int, int]:
    """Public wrapper: ``(Sr, Sc, T)`` for ``dataflow`` in ``os``, ``ws``, ``is``."""
    return tuple(int(x) for x in _spatial_map(DF_CODE[dataflow], m, n, k))


def gemm_compute_cycles(dataflow: str, rows: int, cols: int, m: int, n: int, k: int,
                        count: int = 1, preload: str = "serial") -> int:
    """Compute cycles (no memory stalls) of ``count`` back-to-back ``m x k @ k x n`` GEMMs."""
    _check_positive(rows=rows, cols=cols, m=m, n=n, k=k, count=count)
    return int(_gemm_compute_cycles(DF_CODE[dataflow], rows, cols, m, n, k, count,
                                    PRELOADS.index(preload))[0])


def scalesim_total_cycles(dataflow: str, rows: int, cols: int, m: int, n: int, k: int) -> int:
    """The "Total Cycles" SCALE-Sim v3 prints in CALC mode (ours minus one)."""
    return gemm_compute_cycles(dataflow, rows, cols, m, n, k) - 1


class Folds(NamedTuple):
    """Folds of one GEMM in execution order (column folds outer, row folds inner)."""

    r_used: np.ndarray  # used array rows of each fold (int64, length row_folds * col_folds)
    c_used: np.ndarray  # used array columns of each fold
    t: int              # temporal extent of every fold
    row_folds: int
    first_cycles: int   # cycles of the first fold
    later_cycles: int   # cycles of every later fold (fewer if the stationary tile is preloaded)

    @property
    def n(self) -> int:
        return int(self.r_used.size)

    @property
    def i(self) -> np.ndarray:
        """Row-fold index of each fold."""
        return np.tile(np.arange(self.row_folds), self.n // self.row_folds)

    @property
    def first_col_pass(self) -> np.ndarray:
        """True for the folds of the first column fold."""
        return np.arange(self.n) < self.row_folds


def fold_grid(dataflow: str, rows: int, cols: int, m: int, n: int, k: int,
              preload: str = "serial") -> Folds:
    """The :class:`Folds` of one ``m x k @ k x n`` GEMM on an ``rows x cols`` array."""
    sr, sc, t = spatial_map(dataflow, m, n, k)
    fr, fc = -(-sr // rows), -(-sc // cols)
    r_used = np.full(fr, rows, dtype=np.int64)
    r_used[-1] = sr - rows * (fr - 1)
    c_used = np.full(fc, cols, dtype=np.int64)
    c_used[-1] = sc - cols * (fc - 1)
    _, _, first, later = _gemm_compute_cycles(DF_CODE[dataflow], rows, cols, m, n, k, 1,
                                              PRELOADS.index(preload))
    return Folds(np.tile(r_used, fc), np.repeat(c_used, fr), t, fr, int(first), int(later))


def _check_positive(**values: int) -> None:
    for name, v in values.items():
        if v <= 0:
            raise ValueError(f"{name} must be positive, got {v}")
