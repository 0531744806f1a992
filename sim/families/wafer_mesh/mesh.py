"""Distributed GEMM / GEMV algorithms on a 2D mesh of cores (WaferLLM, OSDI'25).

Every algorithm is a sequence of *phases* of messages on one line of cores (a row for the
x-direction traffic, a column for y). WaferLLM's kernels are SPMD and translation-invariant, so
every row (column) carries the same pattern on its own links; one line, simulated with link-level
contention by :func:`sim.families.wafer_mesh.kernel.run_streams`, stands for all of them. Per-core
compute is a closed form of the core's vector instructions. Times are core cycles.

Algorithms (WaferLLM (He et al., OSDI'25) Sec. 4-5, MeshGEMM and MeshGEMV):

* GEMM: ``meshgemm`` (interleaved ring: every ring neighbour within 2 hops), ``cannon`` (ring
  closed by a wrap stream across the line), ``summa`` (owner row/column multicasts, then
  compute, no overlap), ``allgather`` (ring allgather with a software relay per step; needs
  whole panels in each core).
* GEMV allreduce along a column: ``meshgemv`` (two-level K-tree: chains to group middles, group
  roots to the global middle over pass-through routes, multicast back), ``chain`` (Cerebras'
  pipeline allreduce: reduce along the line, multicast back), ``ring`` (reduce-scatter +
  allgather on the interleaved ring).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np

from sim.families.wafer_mesh.kernel import run_streams

GEMM_ALGORITHMS = ("meshgemm", "cannon", "summa", "allgather")
GEMV_ALGORITHMS = ("meshgemv", "chain", "ring")
#: routes (colours) a router needs for each algorithm
ROUTES = {"meshgemm": 12, "meshgemv": 10,            # WaferLLM code
          "cannon": 4, "summa": 4, "allgather": 4,   # ours: one per axis and direction
          "chain": 2, "ring": 12}                    # ours: ring on the interleaved order
MAX_DEPS = 4  # a K-tree root waits for two chains and two neighbour roots


@dataclass(frozen=True)
class Fabric:
    """Timing of the mesh and of one core (cycles)."""

    alpha: int            # per pass-through hop
    ramp: int             # PE <-> router, each way
    relay: int            # software relay stage: receive, add or copy, re-inject (beta)
    elems_per_wavelet: int
    simd: int             # fp16 MACs per vector-instruction cycle
    vec_overhead: int     # cycles per vector instruction (DSD / @map setup)
    step_sync: int        # cycles per algorithm step to swap buffers and re-arm receives


@dataclass
class Messages:
    """A phase's messages on a line of ``n`` cores (links 2i: i->i+1, 2i+1: i->i-1)."""

    n: int
    paths: list = field(default_factory=list)
    words: list = field(default_factory=list)
    ready: list = field(default_factory=list)
    deps: list = field(default_factory=list)
    lag: list = field(default_factory=list)

    def add(self, a: int, b: int, words: int, ready: int = 0, deps=(), lag: int = 0) -> int:
        """Stream from core ``a`` to core ``b`` along the line; returns its index."""
        if a == b:
            raise ValueError("a message needs at least one hop")
        path = ([2 * i for i in range(a, b)] if b > a else [2 * i + 1 for i in range(a, b, -1)])
        self.paths.append(path)
        self.words.append(int(words))
        self.ready.append(int(ready))
        self.deps.append(tuple(deps))
        self.lag.append(int(lag))
        return len(self.paths) - 1

    def run(self, fabric: Fabric) -> tuple[np.ndarray, np.ndarray]:
        """(head, done) cycles of every message."""
        ptr = np.zeros(len(self.paths) + 1, dtype=np.int64)
        ptr[1:] = np.cumsum([len(p) for p in self.paths])
        links = np.fromiter((x for p in self.paths for x in p), dtype=np.int64, count=int(ptr[-1]))
        deps = np.full((len(self.paths), MAX_DEPS), -1, dtype=np.int64)
        for m, d in enumerate(self.deps):
            deps[m, :len(d)] = d
        lat = np.full(2 * self.n, fabric.alpha, dtype=np.int64)
        return run_streams(ptr, links, lat, 2 * self.n, np.array(self.words, dtype=np.int64),
                           np.array(self.ready, dtype=np.int64), deps,
                           np.array(self.lag, dtype=np.int64))

    @property
    def wavelet_hops(self) -> int:
        return sum(w * len(p) for w, p in zip(self.words, self.paths))


@dataclass
class Timing:
    """One distributed op: cycles, their split, and the traffic that prices it."""

    cycles: int
    compute: int          # cycles the cores spend in vector instructions (critical path)
    comm: int             # cycles not hidden behind compute
    wavelet_hops: int     # over the whole mesh
    macs: int
    detail: str


def interleaved_successor(n: int) -> list[int]:
    """WaferLLM's INTERLEAVE ring on a line: 0, 2, 4, ..., then back down the odd positions,
    1 -> 0; every ring neighbour is at most 2 hops away."""
    order = list(range(0, n, 2)) + [p for p in range(n - 1, 0, -1) if p % 2 == 1]
    succ = [0] * n
    for i, p in enumerate(order):
        succ[p] = order[(i + 1) % n]
    return succ


def cannon_successor(n: int) -> list[int]:
    """Plain ring on a line without wrap links: i -> i+1, the last core back to 0."""
    return [(i + 1) % n for i in range(n)]


def words_of(elements: int, fabric: Fabric) -> int:
    return max(1, -(-int(elements) // fabric.elems_per_wavelet))


def vector_cycles(instructions: int, length: int, fabric: Fabric) -> int:
    """``instructions`` vector FMAs of ``length`` elements on one core."""
    return instructions * (-(-length // fabric.simd) + fabric.vec_overhead)


def _ring_step(n: int, succ: list[int], words: int, fabric: Fabric) -> tuple[int, int]:
    """(cycles, wavelet-hops) of one shift of every core's tile to its ring successor."""
    msgs = Messages(n)
    for p in range(n):
        msgs.add(p, succ[p], words)
    _, done = msgs.run(fabric)
    return int(done.max()) + 2 * fabric.ramp, msgs.wavelet_hops


def _broadcast(n: int, owner: int, words: int) -> Messages:
    """The owner's tile to every core of the line: one multicast each way (Cerebras'
    collectives reconfigure the multicast routes per step)."""
    msgs = Messages(n)
    for end in (0, n - 1):
        if end != owner:
            msgs.add(owner, end, words)
    return msgs


def gemm(algorithm: str, m: int, k: int, n: int, p: int, fabric: Fabric) -> Timing:
    """C[m x n] = A[m x k] B[k x n] on a ``p x p`` mesh."""
    mt, kt, nt = -(-m // p), -(-k // p), -(-n // p)
    comp = vector_cycles(kt * nt, mt, fabric)  # Kt*Nt vector FMAs of length Mt per step
    wa, wb = words_of(mt * kt, fabric), words_of(kt * nt, fabric)
    macs = m * k * n
    if algorithm in ("meshgemm", "cannon"):
        succ = interleaved_successor(p) if algorithm == "meshgemm" else cannon_successor(p)
        ta, ha = _ring_step(p, succ, wa, fabric)
        tb, hb = _ring_step(p, succ, wb, fabric)
        step_comm = max(ta, tb)
        # align A (B is pre-aligned offline): ceil(p/2) shifts for meshgemm, p-1 for cannon
        align_steps = -(-p // 2) if algorithm == "meshgemm" else p - 1
        align = align_steps * (ta + fabric.step_sync)
        step = max(comp, step_comm) + fabric.step_sync
        total = align + p * step
        hops = p * (align_steps * ha + p * (ha + hb))
        return Timing(total, p * comp, total - p * comp, hops, macs,
                      f"{p} steps of max(compute {comp}, shift {step_comm}) + {fabric.step_sync}"
                      f"; alignment {align}")
    if algorithm == "summa":
        total, hops = 0, 0
        for owner in range(p):
            ra = _broadcast(p, owner, wa)
            rb = _broadcast(p, owner, wb)
            t = max(int(ra.run(fabric)[1].max()), int(rb.run(fabric)[1].max())) + 2 * fabric.ramp
            total += t + comp + fabric.step_sync  # waits for both broadcasts, then computes
            hops += p * (ra.wavelet_hops + rb.wavelet_hops)
        return Timing(total, p * comp, total - p * comp, hops, macs,
                      f"{p} steps of multicast broadcast then compute {comp}")
    if algorithm == "allgather":
        # ring allgather, each hop re-injected by software (a relay), compute on arrival
        ta, ha = _ring_step(p, cannon_successor(p), wa, fabric)
        tb, hb = _ring_step(p, cannon_successor(p), wb, fabric)
        step_comm = max(ta, tb) + fabric.relay
        step = max(comp, step_comm) + fabric.step_sync
        total = p * step
        return Timing(total, p * comp, total - p * comp, p * p * (ha + hb), macs,
                      f"{p} relayed ring steps of max(compute {comp}, {step_comm})")
    raise ValueError(f"unknown GEMM algorithm {algorithm!r}; allowed: {', '.join(GEMM_ALGORITHMS)}")


def allreduce(algorithm: str, n: int, words: int, fabric: Fabric, start: int = 0,
              groups: int | None = None) -> tuple[int, int]:
    """(done cycle, wavelet-hops) of an allreduce of ``words`` along a line of ``n`` cores
    whose partial sums are ready at ``start``."""
    cycles, hops = _allreduce_from_zero(algorithm, n, words, fabric, groups)
    return start + cycles, hops


@functools.lru_cache(maxsize=512)
def _allreduce_from_zero(algorithm: str, n: int, words: int, fabric: Fabric,
                         groups: int | None) -> tuple[int, int]:
    """:func:`allreduce` with every partial sum ready at cycle 0 (the message pattern does
    not depend on the start, so every start shifts the result by the same amount)."""
    start = 0
    if n == 1:
        return start, 0
    msgs = Messages(n)
    beta = fabric.relay
    if algorithm == "chain":
        prev = -1
        for i in range(n - 1):
            prev = msgs.add(i, i + 1, words, start, (prev,) if prev >= 0 else (), beta)
        msgs.add(n - 1, 0, words, start, (prev,), beta)
    elif algorithm == "ring":
        succ = interleaved_successor(n)
        chunk = max(1, -(-words // n))
        last = [-1] * n  # message last received by each core
        for _ in range(2 * (n - 1)):
            now = list(last)
            for p in range(n):
                d = (last[p],) if last[p] >= 0 else ()
                now[succ[p]] = msgs.add(p, succ[p], chunk, start, d, beta)
            last = now
    elif algorithm == "meshgemv":
        g_count = groups or max(1, round(math.sqrt(n)))
        size = -(-n // g_count)
        bounds = [(s, min(s + size, n)) for s in range(0, n, size)]
        roots = [(a + b) // 2 for a, b in bounds]
        into = {}  # core -> messages whose arrival it waits for before forwarding
        for (a, b), r in zip(bounds, roots):
            for ends in ((a, r, 1), (b - 1, r, -1)):
                lo, root, step = ends
                prev = -1
                for i in range(lo, root, step):
                    d = (prev,) if prev >= 0 else ()
                    prev = msgs.add(i, i + step, words, start, d, beta)
                if prev >= 0:
                    into.setdefault(root, []).append(prev)
        mid = len(roots) // 2
        for side in (range(0, mid), range(len(roots) - 1, mid, -1)):
            for j in side:
                nxt = roots[j + 1] if j < mid else roots[j - 1]
                d = tuple(into.get(roots[j], []))
                into.setdefault(nxt, []).append(msgs.add(roots[j], nxt, words, start, d, beta))
        root = roots[mid]
        d = tuple(into.get(root, []))
        for end in (0, n - 1):
            if end != root:
                msgs.add(root, end, words, start, d, beta)
    else:
        raise ValueError(f"unknown GEMV algorithm {algorithm!r}; allowed: "
                         f"{', '.join(GEMV_ALGORITHMS)}")
    _, done = msgs.run(fabric)
    return int(done.max()) + 2 * fabric.ramp, msgs.wavelet_hops


def gemv(algorithm: str, k: int, n: int, p: int, fabric: Fabric,
         groups: int | None = None) -> Timing:
    """y[1 x n] = x[1 x k] W[k x n] on a ``p x p`` mesh: W in Kt x Nt tiles, x split along y and
    replicated along x; local GEMV, then an allreduce of Nt partial sums along every column."""
    kt, nt = -(-k // p), -(-n // p)
    comp = vector_cycles(kt, nt, fabric)
    done, hops = allreduce(algorithm, p, words_of(nt, fabric), fabric, comp, groups)
    return Timing(done, comp, done - comp, hops * p, k * n,
                  f"compute {comp} ({kt} FMAs of {nt}), {algorithm} allreduce {done - comp}")


# The square meshes the GEMV comparisons average over: a uniform grid from 30^2 to 720^2 that
# spans the baseline's U (its minimum lies at 60^2..240^2 for 2K..16K), as WaferLLM's Fig. 10
# must for its "first falls, then rises" description to hold.
GEMV_COMPARISON_SIDES = tuple(range(30, 721, 30))
GEMV_COMPARISON_SIZES = (2048, 8192, 16384)


def gemv_speedup(baseline: str, fabric: Fabric, sides=GEMV_COMPARISON_SIDES,
                 sizes=GEMV_COMPARISON_SIZES) -> tuple[float, float]:
    """(geometric mean, max) over ``sizes`` x ``sides`` of baseline / MeshGEMV cycles for the
    square GEMV [1,s] x [s,s]."""
    ratios = [gemv(baseline, s, s, p, fabric).cycles / gemv("meshgemv", s, s, p, fabric).cycles
              for s in sizes for p in sides]
    return math.exp(sum(math.log(r) for r in ratios) / len(ratios)), max(ratios)


__all__ = ["Fabric", "Messages", "Timing", "GEMM_ALGORITHMS", "GEMV_ALGORITHMS", "gemm", "gemv",
           "gemv_speedup", "GEMV_COMPARISON_SIDES", "GEMV_COMPARISON_SIZES",
           "allreduce", "interleaved_successor", "cannon_successor", "vector_cycles", "words_of"]
