"""The DRAM system every family streams through: controllers, streams, op traffic, energy.

* :func:`run_requests` serves an explicit request list (addresses, arrival cycles, read/write)
  on the command-level controllers and returns every request's completion cycle.
* :func:`run_stream` serves a saturating sequential stream of ``nbytes`` starting at address 0:
  the DMA front end keeps every controller's queue full. A controller's share of a sequential
  stream is a prefix of the same per-controller sequence, so controllers with equal shares
  behave identically and are simulated once; long streams use the kernel's exact periodic
  steady state. Results are cached per (spec, size, direction).
* :class:`DramSystem` is what the event engine sees. Per op it serves the op's reads and its
  writes as two streams (a controller drains writes in batches) and charges each tile its
  share of the op's stream time, so the sum over tiles equals the simulated stream time.
  Times convert from DRAM clock cycles to accelerator cycles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.core.config import Config
from sim.memory.dram_kernel import (N_STATS, ST_ACT, ST_ACTIVE, ST_END, ST_HITS, ST_LAST,
                                    ST_PERIOD_CYC, ST_PERIOD_REQ, ST_PRE, ST_RD, ST_REF, ST_SKIPPED,
                                    ST_WR, run_controller)
from sim.memory.energy import DramEnergy
from sim.memory.spec import DramSpec, address_map, parse_mapping, resolve_spec, TIMING_NAMES

COMMANDS = ("ACT", "PRE", "RD", "WR", "REF")
#: Controller-state snapshots kept while looking for the steady state (memory bound, not a model
#: parameter: a stream whose period is longer is simply simulated in full).
MAX_SNAPSHOTS = 2048
_EMPTY = np.zeros(0, dtype=np.int64)


@dataclass(frozen=True)
class StreamResult:
    """A stream served by all controllers. Cycles are DRAM clock cycles."""

    requests: int
    cycles: int                 # start to the last completion (slowest controller)
    commands: dict              # summed over controllers
    hits: int                   # column accesses that needed no ACT
    active_rank_cycles: int     # rank-cycles with a bank open, summed over controllers
    extrapolated: int           # requests covered by the periodic steady state
    period: tuple               # (requests, cycles) of the detected period, per controller


def _geometry(spec: DramSpec) -> np.ndarray:
    o = spec.org
    return np.array([o["ranks"], o["bankgroups"], o["banks_per_group"]], dtype=np.int64)


def _stream_fields(spec: DramSpec) -> tuple[np.ndarray, np.ndarray]:
    """Shifts / widths of (rank, bank group, bank, row) in a controller's own index space."""
    amap = address_map(spec)
    tokens = [t for t in parse_mapping(spec.mapping) if t not in ("ch", "pc")]
    shifts, pos = {}, 0
    for tok in reversed(tokens):
        shifts[tok] = pos
        pos += amap.widths[tok]
    order = ("ra", "bg", "ba", "ro")
    sh = np.array([shifts.get(f, pos) for f in order], dtype=np.int64)
    wd = np.array([amap.widths[f] for f in order], dtype=np.int64)
    return sh, wd


def _count_below(limit: int, fixed: dict[int, int]) -> int:
    """How many x in [0, limit) have bit p equal to fixed[p] for every p in ``fixed``."""
    total = 0
    for j in range(limit.bit_length() - 1, -1, -1):
        if not (limit >> j) & 1:
            continue
        # x equals limit above bit j, has 0 at bit j, anything below
        ok = all(((limit >> p) & 1) == v for p, v in fixed.items() if p > j)
        if ok and fixed.get(j, 0) == 0:
            total += 1 << (j - sum(1 for p in fixed if p < j))
    return total


def controller_shares(spec: DramSpec, accesses: int) -> dict[int, int]:
    """``{requests per controller: number of controllers}`` for a stream of ``accesses``."""
    amap = address_map(spec)
    positions = [amap.shifts["ch"] + i for i in range(amap.widths["ch"])]
    positions += [amap.shifts["pc"] + i for i in range(amap.widths["pc"])]
    shares: dict[int, int] = {}
    for c in range(spec.controllers):
        fixed = {p: (c >> i) & 1 for i, p in enumerate(positions)}
        n = _count_below(accesses, fixed)
        shares[n] = shares.get(n, 0) + 1
    return shares


def _run(spec: DramSpec, n: int, write: bool, detect: bool, explicit=None,
         complete: np.ndarray = _EMPTY) -> np.ndarray:
    sh, wd = _stream_fields(spec)
    bank, row, wr, arr = explicit if explicit is not None else (_EMPTY,) * 4
    stats = run_controller(spec.timing_array(), _geometry(spec), spec.closed_page,
                           spec.queue_depth, spec.refresh_code, explicit is not None, n,
                           bank, row, wr, arr, sh, wd, int(write), detect,
                           MAX_SNAPSHOTS, complete)
    if stats[ST_END] == -2:
        raise RuntimeError(f"DRAM controller livelocked (spec {spec.preset}, timings "
                           f"{dict(spec.timing)}); please report")
    if stats[ST_END] < 0:
        raise RuntimeError(f"DRAM controller stalled (spec {spec.preset}); please report")
    return stats


_STREAM_CACHE: dict[tuple, StreamResult] = {}


def run_stream(spec: DramSpec, nbytes: int, write: bool = False,
               detect: bool = True) -> StreamResult:
    """Serve ``nbytes`` of sequential reads (or writes) from address 0, saturating the queues."""
    accesses = -(-int(nbytes) // spec.access_bytes)
    key = (spec.key(), accesses, write, detect)
    hit = _STREAM_CACHE.get(key)
    if hit is not None:
        return hit
    commands = dict.fromkeys(COMMANDS, 0)
    cycles = hits = active = extrapolated = 0
    period = (0, 0)
    for n, copies in sorted(controller_shares(spec, accesses).items()):
        if n == 0:
            continue
        s = _run(spec, n, write, detect)
        cycles = max(cycles, int(s[ST_LAST]))
        for name, idx in zip(COMMANDS, (ST_ACT, ST_PRE, ST_RD, ST_WR, ST_REF)):
            commands[name] += copies * int(s[idx])
        hits += copies * int(s[ST_HITS])
        active += copies * int(s[ST_ACTIVE])
        extrapolated += copies * int(s[ST_SKIPPED])
        if s[ST_PERIOD_REQ]:
            period = (int(s[ST_PERIOD_REQ]), int(s[ST_PERIOD_CYC]))
    result = StreamResult(accesses, cycles, commands, hits, active, extrapolated, period)
    _STREAM_CACHE[key] = result
    return result


def run_requests(spec: DramSpec, addresses, arrivals=None, writes=None):
    """Serve explicit requests; return ``(completion cycles, summed stats dict)``.

    ``addresses`` are byte addresses (one access each); ``arrivals`` DRAM cycles (default 0);
    ``writes`` booleans (default reads). Each controller serves its requests in arrival order.
    """
    addr = np.asarray(addresses, dtype=np.int64)
    n = addr.shape[0]
    arr = np.zeros(n, np.int64) if arrivals is None else np.asarray(arrivals, dtype=np.int64)
    wr = np.zeros(n, np.int64) if writes is None else np.asarray(writes, dtype=np.int64)
    f = address_map(spec).decode(addr)
    o = spec.org
    bank = (f["ra"] * o["bankgroups"] + f["bg"]) * o["banks_per_group"] + f["ba"]
    ctrl = f["ch"] * o["pseudo_channels"] + f["pc"]
    complete = np.zeros(n, dtype=np.int64)
    total = np.zeros(N_STATS, dtype=np.int64)
    for c in np.unique(ctrl):
        idx = np.flatnonzero(ctrl == c)
        idx = idx[np.argsort(arr[idx], kind="stable")]
        out = np.zeros(idx.shape[0], dtype=np.int64)
        s = _run(spec, idx.shape[0], False, False,
                 (bank[idx].astype(np.int64), f["ro"][idx].astype(np.int64), wr[idx], arr[idx]),
                 out)
        complete[idx] = out
        total += s
    stats = {name: int(total[i]) for name, i in zip(COMMANDS, (ST_ACT, ST_PRE, ST_RD, ST_WR,
                                                                  ST_REF))}
    stats["hits"] = int(total[ST_HITS])
    return complete, stats


@dataclass(frozen=True)
class OpTraffic:
    """One op's DRAM work (reads and writes as streams), DRAM cycles."""

    read: StreamResult | None
    write: StreamResult | None

    def commands(self) -> dict:
        out = dict.fromkeys(COMMANDS, 0)
        for s in (self.read, self.write):
            if s is not None:
                for k in COMMANDS:
                    out[k] += s.commands[k]
        return out

    @property
    def hits(self) -> int:
        return sum(s.hits for s in (self.read, self.write) if s is not None)

    @property
    def active_rank_cycles(self) -> int:
        return sum(s.active_rank_cycles for s in (self.read, self.write) if s is not None)


def param_bytes(op) -> int:
    """Bytes of the parameter tensor ``op`` owns (0 for KV-cache products)."""
    if getattr(op, "b_source", None) == "kv":
        return 0
    bits = op.b_bits if hasattr(op, "b_bits") else op.param_bits
    return -(-op.param_elems * bits // 8)


def footprint_bytes(ops) -> int:
    """DRAM bytes a workload keeps resident: every parameter tensor plus the KV cache it reads."""
    return sum(op.b_bytes if getattr(op, "b_source", None) == "kv" else param_bytes(op)
               for op in ops)


class DramSystem:
    """DRAM as the engine sees it: per-tile transfer cycles, latency, energy, statistics."""

    def __init__(self, cfg: Config, file: str | None, accel_hz: float):
        spec, problems = resolve_spec(cfg, file)
        if problems:  # arch loading reports these first; this guards direct use
            from sim.core.errors import ConfigError
            raise ConfigError(problems)
        self.spec: DramSpec = spec
        self.model = cfg.model
        self.energy = DramEnergy.of(spec)
        self.accel_hz = accel_hz
        self.per_dram_cycle = accel_hz / spec.frequency_hz  # accelerator cycles per DRAM cycle
        extra = cfg.controller_latency * accel_hz / 1e9
        if self.model == "ideal":
            bw = cfg.bandwidth if cfg.bandwidth is not None else spec.peak_bandwidth
            lat_ns = (cfg.latency if cfg.latency is not None
                      else spec.idle_read_latency_cycles * spec.tck_ns)
            self.ideal_bytes_per_cycle = bw / accel_hz
            self.latency_cycles = int(math.ceil(lat_ns * accel_hz / 1e9 + extra))
        else:
            t = spec.timing
            self.latency_cycles = int(math.ceil((t["tRCD"] + t["CL"]) * self.per_dram_cycle
                                                + extra))
        # an ideal pipe's peak is its configured bandwidth; the cycle model's the standard's
        self.peak_bytes_per_cycle = (self.ideal_bytes_per_cycle if self.model == "ideal"
                                     else spec.peak_bandwidth / accel_hz)
        self._traffic: dict[int, tuple] = {}

    # ---- timing ----------------------------------------------------------------------------
    def peak_cycles(self, nbytes: int) -> int:
        """Accelerator cycles to move ``nbytes`` at the device's peak bandwidth (roofline)."""
        return int(math.ceil(nbytes / self.peak_bytes_per_cycle))

    def traffic(self, plan) -> OpTraffic:
        """The op's reads and writes served as streams (cached per plan object)."""
        hit = self._traffic.get(id(plan))
        if hit is not None and hit[0] is plan:
            return hit[1]
        rd, wr = plan.dram_read_bytes, plan.dram_write_bytes
        if self.model == "ideal":
            result = OpTraffic(self._ideal_stream(rd, False), self._ideal_stream(wr, True))
        else:
            result = OpTraffic(run_stream(self.spec, rd, False) if rd else None,
                               run_stream(self.spec, wr, True) if wr else None)
        self._traffic[id(plan)] = (plan, result)
        return result

    def _ideal_stream(self, nbytes: int, write: bool) -> StreamResult | None:
        """Analytic stand-in for model: ideal: row-hit streaming at the configured bandwidth."""
        if not nbytes:
            return None
        s = self.spec
        accesses = -(-nbytes // s.access_bytes)
        rows = -(-nbytes // s.org["row_bytes"])
        cyc = int(math.ceil(nbytes / self.ideal_bytes_per_cycle / self.per_dram_cycle))
        commands = {"ACT": rows, "PRE": rows, "RD": 0 if write else accesses,
                    "WR": accesses if write else 0, "REF": 0}
        return StreamResult(accesses, cyc, commands, accesses - rows,
                            cyc * s.org["ranks"] * s.controllers, 0, (0, 0))

    def transfer_cycles(self, plan) -> tuple[np.ndarray, np.ndarray]:
        """Per-tile load and store channel occupancy of each tile group (accelerator cycles).

        The op's stream time minus the head latency (charged separately by the pipeline as
        :attr:`latency_cycles`) is shared among tiles in proportion to their bytes.
        """
        load = np.asarray(plan.load_bytes, dtype=np.float64)
        store = np.asarray(plan.store_bytes, dtype=np.float64)
        if self.model == "ideal":
            return load / self.ideal_bytes_per_cycle, store / self.ideal_bytes_per_cycle
        tr = self.traffic(plan)
        t = self.spec.timing
        return (load * self._rate(tr.read, t["tRCD"] + t["CL"], plan.dram_read_bytes),
                store * self._rate(tr.write, t["tRCDWR"] + t["CWL"], plan.dram_write_bytes))

    def _rate(self, stream: StreamResult | None, head: int, nbytes: int) -> float:
        """Accelerator cycles of channel occupancy per byte of this stream."""
        if stream is None or not nbytes:
            return 0.0
        return max(stream.cycles - head, 0) * self.per_dram_cycle / nbytes

    # ---- capacity ----------------------------------------------------------------------------
    def capacity_problems(self, workload, file: str | None) -> list[str]:
        """A message if the workload's weights and KV cache exceed the DRAM capacity."""
        need = footprint_bytes(workload.ops)
        have = self.spec.capacity_bytes
        if need <= have:
            return []
        from sim.core.errors import where
        from sim.core.units import format_bytes
        return [f"{where(file, 'dram.channels')}: workload {workload.name} needs "
                f"{format_bytes(need)} of weights and KV cache but {self.spec.preset} with "
                f"{self.spec.org['channels']} channels holds {format_bytes(have)}; allowed: "
                f"more channels (or rows/ranks), or a smaller model, batch or context"]

    # ---- energy and statistics -------------------------------------------------------------
    def rank_count(self) -> int:
        return self.spec.org["ranks"] * self.spec.controllers

    def refreshes(self, accel_cycles: int) -> float:
        """All-bank refreshes (all ranks) that fall into ``accel_cycles`` of wall time."""
        if self.spec.refresh == "off":
            return 0.0
        return accel_cycles / self.per_dram_cycle / self.spec.timing["tREFI"] * self.rank_count()

    def op_energy_pj(self, plan, accel_cycles: int) -> dict:
        """DRAM energy of one op that lasted ``accel_cycles`` (pJ by component)."""
        tr = self.traffic(plan)
        commands = tr.commands()
        commands["REF"] = self.refreshes(accel_cycles)
        rank_cycles = accel_cycles / self.per_dram_cycle * self.rank_count()
        active = min(tr.active_rank_cycles, rank_cycles)
        bits = 8 * (plan.dram_read_bytes + plan.dram_write_bytes)
        return self.energy.breakdown_pj(commands, bits, active, rank_cycles - active)

    def summary(self, plans, cycles_per_op, energy_pj_per_op) -> dict:
        """The report's ``dram`` section."""
        commands = dict.fromkeys(COMMANDS, 0)
        hits = rd = wr = extrapolated = 0
        for plan in plans:
            tr = self.traffic(plan)
            for k, v in tr.commands().items():
                commands[k] += v
            hits += tr.hits
            rd += plan.dram_read_bytes
            wr += plan.dram_write_bytes
            extrapolated += sum(s.extrapolated for s in (tr.read, tr.write) if s is not None)
        total_cycles = sum(cycles_per_op)
        commands["REF"] = int(round(self.refreshes(total_cycles)))
        columns = commands["RD"] + commands["WR"]
        seconds = total_cycles / self.accel_hz
        breakdown = {}
        for e in energy_pj_per_op:
            for k, v in e.items():
                breakdown[k] = breakdown.get(k, 0.0) + v * 1e-12
        s = self.spec
        peak = self.peak_bytes_per_cycle * self.accel_hz  # B/s; an ideal pipe's is as configured
        return {
            "model": self.model,
            "preset": s.preset,
            "controllers": s.controllers,
            "peak_bandwidth": peak,
            "capacity_bytes": s.capacity_bytes,
            "bytes_read": rd,
            "bytes_written": wr,
            "bandwidth_utilization": (rd + wr) / (peak * seconds) if seconds else 0.0,
            "row_hit_rate": hits / columns if columns else 0.0,
            "commands": commands,
            "energy_joules": sum(breakdown.values()),
            "energy_breakdown_joules": breakdown,
            "requests_extrapolated": extrapolated,
            "sources": dict(s.sources),
        }

    def pricing(self) -> list[str]:
        s = self.spec
        return [f"dram preset {s.preset}: {s.sources['power_source']}",
                f"dram interface: {s.sources['io_source']}"]


__all__ = ["DramSystem", "StreamResult", "run_stream", "run_requests", "controller_shares",
           "TIMING_NAMES"]
