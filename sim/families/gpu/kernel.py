"""GPU thread-block (CTA) scheduling: which CTA runs on which SM slot, and when.

A kernel is a grid of CTAs issued in grid order. The block scheduler hands the next CTA to a
free slot (an SM's CTA slot), at most one CTA every ``gap`` cycles; a CTA holds its slot for its
``work`` cycles. The makespan of the grid is what tile quantization (CTAs of unequal work, e.g.
causal attention) and wave quantization (a grid that is not a multiple of the slots) cost.
:class:`sim.families.gpu.reference.ReferenceBlockScheduler` steps the same rules cycle by cycle.
"""

from __future__ import annotations

import numpy as np

from sim.core.jit import kernel


@kernel
def cta_schedule(work, slots, gap):
    """(makespan, busy): cycles until the last CTA of ``work`` (cycles per CTA, grid order)
    finishes on ``slots`` slots issuing one CTA per ``gap`` >= 1 cycles; slot-cycles busy."""
    n = work.shape[0]
    s = min(slots, n)
    if n == 0:
        return 0, 0
    heap = np.zeros(s, dtype=np.int64)  # min-heap of slot free times
    last = -gap
    makespan = 0
    busy = 0
    for i in range(n):
        t = heap[0]
        if t < last + gap:
            t = last + gap
        last = t
        end = t + work[i]
        busy += work[i]
        if end > makespan:
            makespan = end
        # replace the root with ``end`` and sift down
        heap[0] = end
        j = 0
        while True:
            c = 2 * j + 1
            if c >= s:
                break
            if c + 1 < s and heap[c + 1] < heap[c]:
                c += 1
            if heap[c] >= heap[j]:
                break
            tmp = heap[c]
            heap[c] = heap[j]
            heap[j] = tmp
            j = c
    return makespan, busy
