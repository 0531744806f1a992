"""The discrete-event core (SimPy): ops as processes, hardware units as resources.

Time is an integer number of accelerator clock cycles. Each op is a process that waits for its
dependencies (by default the previous op: a transformer forward pass is a chain), acquires its
unit (``array``, ``vector``, ...) and then advances through its tile groups: one SimPy timeout
per group, whose length comes from the exact pipeline kernel
(:func:`sim.core.pipeline_kernel.run_pipeline`). Identical consecutive tiles are coalesced into one
group, so the event count grows with the number of distinct phases, never with cycles or MACs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import simpy

from sim.core.family import OpPlan
from sim.core.pipeline_kernel import run_pipeline


@dataclass(frozen=True)
class OpTiming:
    """When an op ran and how busy it kept its unit and the DRAM channel (cycles)."""

    start: int
    end: int
    compute_busy: int
    channel_busy: int

    @property
    def cycles(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class Interval:
    """One tile group on one unit, for the Perfetto trace."""

    unit: str
    op_index: int
    group: int
    start: int
    end: int
    tiles: int


def chain_deps(n: int) -> list[tuple[int, ...]]:
    """The default dependencies of ``n`` ops: each waits for the one before."""
    return [(i - 1,) if i else () for i in range(n)]


class Engine:
    """Runs op plans on named units that share one DRAM system (:class:`sim.memory.DramSystem`,
    or None for a design without DRAM)."""

    def __init__(self, channel, units: list[str], buffers: int = 2):
        self.channel = channel
        self.buffers = buffers
        self.env = simpy.Environment()
        self.units = {name: simpy.Resource(self.env, capacity=1) for name in units}
        self.intervals: list[Interval] = []
        self._pipeline_cache: dict[int, tuple] = {}

    def run(self, plans: list[OpPlan], deps: list[tuple[int, ...]] | None = None) -> list[OpTiming]:
        """Simulate ``plans``; ``deps[i]`` lists the ops op ``i`` waits for (default: ``i - 1``)."""
        deps = chain_deps(len(plans)) if deps is None else deps
        done = [self.env.event() for _ in plans]
        timings: list[OpTiming | None] = [None] * len(plans)
        for i, plan in enumerate(plans):
            self.env.process(self._op(i, plan, [done[d] for d in deps[i]], done[i], timings))
        self.env.run()
        missing = [i for i, t in enumerate(timings) if t is None]
        if missing:
            raise RuntimeError(f"ops never ran (dependency cycle?): {missing[:5]}")
        return timings  # type: ignore[return-value]

    def _timeline(self, plan: OpPlan):
        """Pipeline result of a plan, cached by identity (layers share plan objects)."""
        key = id(plan)
        hit = self._pipeline_cache.get(key)
        if hit is None or hit[0] is not plan:
            if self.channel is None:  # no DRAM: every operand is on chip
                load = store = np.zeros(len(plan.counts))
                latency = 0
            else:
                load, store = self.channel.transfer_cycles(plan)
                latency = self.channel.latency_cycles
            result = run_pipeline(plan.counts, load, plan.compute_cycles, store, latency,
                                  self.buffers)
            hit = (plan, result)
            self._pipeline_cache[key] = hit
        return hit[1]

    def _op(self, index: int, plan: OpPlan, waits, done, timings):
        for ev in waits:
            yield ev
        with self.units[plan.unit].request() as req:
            yield req
            start = self.env.now
            end, busy, chan, group_end = self._timeline(plan)
            previous = 0
            for g in range(len(group_end)):
                step = int(group_end[g]) - previous
                if step > 0:
                    yield self.env.timeout(step)
                self.intervals.append(Interval(plan.unit, index, g, start + previous,
                                               start + int(group_end[g]), int(plan.counts[g])))
                previous = int(group_end[g])
            if end > previous:  # trailing write-back of the last outputs
                yield self.env.timeout(end - previous)
            timings[index] = OpTiming(start, start + end, busy, chan)
        done.succeed()


def coalesce(counts: np.ndarray, *columns: np.ndarray):
    """Run-length encode tiles: merge consecutive rows whose columns are all equal.

    ``counts`` gives each row's multiplicity; returns ``(counts, *columns)`` with merged rows.
    """
    cols = [np.asarray(c, dtype=np.int64) for c in columns]
    n = len(counts)
    if n == 0:
        return (np.zeros(0, np.int64), *[c[:0] for c in cols])
    change = np.zeros(n, dtype=bool)
    change[0] = True
    for c in cols:
        change[1:] |= c[1:] != c[:-1]
    starts = np.flatnonzero(change)
    sums = np.add.reduceat(np.asarray(counts, dtype=np.int64), starts)
    return (sums, *[c[starts] for c in cols])


def followed_by_gap(plan: OpPlan, cycles: int) -> OpPlan:
    """``plan`` with one more tile group: ``cycles`` on its unit and no traffic, after its last
    tile (a kernel's launch gap: its loads cannot start before it is launched). In place."""
    if cycles <= 0:
        return plan
    plan.counts, plan.load_bytes, plan.compute_cycles, plan.store_bytes = coalesce(
        np.append(plan.counts, 1), np.append(plan.load_bytes, 0),
        np.append(plan.compute_cycles, cycles), np.append(plan.store_bytes, 0))
    return plan
