"""Message-level mesh network: cut-through streams that reserve their links in program order.

Each message is a stream of ``words`` wavelets (one wavelet per link per cycle) along an ordered
list of directed links. Its head crosses link ``k`` at ``t_k = max(t_{k-1} + lat[l_{k-1}],
free[l_k])`` and holds the link until its tail has crossed, ``free[l_k] = t_k + words``; so a stream
over ``h`` hops costs ``h * alpha + words`` (cut-through), and two streams that share a link queue
behind each other (contention). Links serve messages in program order (the order a phase issues
them, as statically routed colours do), the property that makes this model equal the
wavelet-by-wavelet reference :class:`sim.families.wafer_mesh.reference.ReferenceMesh` cycle for
cycle.

A message may start only after its dependencies' heads have arrived plus ``lag`` cycles: a
software relay (receive, add, re-inject) is a dependency with ``lag = beta``, so a chain of
relays streams (``d * beta + words``), as on the Cerebras fabric.
"""

from __future__ import annotations

import numpy as np

from sim.core.jit import kernel


@kernel
def run_streams(ptr, links, lat, n_links, words, ready, deps, lag):
    """Times of messages ``0..M-1`` (cycles): ``(head, done)`` arrays.

    ``links[ptr[m]:ptr[m+1]]``: message ``m``'s directed links in path order; ``lat[l]``: cycles
    from entering link ``l`` to reaching its far end (>= 1); ``words[m]``: wavelets;
    ``ready[m]``: earliest injection; ``deps[m, :]``: earlier messages whose head must have
    arrived (-1: none), plus ``lag[m]`` cycles. ``head[m]``: arrival of the first wavelet at the
    destination; ``done[m]``: the cycle after the last one arrived.
    """
    m_count = ptr.shape[0] - 1
    free = np.zeros(n_links, dtype=np.int64)
    head = np.zeros(m_count, dtype=np.int64)
    done = np.zeros(m_count, dtype=np.int64)
    for m in range(m_count):
        t = ready[m]
        for j in range(deps.shape[1]):
            d = deps[m, j]
            if d >= 0:
                t = max(t, head[d] + lag[m])
        prev = 0
        for k in range(ptr[m], ptr[m + 1]):
            link = links[k]
            t = max(t + prev, free[link])
            free[link] = t + words[m]
            prev = lat[link]
        head[m] = t + prev
        done[m] = head[m] + words[m]
    return head, done
