"""Register-level model of an R x C systolic array, stepped one clock at a time.

Each PE holds operand registers that shift right (activations) and down (weights in OS, partial
sums in WS/IS). Real integer operands travel through the registers, so the model both computes
the GEMM (tests compare it with NumPy) and counts cycles (tests compare them with
:mod:`sim.kernels.systolic`). Folds are padded to the full array, as the controller sequences the
full skew whatever the fold's used size; padded lanes carry zeros.

Slow by design: O(cycles * R * C) Python/NumPy work. Use only on small shapes.
"""

from __future__ import annotations

import numpy as np


def _os_fold(a_blk: np.ndarray, b_blk: np.ndarray, rows: int, cols: int):
    """Output-stationary fold. ``a_blk``: (r_used, T), ``b_blk``: (T, c_used).

    Returns ``(acc (rows x cols), cycles, macs_fired)``; cycles = index of the last MAC + 1.
    """
    t_len = a_blk.shape[1]
    a_pad = np.zeros((rows, t_len), dtype=np.int64)
    a_pad[: a_blk.shape[0]] = a_blk
    b_pad = np.zeros((t_len, cols), dtype=np.int64)
    b_pad[:, : b_blk.shape[1]] = b_blk
    a_reg = np.zeros((rows, cols), dtype=np.int64)
    b_reg = np.zeros((rows, cols), dtype=np.int64)
    a_val = np.zeros((rows, cols), dtype=bool)
    b_val = np.zeros((rows, cols), dtype=bool)
    acc = np.zeros((rows, cols), dtype=np.int64)
    last_mac, fired, cycle = -1, 0, 0
    ii = np.arange(rows)
    jj = np.arange(cols)
    while True:
        # shift: activations move right, weights move down
        a_reg[:, 1:] = a_reg[:, :-1].copy()
        a_val[:, 1:] = a_val[:, :-1].copy()
        b_reg[1:, :] = b_reg[:-1, :].copy()
        b_val[1:, :] = b_val[:-1, :].copy()
        # skewed injection at the edges: row i gets A[i, cycle - i], column j gets B[cycle - j, j]
        ka = cycle - ii
        ok = (ka >= 0) & (ka < t_len)
        a_reg[:, 0] = np.where(ok, a_pad[ii, np.clip(ka, 0, t_len - 1)], 0)
        a_val[:, 0] = ok
        kb = cycle - jj
        ok = (kb >= 0) & (kb < t_len)
        b_reg[0, :] = np.where(ok, b_pad[np.clip(kb, 0, t_len - 1), jj], 0)
        b_val[0, :] = ok
        active = a_val & b_val
        if active.any():
            acc += np.where(active, a_reg * b_reg, 0)
            fired += int(active.sum())
            last_mac = cycle
        elif cycle > t_len + rows + cols:
            break
        cycle += 1
    return acc, last_mac + 1, fired


def _stationary_fold(w_blk: np.ndarray, s_blk: np.ndarray, rows: int, cols: int):
    """Weight/input-stationary fold.

    ``w_blk`` (r_used x c_used) is shifted into the array from the top over ``rows`` cycles;
    then ``s_blk`` (T x r_used) streams in from the left, row i skewed by i cycles, while partial
    sums flow down and leave the bottom row. Returns ``(out (T x cols), cycles, macs_fired)``.
    """
    t_len = s_blk.shape[0]
    w_pad = np.zeros((rows, cols), dtype=np.int64)
    w_pad[: w_blk.shape[0], : w_blk.shape[1]] = w_blk
    s_pad = np.zeros((t_len, rows), dtype=np.int64)
    s_pad[:, : s_blk.shape[1]] = s_blk
    w_reg = np.zeros((rows, cols), dtype=np.int64)
    cycle = 0
    last_mac = -1
    for step in range(rows):  # weight load: row rows-1-step enters at the top, all rows shift down
        w_reg[1:, :] = w_reg[:-1, :].copy()
        w_reg[0, :] = w_pad[rows - 1 - step, :]
        cycle += 1
    assert (w_reg == w_pad).all()
    a_reg = np.zeros((rows, cols), dtype=np.int64)
    a_val = np.zeros((rows, cols), dtype=bool)
    p_reg = np.zeros((rows, cols), dtype=np.int64)
    p_val = np.zeros((rows, cols), dtype=bool)
    out = np.zeros((t_len, cols), dtype=np.int64)
    got = np.zeros((t_len, cols), dtype=bool)
    ii = np.arange(rows)
    fired = 0
    start = cycle
    while True:
        tau = cycle - start
        a_reg[:, 1:] = a_reg[:, :-1].copy()
        a_val[:, 1:] = a_val[:, :-1].copy()
        ts = tau - ii
        ok = (ts >= 0) & (ts < t_len)
        a_reg[:, 0] = np.where(ok, s_pad[np.clip(ts, 0, t_len - 1), ii], 0)
        a_val[:, 0] = ok
        # partial sums: PE(i,j) adds its product to the sum arriving from PE(i-1,j)
        p_in = np.zeros((rows, cols), dtype=np.int64)
        p_in[1:, :] = p_reg[:-1, :]
        v_in = np.ones((rows, cols), dtype=bool)
        v_in[1:, :] = p_val[:-1, :]
        p_reg = p_in + np.where(a_val, a_reg * w_reg, 0)
        p_val = a_val & v_in
        if a_val.any():
            fired += int(a_val.sum())
            last_mac = cycle
        # the bottom row emits finished sums: output row t = tau - (rows-1) - j for column j
        tj = tau - (rows - 1) - np.arange(cols)
        emit = p_val[rows - 1, :] & (tj >= 0) & (tj < t_len)
        for j in np.nonzero(emit)[0]:
            out[tj[j], j] = p_reg[rows - 1, j]
            got[tj[j], j] = True
        if got.all():
            break
        cycle += 1
    return out, last_mac + 1, fired


def simulate_gemm(dataflow: str, rows: int, cols: int, a: np.ndarray, b: np.ndarray):
    """Run ``a @ b`` fold by fold (column folds outer). Returns ``(C, cycles, fired_macs)``."""
    m, k = a.shape
    k2, n = b.shape
    assert k == k2
    c = np.zeros((m, n), dtype=np.int64)
    total = 0
    fired = 0
    if dataflow == "os":
        for c0 in range(0, n, cols):
            for r0 in range(0, m, rows):
                acc, cyc, f = _os_fold(a[r0:r0 + rows, :], b[:, c0:c0 + cols], rows, cols)
                c[r0:r0 + rows, c0:c0 + cols] = acc[: min(rows, m - r0), : min(cols, n - c0)]
                total += cyc
                fired += f
        return c, total, fired
    if dataflow == "ws":  # rows <- K, cols <- N, time <- M
        for c0 in range(0, n, cols):
            for r0 in range(0, k, rows):
                out, cyc, f = _stationary_fold(b[r0:r0 + rows, c0:c0 + cols],
                                               a[:, r0:r0 + rows], rows, cols)
                c[:, c0:c0 + cols] += out[:, : min(cols, n - c0)]
                total += cyc
                fired += f
        return c, total, fired
    if dataflow == "is":  # rows <- K, cols <- M, time <- N
        for c0 in range(0, m, cols):
            for r0 in range(0, k, rows):
                out, cyc, f = _stationary_fold(a[c0:c0 + cols, r0:r0 + rows].T,
                                               b[r0:r0 + rows, :].T, rows, cols)
                c[c0:c0 + cols, :] += out[:, : min(cols, m - c0)].T
                total += cyc
                fired += f
        return c, total, fired
    raise ValueError(f"unknown dataflow {dataflow!r}")
