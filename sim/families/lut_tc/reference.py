"""Per-cycle reference of a LUT tensor-core cluster, with the LUT arithmetic done bit-exactly.

Timing: :func:`cluster_cycles` steps one cluster cycle by cycle through a block's k-loop: the
operand port moves ``port`` bits per cycle into one of two staging buffers, the vector lanes
dequantise (MAC path), and each unit counts down the passes of the LMMA it holds, taking the
next one from the step's queue when it frees. :func:`schedule_cycles` deals blocks to clusters
cycle by cycle. Tests check both against :mod:`sim.families.lut_tc.kernel`.

Arithmetic: :func:`lut_mpgemm` computes A[m,k] x W[k,n] for unsigned ``w_bits``-bit weights
with zero point ``z`` the way the LUT unit does (weight reinterpretation q' = 2q - (2^W - 1),
one K-long table per activation group and row, symmetrization, offline or circuit index
negation, one bit-plane per pass, shift by the plane's weight, accumulate), for comparison with
the dequantised NumPy product.
"""

from __future__ import annotations

import numpy as np


# ---- timing ---------------------------------------------------------------------------------
def _steps(bm, bn, k, bk, tm, tn, tk, a_chunk_bits, b_bits, dq_ops):
    """(bits, dequant ops, unit ops) of each k-step."""
    out = []
    for i in range(-(-k // bk)):
        kk = min(bk, k - i * bk)
        chunks = -(-kk // tk)
        ops = -(-bm // tm) * -(-bn // tn) * chunks
        out.append((bm * chunks * a_chunk_bits + kk * bn * b_bits, kk * bn * dq_ops, ops))
    return out


def cluster_cycles(bm, bn, k, bk, tm, tn, tk, units, passes, a_chunk_bits, b_bits, c_bits,
                   dq_ops, vlanes, port, latency, eff_permille=1000) -> int:
    """Cycles of one block, simulated cycle by cycle (same arguments as the kernel).

    Times are cycle boundaries: work done in cycle t ends at t + 1. A step's units advance only
    in its issue cycles: cycle tau of the step's compute is one when floor((tau + 1) * eff /
    1000) > floor(tau * eff / 1000), ``eff_permille`` issue cycles per 1000.
    """
    steps = _steps(bm, bn, k, bk, tm, tn, tk, a_chunk_bits, b_bits, dq_ops)
    n = len(steps)
    bits_left = [s[0] for s in steps]
    dq_left = [s[1] for s in steps]
    queue = [s[2] for s in steps]          # LMMAs of each step not yet issued
    prep_end: list[int | None] = [None] * n
    comp_end: list[int | None] = [None] * n
    start = None                           # first compute cycle of step c
    active = last = 0                      # issue cycles so far; when the last LMMA finishes
    unit_free = [0] * units                # issue cycle at which each unit frees
    p = c = t = 0
    while c < n:
        # prep stage: one step at a time, into a buffer freed by the compute of step p - 2
        if p < n and (p < 2 or (comp_end[p - 2] is not None and comp_end[p - 2] <= t)):
            if bits_left[p] > 0:
                bits_left[p] -= min(port, bits_left[p])   # operand port
            elif dq_left[p] > 0:
                dq_left[p] -= min(vlanes, dq_left[p])     # vector lanes dequantise
            if bits_left[p] == 0 and dq_left[p] == 0:
                prep_end[p] = t + 1
                p += 1
        # units: in an issue cycle an idle unit takes the next LMMA of the current step, once
        # it is prepared and the previous step has finished
        if prep_end[c] is not None and prep_end[c] <= t and (c == 0 or comp_end[c - 1] <= t):
            if start is None:
                start, active, last, unit_free = t, 0, 0, [0] * units
            tau = t - start
            if (tau + 1) * eff_permille // 1000 > tau * eff_permille // 1000:
                for u in range(units):
                    if unit_free[u] <= active and queue[c] > 0:
                        queue[c] -= 1
                        unit_free[u] = active + passes
                        last = max(last, active + passes)
                active += 1
            if queue[c] == 0 and active >= last:
                comp_end[c] = t + 1
                c += 1
                start = None
        t += 1
    return comp_end[-1] + latency + -(-bm * bn * c_bits // port)


def schedule_cycles(durations, clusters: int) -> int:
    """Makespan of dealing blocks to clusters, cycle by cycle: an idle cluster takes the next
    block at the start of a cycle (lowest index first)."""
    left = [0] * clusters
    nxt, cycle, n = 0, 0, len(durations)
    while nxt < n or any(left):
        for c in range(clusters):
            if left[c] == 0 and nxt < n:
                left[c] = int(durations[nxt])
                nxt += 1
        if not any(left):
            continue
        for c in range(clusters):
            if left[c] > 0:
                left[c] -= 1
        cycle += 1
    return cycle


# ---- arithmetic ------------------------------------------------------------------------------
def reinterpret(q: np.ndarray, w_bits: int) -> np.ndarray:
    """q' = 2q - (2^W - 1): odd, symmetric about 0; bit-plane i of q contributes +-2^i."""
    return 2 * q.astype(np.int64) - (2 ** w_bits - 1)


def build_tables(a_chunk: np.ndarray, symmetric: bool) -> np.ndarray:
    """Tables of one activation chunk (rows x K): entry idx = sum_j a_j * (+1 if bit j of idx
    else -1); with symmetrization only the entries whose bit 0 is 0 are kept (index idx >> 1)."""
    rows, kk = a_chunk.shape
    idx = np.arange(2 ** kk)
    signs = np.where((idx[:, None] >> np.arange(kk)[None, :]) & 1, 1, -1)  # 2^K x K
    full = a_chunk @ signs.T.astype(a_chunk.dtype)                          # rows x 2^K
    return full[:, 0::2] if symmetric else full


def quantize_tables(tables: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-table symmetric quantization to ``bits``-bit integers: (codes, scale per table)."""
    qmax = 2 ** (bits - 1) - 1
    amax = np.abs(tables).max(axis=1, keepdims=True).astype(np.float64)
    scale = np.where(amax > 0, amax / qmax, 1.0)
    return np.round(tables / scale).astype(np.int64), scale


def lut_mpgemm(a: np.ndarray, q: np.ndarray, w_bits: int, tile_k: int, symmetric: bool = True,
               negation: str = "offline", lut_bits: int | None = None) -> np.ndarray:
    """sum_k a[m,k] * q'[k,n] as the LUT unit computes it (q' the reinterpreted weights).

    Exact for integer or float64-exact activations when ``lut_bits`` is None; with ``lut_bits``
    each table is quantized to that many bits and its entries are rescaled as they accumulate.
    """
    m, k = a.shape
    n = q.shape[1]
    pad = -k % tile_k
    a = np.pad(a, ((0, 0), (0, pad)))
    q = np.pad(q, ((0, pad), (0, 0)), constant_values=(2 ** w_bits - 1) // 2)
    acc = np.zeros((m, n), dtype=np.float64 if (lut_bits or a.dtype.kind == "f") else np.int64)
    for c in range(0, k + pad, tile_k):
        tables = build_tables(a[:, c:c + tile_k], symmetric)
        scale = None
        if lut_bits is not None:
            tables, scale = quantize_tables(tables, lut_bits)
        w = q[c:c + tile_k, :].astype(np.int64)                 # K x n
        if negation == "offline" and symmetric:
            w_hw = offline_invert(w, w_bits)
        else:
            w_hw = w
        for b in range(w_bits):
            idx = ((w_hw >> b) & 1).T @ (1 << np.arange(tile_k))  # n indices of this plane
            if symmetric:
                sign_bit = idx & 1
                sel = idx >> 1
                if negation == "circuit":  # invert the other index bits when bit 0 is set
                    sel = np.where(sign_bit == 1, (~sel) & (2 ** (tile_k - 1) - 1), sel)
                # offline: the weights were pre-inverted, so sel already points at the entry
                looked = tables[:, sel]
                # full T[idx] = -T[~idx]; the stored entry has bit 0 = 0, so negate when set
                looked = np.where(sign_bit[None, :] == 1, -looked, looked)
            else:
                looked = tables[:, idx]
            if scale is not None:
                looked = looked * scale
            acc = acc + looked * (1 << b)                      # shift by the plane's weight
    return acc


def offline_invert(w: np.ndarray, w_bits: int) -> np.ndarray:
    """Offline index negation: in every bit-plane where bit 0 of a K-group's index is set,
    invert that plane's other K-1 bits (the unit then only negates the looked-up value)."""
    out = w.copy()
    for b in range(w_bits):
        plane = (w >> b) & 1                                    # K x n
        flip = plane[0] == 1
        for j in range(1, w.shape[0]):
            new = np.where(flip, 1 - plane[j], plane[j])
            out[j] = (out[j] & ~(1 << b)) | (new << b)
    return out


def dequant_reference(a: np.ndarray, q: np.ndarray, w_bits: int) -> np.ndarray:
    """NumPy reference of the same sum: A @ (2q - (2^W - 1))."""
    return a @ reinterpret(q, w_bits).astype(a.dtype if a.dtype.kind == "f" else np.int64)
