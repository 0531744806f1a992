"""Per-cycle (wavelet-level) reference of the mesh network, for small meshes in tests.

Every cycle each link moves at most one wavelet. A link belongs to one message at a time: the
earliest message in program order that still has to cross it; it passes to the next when the
tail has crossed. A wavelet may cross a link once it has reached the link's near end (the
source holds all wavelets from the message's start; a router holds what crossed the previous
link ``lat`` cycles ago). Nothing here is closed-form: the tests demand that
:func:`sim.families.wafer_mesh.kernel.run_streams` gives the same head and done cycles.
"""

from __future__ import annotations


class ReferenceMesh:
    def __init__(self, lat, n_links: int):
        self.lat = [int(x) for x in lat]
        self.n_links = n_links

    def run(self, paths, words, ready, deps, lag, max_cycles=200_000):
        """``paths[m]``: list of link ids; the rest as :func:`run_streams`. Returns (head, done)."""
        n = len(paths)
        owners = {}  # link -> messages still to cross it, in program order
        for m, path in enumerate(paths):
            for link in path:
                owners.setdefault(link, []).append(m)
        crossed = [[[] for _ in path] for path in paths]  # crossing cycle of each wavelet, per hop
        start = [None] * n
        head = [None] * n
        done = [None] * n
        for cycle in range(max_cycles):
            for m in range(n):
                if start[m] is None:
                    t = ready[m]
                    ok = True
                    for d in deps[m]:
                        if d >= 0:
                            if head[d] is None:
                                ok = False
                            else:
                                t = max(t, head[d] + lag[m])
                    if ok:
                        start[m] = t
            for link, queue in owners.items():
                if not queue:
                    continue
                m = queue[0]
                if start[m] is None or cycle < start[m]:
                    continue
                k = paths[m].index(link)
                j = len(crossed[m][k])
                if k == 0:
                    available = True
                else:
                    prev = crossed[m][k - 1]
                    available = j < len(prev) and cycle >= prev[j] + self.lat[paths[m][k - 1]]
                if not available:
                    continue
                crossed[m][k].append(cycle)
                if j == words[m] - 1:
                    queue.pop(0)
            for m in range(n):
                last = crossed[m][-1]
                arrive = self.lat[paths[m][-1]]
                if head[m] is None and last:
                    head[m] = last[0] + arrive
                if done[m] is None and len(last) == words[m]:
                    done[m] = last[-1] + arrive + 1
            if all(d is not None for d in done) and all(h is not None for h in head):
                return head, done
        raise RuntimeError("reference mesh did not finish")
