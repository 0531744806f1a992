"""Cycle kernels of a tensor-core cluster (an SM) running LUT or MAC tensor-core units.

A GEMM C[m,n] = A[m,k] B[k,n] (``count`` instances) is cut into *blocks* of bm x bn outputs
(a CUDA thread block), dealt to ``clusters`` identical clusters greedily in raster order (the
next block goes to the cluster that frees first, lowest index on ties). A cluster runs its
block's k-loop in *steps* of bk:

* **prep** of step i moves its operands over the cluster's operand port (``port`` bits per
  cycle: tables or activations, plus weights) and then, on the MAC path with narrow weights,
  dequantises the weights on the cluster's vector lanes. One step is prepared at a time, into
  one of two staging buffers.
* **compute** of step i issues its unit operations (LMMAs: tm x tn x tk lookups, or MMAs) to the
  ``units`` units; each takes ``passes`` unit cycles (one per weight bit-plane on a LUT unit, 1
  on a MAC unit), so a step needs W = ceil(ops / units) * passes unit cycles. The cluster issues
  at a sustained ``eff_permille`` / 1000 of the units' peak (a real kernel's issue, bank and
  synchronisation stalls): in the first t cycles of a step's compute, floor(t * eff / 1000) are
  unit cycles, so the step lasts ceil(W * 1000 / eff) cycles.
* Prep of step i+1 starts when prep i is done and its buffer is free (compute i-1 done);
  compute i starts when prep i is done and compute i-1 is done. After the last step the unit
  pipeline drains (``latency``) and the bm x bn outputs leave over the port (epilogue).

The per-cycle reference (:mod:`sim.families.lut_tc.reference`) steps the port, the vector lanes and
every unit cycle by cycle and matches these cycles exactly.
"""

from __future__ import annotations

import numpy as np

from sim.core.jit import kernel


@kernel
def _cdiv(a, b):
    return -(-a // b)


@kernel
def block_cycles(bm, bn, k, bk, tm, tn, tk, units, passes, a_chunk_bits, b_bits, c_bits,
                 dq_ops, vlanes, port, latency, eff_permille):
    """Cycles of one block of ``bm`` x ``bn`` outputs over a k-loop of length ``k``.

    ``a_chunk_bits``: A-side bits per output row and tk-chunk of k (a table set, or tk
    activations); ``b_bits``: bits per weight; ``dq_ops``: vector ops per weight to dequantise
    (0: none); ``vlanes``: vector lanes of the cluster; ``port``: operand bits per cycle;
    ``eff_permille``: sustained issue rate in thousandths of the units' peak (1000: every cycle).
    """
    steps = _cdiv(k, bk)
    prep_end = 0
    comp_end = 0
    comp_end_prev2 = 0  # compute end of step i-2: frees the buffer step i loads into
    for i in range(steps):
        kk = min(bk, k - i * bk)
        chunks = _cdiv(kk, tk)
        bits = bm * chunks * a_chunk_bits + kk * bn * b_bits
        prep = _cdiv(bits, port)
        if dq_ops > 0:
            prep += _cdiv(kk * bn * dq_ops, vlanes)
        prep_end = max(prep_end, comp_end_prev2) + prep
        ops = _cdiv(bm, tm) * _cdiv(bn, tn) * chunks
        comp = _cdiv(_cdiv(ops, units) * passes * 1000, eff_permille)
        comp_end_prev2 = comp_end
        comp_end = max(prep_end, comp_end) + comp
    return comp_end + latency + _cdiv(bm * bn * c_bits, port)


@kernel
def unit_ops(m, n, k, bm, bn, bk, tm, tn, tk):
    """Unit operations (LMMAs / MMAs) of one GEMM instance with edge blocks padded to tiles."""
    total = 0
    for mi in range(_cdiv(m, bm)):
        em = min(bm, m - mi * bm)
        for ni in range(_cdiv(n, bn)):
            en = min(bn, n - ni * bn)
            for ki in range(_cdiv(k, bk)):
                ek = min(bk, k - ki * bk)
                total += _cdiv(em, tm) * _cdiv(en, tn) * _cdiv(ek, tk)
    return total


@kernel
def schedule(durations, clusters):
    """Greedy list schedule of blocks (in order) on identical clusters.

    Returns (wave_end, makespan): ``wave_end[w]`` is the latest end of any block of waves
    0..w, a wave being ``clusters`` consecutive blocks.
    """
    n = durations.shape[0]
    c = min(clusters, n)
    free = np.zeros(c, dtype=np.int64)
    waves = _cdiv(n, clusters)
    wave_end = np.zeros(waves, dtype=np.int64)
    latest = 0
    for b in range(n):
        j = 0
        for q in range(1, c):  # earliest-free cluster, lowest index on ties
            if free[q] < free[j]:
                j = q
        free[j] += durations[b]
        if free[j] > latest:
            latest = free[j]
        wave_end[b // clusters] = latest
    return wave_end, latest


@kernel
def gemm_blocks(m, n, k, count, bm, bn, bk, tm, tn, tk, units, passes, a_chunk_bits, b_bits,
                c_bits, dq_ops, vlanes, port, latency, eff_permille):
    """Durations of every block of ``count`` GEMM instances, raster order (n fastest)."""
    mb = _cdiv(m, bm)
    nb = _cdiv(n, bn)
    edge_m = m - (mb - 1) * bm
    edge_n = n - (nb - 1) * bn
    shapes = np.zeros((2, 2), dtype=np.int64)
    for a in range(2):
        for b in range(2):
            shapes[a, b] = block_cycles(bm if a == 0 else edge_m, bn if b == 0 else edge_n, k, bk,
                                        tm, tn, tk, units, passes, a_chunk_bits, b_bits, c_bits,
                                        dq_ops, vlanes, port, latency, eff_permille)
    out = np.empty(count * mb * nb, dtype=np.int64)
    i = 0
    for _ in range(count):
        for mi in range(mb):
            for ni in range(nb):
                out[i] = shapes[1 if mi == mb - 1 else 0, 1 if ni == nb - 1 else 0]
                i += 1
    return out
