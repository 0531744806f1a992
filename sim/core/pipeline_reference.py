"""Cycle-stepped model of the double-buffered DMA -> compute pipeline.

Same machine as :mod:`sim.core.pipeline_kernel`, written as two state machines (a DMA engine and a
compute unit) that are advanced one clock at a time, with buffer slots as explicit state.
Tiles are given one by one (not run-length encoded). Slow: O(total cycles).
"""

from __future__ import annotations


def simulate_pipeline(loads, computes, stores, latency: int, buffers: int = 2,
                      has_load=None) -> int:
    """Return the cycle at which the last compute or write-back finishes.

    ``has_load[i]`` says whether tile ``i`` reads anything (its data then arrives ``latency``
    after its transfer); by default, whether ``loads[i] > 0``.
    """
    n = len(loads)
    if has_load is None:
        has_load = [x > 0 for x in loads]
    slot_store = [0] * buffers             # write-back owed by the slot's previous tile
    slot_owner_done = [True] * buffers     # previous user finished computing
    ready_at = [None] * n                  # cycle tile i's data is usable
    next_load = 0
    next_comp = 0
    dma_left = 0                           # cycles the channel stays occupied
    dma_job = None                         # ("load", i) or ("drain", slot)
    comp_left = 0
    comp_tile = None
    drain_queue: list[int] = []
    drains_started = False
    t = 0
    last_event = 0
    while True:
        progressed = True
        while progressed:  # zero-length actions complete within the same cycle
            progressed = False
            if dma_job is None and dma_left == 0:
                if next_load < n:
                    s = next_load % buffers
                    if slot_owner_done[s]:
                        occ = slot_store[s] + loads[next_load]
                        slot_store[s] = 0
                        slot_owner_done[s] = False
                        i = next_load
                        ready_at[i] = t + occ + (latency if has_load[i] else 0)
                        next_load += 1
                        if occ > 0:
                            dma_job, dma_left = ("load", i), occ
                        last_event = max(last_event, t + occ)
                        progressed = True
                else:  # all loads issued: write back the outstanding stores in tile order
                    if not drains_started:
                        drains_started = True
                        first = max(0, n - buffers)
                        drain_queue = [i % buffers for i in range(first, n)]
                    if drain_queue and slot_owner_done[drain_queue[0]]:
                        s = drain_queue.pop(0)
                        if slot_store[s] > 0:
                            dma_job, dma_left = ("drain", s), slot_store[s]
                            last_event = max(last_event, t + slot_store[s])
                            slot_store[s] = 0
                        progressed = True
            if comp_tile is None and next_comp < n and next_comp < next_load:
                r = ready_at[next_comp]
                if r <= t:
                    comp_tile = next_comp
                    comp_left = computes[next_comp]
                    next_comp += 1
                    progressed = True
                    if comp_left == 0:
                        _finish(comp_tile, buffers, slot_owner_done, slot_store, stores)
                        last_event = max(last_event, t)
                        comp_tile = None
        if next_comp == n and comp_tile is None and dma_job is None and next_load == n \
                and drains_started and not drain_queue:
            return max(last_event, t)
        # advance one clock
        t += 1
        if dma_job is not None:
            dma_left -= 1
            if dma_left == 0:
                dma_job = None
        if comp_tile is not None:
            comp_left -= 1
            if comp_left == 0:
                _finish(comp_tile, buffers, slot_owner_done, slot_store, stores)
                last_event = max(last_event, t)
                comp_tile = None


def _finish(tile, buffers, slot_owner_done, slot_store, stores):
    s = tile % buffers
    slot_owner_done[s] = True
    slot_store[s] = stores[tile]
