"""Value-dependent cycle kernels of bit-serial / bit-slice MAC engines.

An engine unit consumes one *serial* operand (a row of K integers) term by term while its PEs hold
the *parallel* operand. What a unit costs depends on the bits of the serial values:

* ``digit_serial`` (TPE OPT3 / OPT4C / OPT4E, Wu et al. HPCA'25): the serial values are EN-T (or
  MBE) encoded into radix-4 digits. For each digit position ``bw`` and each group of ``group``
  consecutive k, the sparse encoder issues one partial product per non-zero digit, and an
  all-zero group still costs one cycle: ``sum_bw sum_g max(1, nnz(bw, g))``. With ``streams > 1``
  (OPT4E) K is split into that many contiguous parts reduced by one shared compressor, so each
  (bw, g) step lasts as long as its slowest stream.
* ``lane_max`` (Bit-Tactical TCLp, Dynamic Stripes): K is cut into chunks of ``lanes``; a chunk
  lasts as long as its slowest lane, ``max(1, max_lane cost[v])`` with a per-value cost table
  (bits between the leading and trailing one, or up to the leading one).
* ``term_pair`` (Laconic): both operands are Booth-encoded; a lane spends one cycle per pair of
  non-zero terms ``T(a) * T(w)`` and a chunk of ``lanes`` lasts as long as its slowest lane.

Values enter as indices into per-value tables (``value + 2**(bits-1)``). A *tile* is a set of units
working side by side that synchronise at its end (:func:`tile_max`). The per-cycle reference in
:mod:`sim.families.bitslice.reference` computes the GEMM bit-exactly and counts the same cycles.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from sim.core.jit import kernel

ENCODINGS = ("ent", "mbe", "binary")
#: consecutive k whose digits one sparse encoder schedules together (HPCA'25 repo,
#: ``OPT3_OPT4C/pe/sparse_encoder.v``: four 2-bit digit codes in, ``cal_cycle`` 0..4 out)
SPARSE_GROUP = 4


def n_digits(bits: int, encoding: str) -> int:
    """Digit positions of a ``bits``-bit signed operand (radix 4 for EN-T/MBE, radix 2 binary)."""
    return bits if encoding == "binary" else -(-bits // 2)


def ent_digits(value: int, bits: int) -> list[int]:
    """EN-T digits (LSB first, each in {-2..2}, sign applied) of a ``bits``-bit signed integer.

    The magnitude is cut into 2-bit pairs; a pair that reaches 3 with its incoming carry becomes
    ``v - 4`` and carries one into the next pair (the first pair takes no carry in), so every
    digit is in {0, 1, 2, -1}; the sign then multiplies every digit (HPCA'25 repo,
    ``encoder_multi_bit.v``). The top digit never overflows for |value| <= 2**(bits-1).
    """
    mag, sign = abs(int(value)), (-1 if value < 0 else 1)
    out, carry = [], 0
    for i in range(n_digits(bits, "ent")):
        v = ((mag >> (2 * i)) & 3) + carry
        digit, carry = (v - 4, 1) if v >= 3 else (v, 0)
        out.append(sign * digit)
    return out


def mbe_digits(value: int, bits: int) -> list[int]:
    """Radix-4 modified Booth digits (LSB first, each in {-2..2}) of a two's-complement integer:
    ``d_i = -2 b(2i+1) + b(2i) + b(2i-1)`` with ``b(-1) = 0`` and sign extension above."""
    v = int(value)
    bit = lambda j: 0 if j < 0 else (v >> j) & 1  # noqa: E731 (Python ints sign-extend)
    return [-2 * bit(2 * i + 1) + bit(2 * i) + bit(2 * i - 1) for i in range(n_digits(bits, "mbe"))]


def binary_digits(value: int, bits: int) -> list[int]:
    """Sign-magnitude bits (LSB first, each in {-1, 0, 1}) of a signed integer."""
    mag, sign = abs(int(value)), (-1 if value < 0 else 1)
    return [sign * ((mag >> i) & 1) for i in range(bits)]


DIGITS = {"ent": ent_digits, "mbe": mbe_digits, "binary": binary_digits}
RADIX_SHIFT = {"ent": 2, "mbe": 2, "binary": 1}


def value_range(bits: int) -> np.ndarray:
    """All ``bits``-bit signed integers, in table-index order."""
    return np.arange(-(1 << (bits - 1)), 1 << (bits - 1), dtype=np.int64)


@lru_cache(maxsize=None)
def digit_masks(bits: int, encoding: str) -> np.ndarray:
    """Per value: a bit mask of its non-zero digit positions (bit ``bw`` set if digit ``bw`` != 0)."""
    enc = DIGITS[encoding]
    out = np.zeros(1 << bits, dtype=np.int64)
    for i, v in enumerate(value_range(bits)):
        out[i] = sum(1 << b for b, d in enumerate(enc(int(v), bits)) if d)
    return out


@lru_cache(maxsize=None)
def term_counts(bits: int, encoding: str) -> np.ndarray:
    """Per value: its number of non-zero digits (effectual terms, partial products)."""
    masks = digit_masks(bits, encoding)
    return np.array([bin(int(m)).count("1") for m in masks], dtype=np.int64)


@lru_cache(maxsize=None)
def precision_span(bits: int, trailing: bool) -> np.ndarray:
    """Per value: bits a dynamic-precision lane needs for |v|: up to the leading one
    (``trailing=False``, Dynamic Stripes) or between the leading and trailing ones
    (``trailing=True``, Bit-Tactical TCLp). Zero costs 0."""
    out = np.zeros(1 << bits, dtype=np.int64)
    for i, v in enumerate(value_range(bits)):
        mag = abs(int(v))
        if mag:
            low = (mag & -mag).bit_length() - 1 if trailing else 0
            out[i] = mag.bit_length() - low
    return out


@kernel
def digit_serial_rows(idx, masks, ndig, group, streams):
    """Cycles of each serial row (``idx``: rows x K table indices) on a digit-serial unit."""
    rows, k = idx.shape
    out = np.zeros(rows, dtype=np.int64)
    part = (k + streams - 1) // streams
    steps = (part + group - 1) // group
    for r in range(rows):
        total = 0
        for bw in range(ndig):
            bit = 1 << bw
            for g in range(steps):
                slowest = 0
                for s in range(streams):
                    lo = s * part + g * group
                    hi = min(lo + group, (s + 1) * part, k)
                    if lo >= hi:
                        continue
                    nnz = 0
                    for j in range(lo, hi):
                        if masks[idx[r, j]] & bit:
                            nnz += 1
                    if nnz < 1:
                        nnz = 1
                    if nnz > slowest:
                        slowest = nnz
                total += slowest
        out[r] = total
    return out


@kernel
def lane_max_rows(idx, cost, lanes):
    """Cycles of each serial row when K is cut into chunks of ``lanes`` that last as long as their
    slowest lane: ``sum_chunks max(1, max_lane cost[v])``."""
    rows, k = idx.shape
    out = np.zeros(rows, dtype=np.int64)
    for r in range(rows):
        total = 0
        for lo in range(0, k, lanes):
            slowest = 1
            for j in range(lo, min(lo + lanes, k)):
                c = cost[idx[r, j]]
                if c > slowest:
                    slowest = c
            total += slowest
        out[r] = total
    return out


@kernel
def term_pair_items(a_idx, w_idx, a_terms, w_terms, lanes):
    """Cycles of each item: one serial row ``a_idx[i]`` (K) against ``w_idx[i]`` (PEs x K), every
    PE running its own term-pair chunks; the item ends with its slowest PE."""
    items, pes, k = w_idx.shape
    out = np.zeros(items, dtype=np.int64)
    for i in range(items):
        worst = 0
        for p in range(pes):
            total = 0
            for lo in range(0, k, lanes):
                slowest = 1
                for j in range(lo, min(lo + lanes, k)):
                    c = a_terms[a_idx[i, j]] * w_terms[w_idx[i, p, j]]
                    if c > slowest:
                        slowest = c
                total += slowest
            if total > worst:
                worst = total
        out[i] = worst
    return out


@kernel
def tile_max(item_cost, per_tile):
    """Cycles of each tile of ``per_tile`` consecutive items: its slowest item."""
    n = item_cost.shape[0]
    tiles = (n + per_tile - 1) // per_tile
    out = np.zeros(tiles, dtype=np.int64)
    for t in range(tiles):
        worst = 0
        for i in range(t * per_tile, min((t + 1) * per_tile, n)):
            if item_cost[i] > worst:
                worst = item_cost[i]
        out[t] = worst
    return out


def expected_max(samples: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """E[max of d iid draws] from the empirical distribution of ``samples``, for each d in
    ``draws``: ``sum_c (1 - F(c-1)^d)`` over the observed support (float64)."""
    values, counts = np.unique(np.asarray(samples, dtype=np.int64), return_counts=True)
    cdf_below = np.concatenate([[0.0], np.cumsum(counts)[:-1] / counts.sum()])  # F(v_i^-)
    cdf_at = np.cumsum(counts) / counts.sum()
    d = np.asarray(draws, dtype=np.float64)[:, None]
    probs = cdf_at[None, :] ** d - cdf_below[None, :] ** d  # P(max == v_i)
    return probs @ values.astype(np.float64)
