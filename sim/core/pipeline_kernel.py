"""Exact timing of a double-buffered DMA -> compute pipeline over a sequence of tiles.

Semantics (the per-cycle reference :mod:`sim.core.pipeline_reference` implements the same machine
one cycle at a time):

* Tiles run in order on one compute unit; tile ``i`` uses input buffer slot ``i % buffers``.
* One DMA engine serves one DRAM channel in tile order. Before filling slot ``s`` with tile ``i``
  it writes back the outputs of the tile that last used slot ``s`` (store-then-load), and it may
  start only when that tile's compute has finished (the slot is free) and the previous transfer
  has left the channel.
* A transfer occupies the channel for ``store_cycles + load_cycles``; loaded data is usable
  ``latency`` cycles after it leaves the channel (pipelined latency: the next transfer does not
  wait for it). A tile with nothing to load is ready as soon as its slot's store is done.
* Compute of tile ``i`` starts when its data is ready and tile ``i - 1`` has finished.
* At the end the outstanding stores are written back in tile order.

Tiles come run-length encoded: group ``g`` holds ``counts[g]`` identical tiles. The simulation
event core yields one event per group, never per tile or per cycle.
"""

from __future__ import annotations

import numpy as np

from sim.core.jit import kernel


#: Guard against binary rounding when a fractional per-tile occupancy is summed.
EPS = 1e-9


@kernel
def _share(base, per_tile, j):
    """Whole cycles of tile ``j`` of a group whose tiles each take ``per_tile`` (fractional)
    cycles and which starts ``base`` cycles into the op: the op's running total is rounded up,
    so the tiles' integer cycles sum to the op's total rounded up."""
    return np.int64(np.ceil(base + (j + 1) * per_tile - EPS)
                    - np.ceil(base + j * per_tile - EPS))


@kernel
def _pipeline(counts, load_cycles, compute_cycles, store_cycles, latency, buffers, group_end):
    """Run the pipeline; fill ``group_end[g]`` with the cycle the group's last compute ends.

    ``load_cycles`` / ``store_cycles`` are per-tile channel occupancies, possibly fractional
    (see :func:`_share`). Returns ``(end_cycle, compute_busy_cycles, channel_busy_cycles)``;
    times start at 0.
    """
    slot_free = np.zeros(buffers, dtype=np.int64)
    slot_store = np.zeros(buffers, dtype=np.int64)
    channel_free = 0
    compute_free = 0
    compute_busy = 0
    channel_busy = 0
    tile = 0
    load_base = 0.0
    store_base = 0.0
    for g in range(counts.shape[0]):
        comp = compute_cycles[g]
        for j in range(counts[g]):
            load = _share(load_base, load_cycles[g], j)
            s = tile % buffers
            issue = max(channel_free, slot_free[s])
            occupancy = slot_store[s] + load
            channel_free = issue + occupancy
            channel_busy += occupancy
            ready = channel_free + (latency if load_cycles[g] > 0 else 0)
            start = max(ready, compute_free)
            compute_free = start + comp
            compute_busy += comp
            slot_free[s] = compute_free
            slot_store[s] = _share(store_base, store_cycles[g], j)
            tile += 1
        load_base += counts[g] * load_cycles[g]
        store_base += counts[g] * store_cycles[g]
        group_end[g] = compute_free
    end = max(channel_free, compute_free)
    t = channel_free
    first = tile - buffers if tile > buffers else 0
    for i in range(first, tile):
        s = i % buffers
        if slot_store[s] > 0:
            t = max(t, slot_free[s]) + slot_store[s]
            channel_busy += slot_store[s]
    end = max(end, t)
    return end, compute_busy, channel_busy


def per_tile_cycles(counts, per_tile) -> np.ndarray:
    """Expand run-length groups of fractional per-tile cycles into whole cycles per tile, by
    the kernel's rule (for the per-cycle reference and tests)."""
    out = []
    base = 0.0
    for c, x in zip(np.asarray(counts, dtype=np.int64), np.asarray(per_tile, dtype=np.float64)):
        for j in range(int(c)):
            out.append(int(np.ceil(base + (j + 1) * x - EPS) - np.ceil(base + j * x - EPS)))
        base += c * x
    return np.array(out, dtype=np.int64)


def run_pipeline(counts, load_cycles, compute_cycles, store_cycles, latency: int, buffers: int = 2):
    """Public wrapper: checks the arrays and returns ``(end, compute_busy, channel_busy, group_end)``."""
    arrays = [np.ascontiguousarray(a, dtype=dt) for a, dt in
              ((counts, np.int64), (load_cycles, np.float64), (compute_cycles, np.int64),
               (store_cycles, np.float64))]
    n = arrays[0].shape[0]
    if any(a.shape != (n,) for a in arrays):
        raise ValueError("counts, load, compute and store arrays must have the same length")
    if buffers < 1:
        raise ValueError("buffers must be >= 1")
    if any((a < 0).any() for a in arrays):
        raise ValueError("tile counts and cycles must be non-negative")
    group_end = np.zeros(n, dtype=np.int64)
    end, busy, chan = _pipeline(*arrays, int(latency), int(buffers), group_end)
    return int(end), int(busy), int(chan), group_end
