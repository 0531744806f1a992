"""Results: per-op rows and totals, with JSON / CSV output and a terminal summary.

Totals are sums of the rows (cycles, energy, MACs, bytes); a test enforces it. The JSON is
versioned (``schema_version``), stamped with the simulator version and a hash of the resolved
inputs, and deterministic: the same inputs give byte-identical files.
"""

from __future__ import annotations

import csv
import json
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sim.units import format_bytes, format_si

SCHEMA_VERSION = 3  # 2: the ``dram`` section; 3: ``units`` busy fractions and family ``extras``
#: energy components every family reports; a family adds its own compute components
#: (:attr:`sim.family.Family.energy_components`) in front of them
ENERGY_COMPONENTS = ("sram", "dram", "vector", "leakage")


@dataclass
class OpRow:
    """One op's result. Cycles are accelerator clock cycles; energy in joules; bytes in bytes."""

    name: str
    layer: int
    kind: str
    role: str
    shape: str
    unit: str
    start_cycle: int
    cycles: int
    compute_cycles: int
    stall_cycles: int
    macs: int
    vector_ops: int
    bytes: dict
    energy_joules: float
    energy_breakdown: dict
    utilization: float
    roofline_cycles: int
    mapping: str


@dataclass
class Report:
    """Everything one simulation produced."""

    simulator_version: str
    input_hash: str
    arch_name: str
    kind: str
    arch_file: str | None
    workload: str
    frequency_hz: float
    tokens: int
    cycles: int
    seconds: float
    tokens_per_second: float
    energy_joules: float
    area_mm2: float
    average_power_w: float
    macs: int
    compute_cycles: int
    stall_cycles: int
    roofline_cycles: int
    energy_breakdown: dict
    area_breakdown: dict
    pricing: dict
    ops: list[OpRow]
    config: dict
    workload_config: dict
    dram: dict = field(default_factory=dict)
    units: dict = field(default_factory=dict)
    extras: dict = field(default_factory=dict)
    intervals: list = field(default_factory=list, repr=False)

    # ---- conversions ----------------------------------------------------------------------
    def to_dict(self) -> dict:
        """Plain, JSON-ready dict (the ``--json`` document)."""
        d = asdict(self)
        d.pop("intervals")
        d["ops"] = [asdict(r) for r in self.ops]
        return {"schema_version": SCHEMA_VERSION, **d}

    def to_json(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1, sort_keys=False) + "\n",
                              encoding="utf-8")

    def to_dataframe(self):
        """Per-op rows as a pandas DataFrame (pandas is optional)."""
        import pandas as pd
        return pd.DataFrame([_flat_row(r) for r in self.ops])

    def to_csv(self, path: str | Path) -> None:
        rows = [_flat_row(r) for r in self.ops]
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)

    # ---- terminal --------------------------------------------------------------------------
    def summary(self, top: int = 10) -> str:
        """Human-readable summary: totals, breakdowns, top ops by time, roofline ratio."""
        w = self.workload_config
        lines = [f"accelsim {self.simulator_version} | {self.workload} on {self.arch_name} "
                 f"(kind {self.kind}{', ' + self.arch_file if self.arch_file else ''})"]
        shape = (f"context {w['context_len']}" if w["phase"] == "decode"
                 else f"prompt {w['prompt_len']}")
        lines.append(f"  model {w['model']}, {w['phase']}, batch {w['batch']}, {shape}, "
                     f"W{w['weight_bits']} A{w['act_bits']} KV{w['kv_bits']}")
        lines.append("")
        ratio = self.cycles / self.roofline_cycles if self.roofline_cycles else float("nan")
        stall_pct = 100 * self.stall_cycles / self.cycles if self.cycles else 0
        lines += [
            f"  latency         {format_si(self.seconds, 's'):>12}   {self.cycles:,} cycles "
            f"@ {format_si(self.frequency_hz, 'Hz')}",
            f"  throughput      {self.tokens_per_second:>12,.1f} tokens/s ({self.tokens} tokens)",
            f"  energy          {format_si(self.energy_joules, 'J'):>12}   "
            f"{format_si(self.energy_joules / max(self.tokens, 1), 'J')}/token, "
            f"average power {format_si(self.average_power_w, 'W')}",
            f"  area            {self.area_mm2:>9.2f} mm2",
            f"  MACs            {self.macs:>12,}",
            f"  memory stalls   {stall_pct:>11.1f}%   ({self.stall_cycles:,} of {self.cycles:,} "
            f"cycles waiting on DRAM)",
            f"  roofline bound  {self.roofline_cycles:>12,} cycles; simulated / bound = {ratio:.3f}",
            "",
        ]
        e_total = self.energy_joules or 1.0
        a_total = self.area_mm2 or 1.0
        e_items = sorted(self.energy_breakdown.items(), key=lambda kv: -kv[1])
        a_items = sorted(self.area_breakdown.items(), key=lambda kv: -kv[1]["mm2"])
        lines.append(f"  {'energy breakdown':<34}{'area breakdown'}")
        for i in range(max(len(e_items), len(a_items))):
            left = right = ""
            if i < len(e_items):
                k, v = e_items[i]
                left = f"{k:<13}{100 * v / e_total:6.1f}%  {format_si(v, 'J'):>9}"
            if i < len(a_items):
                k, v = a_items[i]
                right = f"{k:<13}{100 * v['mm2'] / a_total:6.1f}%  {v['mm2']:9.3f} mm2"
            lines.append(f"    {left:<32}  {right}")
        lines.append("")
        lines.append("  top ops by time (summed over layers)")
        lines.append(f"    {'op':<15}{'kind':<12}{'n':>4}{'cycles':>14}{'time':>7}{'util':>8}"
                     f"{'stall':>8}{'/bound':>8}")
        for name, g in _group_by_name(self.ops)[:top]:
            lines.append(f"    {name:<15}{g['kind']:<12}{g['n']:>4}{g['cycles']:>14,}"
                         f"{100 * g['cycles'] / max(self.cycles, 1):6.1f}%{100 * g['util']:7.2f}%"
                         f"{100 * g['stall'] / max(g['cycles'], 1):7.1f}%"
                         f"{g['cycles'] / max(g['bound'], 1):8.2f}")
        lines.append("")
        lines.append(f"  DRAM traffic {format_bytes(sum(r.bytes['dram_read'] for r in self.ops))} read, "
                     f"{format_bytes(sum(r.bytes['dram_write'] for r in self.ops))} written; "
                     f"input hash {self.input_hash}")
        d = self.dram
        if d:
            c = d["commands"]
            lines.append(f"  DRAM {d['preset']} ({d['model']}, {d['controllers']} controllers, "
                         f"peak {format_si(d['peak_bandwidth'], 'B/s')}): bandwidth utilisation "
                         f"{100 * d['bandwidth_utilization']:.1f}%, row hits "
                         f"{100 * d['row_hit_rate']:.1f}%, {format_si(d['energy_joules'], 'J')}; "
                         f"ACT {c['ACT']:,} PRE {c['PRE']:,} RD {c['RD']:,} WR {c['WR']:,} "
                         f"REF {c['REF']:,}")
        return "\n".join(lines)


def _flat_row(r: OpRow) -> dict:
    d = asdict(r)
    for k, v in d.pop("bytes").items():
        d[f"bytes_{k}"] = v
    for k, v in d.pop("energy_breakdown").items():
        d[f"energy_{k}_joules"] = v
    return d


def _group_by_name(rows: list[OpRow]) -> list[tuple[str, dict]]:
    groups: dict[str, dict] = OrderedDict()
    for r in rows:
        g = groups.setdefault(r.name, {"kind": r.kind, "n": 0, "cycles": 0, "stall": 0,
                                       "bound": 0, "work": 0.0, "cap": 0.0})
        g["n"] += 1
        g["cycles"] += r.cycles
        g["stall"] += r.stall_cycles
        g["bound"] += r.roofline_cycles
        g["work"] += r.utilization * r.cycles
        g["cap"] += r.cycles
    for g in groups.values():
        g["util"] = g["work"] / g["cap"] if g["cap"] else 0.0
    return sorted(groups.items(), key=lambda kv: -kv[1]["cycles"])


def build_report(arch, workload, plans, timings, area, static_power, intervals, digest,
                 pricing: dict, dram=None) -> Report:
    """Assemble rows and totals; leakage and DRAM energy are charged to each op for its
    duration (``dram`` is the :class:`sim.memory.DramSystem` the ops streamed through)."""
    from sim import __version__
    f_hz = arch.cfg.tech.frequency
    rows = []
    dram_pj = []
    makespan = max((t.end for t in timings), default=0)
    busy = sum(t.cycles for t in timings)
    # ops on different units may overlap: time-proportional charges (leakage, DRAM background
    # and refresh) are shared so that they add up to the makespan's, not the summed op times
    share = makespan / busy if busy and makespan < busy else 1.0
    other_levels = sorted({k for plan in plans for k in plan.other_bytes})
    for op, plan, t in zip(workload.ops, plans, timings):
        seconds = t.cycles * share / f_hz
        breakdown = dict.fromkeys(arch.family.energy_components + ENERGY_COMPONENTS, 0.0)
        for k, pj in plan.energy_pj.items():  # families may add components of their own
            breakdown[k] = breakdown.get(k, 0.0) + pj * 1e-12
        breakdown["leakage"] = static_power.value * seconds
        if dram is not None:
            parts = dram.op_energy_pj(plan, t.cycles * share)
            dram_pj.append(parts)
            breakdown["dram"] += sum(parts.values()) * 1e-12
        peak = plan.peak_macs_per_cycle
        work = plan.macs if plan.macs else plan.vector_ops
        util = work / (t.cycles * peak) if t.cycles and peak else 0.0
        rows.append(OpRow(
            name=op.name, layer=op.layer, kind=op.kind, role=op.role, shape=op.shape,
            unit=plan.unit, start_cycle=t.start, cycles=t.cycles,
            compute_cycles=plan.ideal_compute_cycles,
            stall_cycles=t.cycles - plan.ideal_compute_cycles, macs=plan.macs,
            vector_ops=plan.vector_ops,
            bytes={"dram_read": plan.dram_read_bytes, "dram_write": plan.dram_write_bytes,
                   "sram_read": plan.sram_read_bytes, "sram_write": plan.sram_write_bytes,
                   **{k: plan.other_bytes.get(k, 0) for k in other_levels}},
            energy_joules=sum(breakdown.values()), energy_breakdown=breakdown,
            utilization=util, roofline_cycles=plan.roofline_cycles, mapping=plan.mapping))
    cycles = makespan
    seconds = cycles / f_hz
    energy = sum(r.energy_joules for r in rows)
    components = dict.fromkeys(k for r in rows for k in r.energy_breakdown)
    e_break = {k: sum(r.energy_breakdown.get(k, 0.0) for r in rows) for k in components}
    area_break = {k: {"mm2": v.mm2, "priced_by": list(v.entries), "detail": v.detail}
                  for k, v in area.items()}
    pricing = {**pricing, "leakage": list(static_power.entries)}
    if dram is not None:
        pricing["dram"] = dram.pricing()
    return Report(
        simulator_version=__version__, input_hash=digest, arch_name=arch.name, kind=arch.kind,
        arch_file=arch.file, workload=workload.name, frequency_hz=f_hz, tokens=workload.tokens,
        cycles=cycles, seconds=seconds,
        tokens_per_second=workload.tokens / seconds if seconds else 0.0,
        energy_joules=energy, area_mm2=sum(v.mm2 for v in area.values()),
        average_power_w=energy / seconds if seconds else 0.0,
        macs=sum(r.macs for r in rows), compute_cycles=sum(r.compute_cycles for r in rows),
        stall_cycles=sum(r.stall_cycles for r in rows),
        roofline_cycles=sum(r.roofline_cycles for r in rows),
        energy_breakdown=e_break, area_breakdown=area_break, pricing=pricing, ops=rows,
        config=arch.resolved(), workload_config={"name": workload.name,
                                                 **workload.cfg.to_dict()},
        dram=(dram.summary(plans, [r.cycles * share for r in rows], dram_pj)
              if dram is not None else {}),
        units=unit_busy(intervals, makespan), intervals=intervals)


def unit_busy(intervals, makespan: int) -> dict:
    """Fraction of the makespan each unit was occupied."""
    spans: dict = {}
    for iv in intervals:
        spans[iv.unit] = spans.get(iv.unit, 0) + iv.end - iv.start
    return {u: v / makespan if makespan else 0.0 for u, v in sorted(spans.items())}
