"""Register-level model of an R x C systolic array, stepped one clock at a time.

Each PE holds operand registers that shift right (activations) and down (weights in OS, partial sums
in WS/IS). Real integer operands travel through the registers, so the model both computes the GEMM
(tests compare it with NumPy) and counts cycles (tests compare them with
:mod:`sim.families.systolic.kernel`). Folds are padded to the full array, as the controller
sequences the full skew whatever the fold's used size; padded lanes carry zeros.

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


def _stationary_fold(w_blk: np.ndarray, s_blk: np.ndarray, rows: int, cols: int,
                     preloaded: np.ndarray | None = None, next_blk: np.ndarray | None = None):
    """Weight/input-stationary fold.

    ``w_blk`` (r_used x c_used) is shifted into the array from the top over ``rows`` cycles (or is
    already there: ``preloaded``, the shadow registers filled during the previous fold); then
    ``s_blk`` (T x r_used) streams in from the left, row i skewed by i cycles, while partial sums
    flow down and leave the bottom row. With ``next_blk`` the next fold's stationary tile shifts
    into shadow registers from the first streaming cycle on; the fold ends when its last MAC has
    fired and the shadow is full.

    Returns ``(out (T x cols), cycles, macs_fired, shadow)``.
    """
    t_len = s_blk.shape[0]
    s_pad = np.zeros((t_len, rows), dtype=np.int64)
    s_pad[:, : s_blk.shape[1]] = s_blk
    cycle = 0
    last_mac = -1
    if preloaded is None:
        w_pad = _pad(w_blk, rows, cols)
        w_reg = np.zeros((rows, cols), dtype=np.int64)
        for step in range(rows):  # row rows-1-step enters at the top, all rows shift down
            w_reg[1:, :] = w_reg[:-1, :].copy()
            w_reg[0, :] = w_pad[rows - 1 - step, :]
            cycle += 1
        assert (w_reg == w_pad).all()
    else:
        w_reg = preloaded
    nxt = None if next_blk is None else _pad(next_blk, rows, cols)
    shadow = np.zeros((rows, cols), dtype=np.int64)
    shifted = 0
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
        if nxt is not None and shifted < rows:  # shadow chain shifts beside the datapath
            shadow[1:, :] = shadow[:-1, :].copy()
            shadow[0, :] = nxt[rows - 1 - shifted, :]
            shifted += 1
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
        if got.all() and (nxt is None or shifted == rows):
            break
        cycle += 1
    if nxt is not None:
        assert (shadow == nxt).all()
    return out, max(last_mac, cycle) + 1, fired, (shadow if nxt is not None else None)


def _pad(block: np.ndarray, rows: int, cols: int) -> np.ndarray:
    out = np.zeros((rows, cols), dtype=np.int64)
    out[: block.shape[0], : block.shape[1]] = block
    return out


def simulate_gemm(dataflow: str, rows: int, cols: int, a: np.ndarray, b: np.ndarray,
                  preload: str = "serial"):
    """Run ``a @ b`` fold by fold (column folds outer). Returns ``(C, cycles, fired_macs)``.

    ``a`` (M x K) and ``b`` (K x N) may carry a leading batch dimension: the instances run back
    to back, as the ``count`` products of one op do. ``preload="double_buffered"`` (ws/is) fills
    each fold's stationary tile during the previous fold.
    """
    batched = a.ndim == 3
    a3 = a if batched else a[None]
    b3 = b if batched else b[None]
    count, m, k = a3.shape
    n = b3.shape[2]
    c3 = np.zeros((count, m, n), dtype=np.int64)
    total = 0
    fired = 0
    if dataflow == "os":
        for x in range(count):
            for c0 in range(0, n, cols):
                for r0 in range(0, m, rows):
                    acc, cyc, f = _os_fold(a3[x, r0:r0 + rows, :], b3[x, :, c0:c0 + cols], rows, cols)
                    c3[x, r0:r0 + rows, c0:c0 + cols] = acc[: min(rows, m - r0), : min(cols, n - c0)]
                    total += cyc
                    fired += f
        return (c3 if batched else c3[0]), total, fired
    if dataflow not in ("ws", "is"):
        raise ValueError(f"unknown dataflow {dataflow!r}")
    folds = []  # (stationary block, streaming block, instance, row offset, col offset)
    for x in range(count):
        if dataflow == "ws":  # rows <- K, cols <- N, time <- M
            for c0 in range(0, n, cols):
                for r0 in range(0, k, rows):
                    folds.append((b3[x, r0:r0 + rows, c0:c0 + cols], a3[x, :, r0:r0 + rows], x, c0))
        else:  # is: rows <- K, cols <- M, time <- N
            for c0 in range(0, m, cols):
                for r0 in range(0, k, rows):
                    folds.append((a3[x, c0:c0 + cols, r0:r0 + rows].T, b3[x, r0:r0 + rows, :].T, x, c0))
    shadow = None
    for idx, (w_blk, s_blk, x, c0) in enumerate(folds):
        nxt = folds[idx + 1][0] if preload == "double_buffered" and idx + 1 < len(folds) else None
        out, cyc, f, shadow = _stationary_fold(w_blk, s_blk, rows, cols, shadow, nxt)
        if dataflow == "ws":
            c3[x, :, c0:c0 + cols] += out[:, : min(cols, n - c0)]
        else:
            c3[x, c0:c0 + cols, :] += out[:, : min(cols, m - c0)].T
        total += cyc
        fired += f
    return (c3 if batched else c3[0]), total, fired
