"""Per-cycle reference of the bit-serial / bit-slice engines: computes the GEMM bit-exactly.

Each unit of a tile is a small state machine advanced one clock at a time. Every cycle it issues
the partial products its hardware issues (one non-zero digit per stream for OPT3/4C/4E, one bit
per lane for Stripes/Bit-Tactical, one term pair per lane for Laconic, ``rate`` whole products
for the fusing PEs and the bit-parallel arrays) into per-PE accumulators, shifted by the digit's
bit weight. A tile ends when its slowest unit is done. The result must equal NumPy's integer
matmul and the cycle counts must equal :func:`sim.families.bitslice.family.exact_tile_cycles` /
:func:`sim.families.bitslice.family.gemm_timing` (tests/test_bitslice.py).
"""

from __future__ import annotations

import numpy as np

from sim.families.bitslice.kernel import DIGITS, RADIX_SHIFT, SPARSE_GROUP, mbe_digits


def _digit_unit(serial_row, par_rows, bits, encoding, streams, group=SPARSE_GROUP):
    """Cycle-by-cycle run of one OPT3/4C/4E unit: returns (accumulators per PE, cycles)."""
    k = len(serial_row)
    digits = [DIGITS[encoding](int(v), bits) for v in serial_row]
    shift = RADIX_SHIFT[encoding]
    part = -(-k // streams)
    acc = [0] * len(par_rows)
    cycles = 0
    for bw in range(len(digits[0]) if k else 0):
        for g in range(-(-part // group)):
            # each stream's queue of non-zero digit positions in this group, issued one per cycle
            queues = []
            for s in range(streams):
                lo = s * part + g * group
                hi = min(lo + group, (s + 1) * part, k)
                if lo < hi:
                    queues.append([j for j in range(lo, hi) if digits[j][bw]])
            if not queues:
                continue
            busy = True
            step = 0
            while busy or step == 0:  # an all-zero group still takes its one cycle
                cycles += 1
                busy = False
                for q in queues:
                    if step < len(q):
                        j = q[step]
                        for p, row in enumerate(par_rows):
                            acc[p] += (digits[j][bw] * int(row[j])) << (shift * bw)
                    if step + 1 < len(q):
                        busy = True
                step += 1
    return acc, cycles


def _tactical_unit(serial_row, par_rows, lanes):
    """Bit-Tactical TCLp: each lane streams the bits of |a| from its trailing to its leading one."""
    acc = [0] * len(par_rows)
    cycles = 0
    for lo in range(0, len(serial_row), lanes):
        chunk = range(lo, min(lo + lanes, len(serial_row)))
        windows = {}
        for j in chunk:
            mag = abs(int(serial_row[j]))
            if mag:
                low = (mag & -mag).bit_length() - 1
                windows[j] = (low, mag.bit_length())
        c = 0
        while c == 0 or any(low + c < high for low, high in windows.values()):
            for j, (low, high) in windows.items():
                pos = low + c
                if pos < high and (abs(int(serial_row[j])) >> pos) & 1:
                    sign = -1 if serial_row[j] < 0 else 1
                    for p, row in enumerate(par_rows):
                        acc[p] += sign * (int(row[j]) << pos)
            c += 1
        cycles += c
    return acc, cycles


def _laconic_pe(a_row, w_row, a_bits, w_bits, lanes):
    """One Laconic PE: each lane walks its (a term, w term) pairs, one pair per cycle."""
    acc, cycles = 0, 0
    for lo in range(0, len(a_row), lanes):
        pairs = []
        for j in range(lo, min(lo + lanes, len(a_row))):
            ta = [(d, 2 * i) for i, d in enumerate(mbe_digits(int(a_row[j]), a_bits)) if d]
            tw = [(d, 2 * i) for i, d in enumerate(mbe_digits(int(w_row[j]), w_bits)) if d]
            pairs.append([(da * dw, ea + ew) for da, ea in ta for dw, ew in tw])
        c = 0
        while c == 0 or any(c < len(p) for p in pairs):
            for p in pairs:
                if c < len(p):
                    value, exp = p[c]
                    acc += value << exp
            c += 1
        cycles += c
    return acc, cycles


def _fixed_unit(serial_row, par_rows, pe, a_bits, lanes, rate):
    """Stripes (one activation bit per lane per cycle, MSB negative) or a fixed-rate PE."""
    acc = [0] * len(par_rows)
    cycles = 0
    k = len(serial_row)
    if pe == "stripes":
        for lo in range(0, k, lanes):
            for bit in range(a_bits):
                cycles += 1
                for j in range(lo, min(lo + lanes, k)):
                    b = (int(serial_row[j]) >> bit) & 1
                    weight = -(1 << bit) if bit == a_bits - 1 else (1 << bit)
                    for p, row in enumerate(par_rows):
                        acc[p] += b * weight * int(row[j])
        return acc, cycles
    per_cycle = int(lanes * rate)
    for lo in range(0, k, per_cycle):
        cycles += 1
        for j in range(lo, min(lo + per_cycle, k)):
            for p, row in enumerate(par_rows):
                acc[p] += int(serial_row[j]) * int(row[j])
    return acc, cycles


def run_bit_serial(a: np.ndarray, b: np.ndarray, pe: str, units: int, pes: int, lanes: int,
                   weight_serial: bool, a_bits: int, w_bits: int, encoding: str = "ent",
                   rate: float = 1.0):
    """C = A @ B on a ``units x pes x lanes`` bit_serial engine, one cycle at a time.

    Returns ``(C, tile_cycles)``. Items (serial row, block of ``pes`` parallel rows) are taken in
    serial-row-major order, ``units`` per tile, as the fast path does.
    """
    m, k = a.shape
    n = b.shape[1]
    serial, par = (b.T, a) if weight_serial else (a, b.T)
    ps, pp = (w_bits, a_bits) if weight_serial else (a_bits, w_bits)
    blocks = -(-par.shape[0] // pes)
    items = [(r, j) for r in range(serial.shape[0]) for j in range(blocks)]
    c = np.zeros((m, n), dtype=np.int64)
    tile_cycles = []
    for t in range(0, len(items), units):
        worst = 0
        for r, j in items[t:t + units]:
            rows = par[j * pes:(j + 1) * pes]
            if pe in ("opt3", "opt4c", "opt4e"):
                acc, cyc = _digit_unit(serial[r], rows, ps, encoding, lanes)
            elif pe == "tactical":
                acc, cyc = _tactical_unit(serial[r], rows, lanes)
            elif pe == "laconic":
                runs = [_laconic_pe(serial[r], row, ps, pp, lanes) for row in rows]
                acc, cyc = [x for x, _ in runs], max(y for _, y in runs)
            else:
                acc, cyc = _fixed_unit(serial[r], rows, pe, ps, lanes, rate)
            for p, value in enumerate(acc):
                q = j * pes + p
                if weight_serial:
                    c[q, r] = value
                else:
                    c[r, q] = value
            worst = max(worst, cyc)
        tile_cycles.append(worst)
    return c, np.array(tile_cycles, dtype=np.int64)


def run_spatial(a: np.ndarray, b: np.ndarray, rows: int, cols: int, depth: int):
    """C = A @ B on a rows(M) x cols(N) x depth(K) bit-parallel array (cube, adder tree, 2D
    matrix): each cycle every PE of the tile reduces ``depth`` products. Returns (C, cycles)."""
    m, k = a.shape
    n = b.shape[1]
    c = np.zeros((m, n), dtype=np.int64)
    cycles = 0
    for i0 in range(0, m, rows):
        for j0 in range(0, n, cols):
            for k0 in range(0, k, depth):
                cycles += 1
                for i in range(i0, min(i0 + rows, m)):
                    for j in range(j0, min(j0 + cols, n)):
                        for kk in range(k0, min(k0 + depth, k)):
                            c[i, j] += int(a[i, kk]) * int(b[kk, j])
    return c, cycles
