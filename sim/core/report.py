"""Results: per-op rows and totals, with JSON / CSV output and a terminal summary.

Totals are sums of the rows (cycles, energy, MACs, bytes); a test enforces it. The JSON is
versioned (``schema_version``), stamped with the simulator version and a hash of the resolved
inputs, and deterministic: the same inputs give byte-identical files.
"""

from __future__ import annotations

import csv
import json
import math
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sim.core.engine import chain_deps
from sim.core.units import format_bytes, format_si

#: 2: the ``dram`` section; 3: ``units`` busy fractions and family ``extras``; 4: ``units``
#: became ``compute_units`` (busy fraction and peak per unit), ``executed_macs`` per op, a run
#: roofline over concurrent units, ``devices`` (the shards a multi-device workload stands for)
#: 5: ``power`` (static and dynamic power, the design's limit) and the energy
#: components that are static (``static_components``)
SCHEMA_VERSION = 5
#: energy components every family reports; a family adds its own compute components
#: (:attr:`sim.core.family.Family.energy_components`) in front of them, and its static ones
#: (:meth:`sim.core.family.Family.static_power`) after
ENERGY_COMPONENTS = ("sram", "dram", "vector")


@dataclass(frozen=True)
class Power:
    """A design's power beside its per-op energy: ``static`` W by component for the whole run,
    ``busy`` W by component while an op runs (dynamic), and the design's ``limit_w`` (None
    when unknown)."""

    static: dict
    busy: dict
    limit_w: float | None = None
    #: the design's power management holds it at ``limit_w`` (a GPU lowers its clock): the
    #: dynamic on-chip energy of a run above the limit is scaled down to it (the time model's
    #: clock stands for the capped clock); otherwise a run above the limit is only flagged
    enforced: bool = False


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
    #: MACs the unit computed: ``macs`` (the model's) unless the kernel skips masked work
    #: (causal attention) or computes padding; utilisation and the roofline are about these
    executed_macs: int = 0


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
    #: per compute unit: ``busy_fraction`` of the makespan and ``peak_macs_per_cycle`` (the
    #: highest of its ops; 0 for a unit that ran no MACs) and ``peak_ops_per_cycle`` (vector)
    compute_units: dict = field(default_factory=dict)
    extras: dict = field(default_factory=dict)
    #: devices the workload is split over (tensor x pipeline parallel); the report is one of
    #: them (its ops, cycles, energy and area), serving ``tokens`` of the whole batch
    devices: int = 1
    #: one line each: what the run did that a user should know (workload warnings, a run
    #: above the design's power limit)
    warnings: list = field(default_factory=list)
    #: ``static_w`` and ``dynamic_w`` (W over the run; they add up to ``average_power_w``),
    #: ``limit_w`` (the design's power limit or None), ``above_limit``, and for a design held
    #: at its limit ``held_at_limit`` and ``unheld_average_w`` (W at the modelled clock)
    power: dict = field(default_factory=dict)
    #: the components of ``energy_breakdown`` that are static (drawn whatever runs)
    static_components: list = field(default_factory=list)
    intervals: list = field(default_factory=list, repr=False)

    # ---- derived ---------------------------------------------------------------------------
    @property
    def op_cycles(self) -> int:
        """Cycles of all ops added up (more than ``cycles`` when units run concurrently)."""
        return sum(r.cycles for r in self.ops)

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
        att = w.get("attention_bits", w["act_bits"])  # reports written before the field
        lines.append(f"  model {w['model']}, {w['phase']}, batch {w['batch']}, {shape}, "
                     f"W{w['weight_bits']} A{w['act_bits']} KV{w['kv_bits']}"
                     + (f" attention {att}" if att != w["act_bits"] else ""))
        lines += [f"  warning: {w}" for w in self.warnings]
        if self.devices > 1:
            lines.append(f"  ONE DEVICE of {self.devices} (tensor_parallel "
                         f"{w.get('tensor_parallel', 1)} x pipeline_parallel "
                         f"{w.get('pipeline_parallel', 1)}): latency, energy, power and area "
                         f"below are that device's; communication is not modelled")
        lines.append("")
        ratio = self.cycles / self.roofline_cycles if self.roofline_cycles else float("nan")
        op_cycles = self.op_cycles
        overlap = op_cycles > self.cycles
        stall_pct = 100 * self.stall_cycles / op_cycles if op_cycles else 0
        stall_of = (f"of {op_cycles:,} op-cycles waiting on memory; concurrent units' "
                    f"op-cycles summed" if overlap else
                    f"of {self.cycles:,} cycles waiting on memory")
        energy_per_token = self.energy_joules * self.devices / max(self.tokens, 1)
        per_token_note = (f" ({self.devices} devices x this one)" if self.devices > 1 else "")
        lines += [
            f"  latency         {format_si(self.seconds, 's'):>12}   {self.cycles:,} cycles "
            f"@ {format_si(self.frequency_hz, 'Hz')}",
            f"  throughput      {self.tokens_per_second:>12,.1f} tokens/s "
            f"({plural(self.tokens, 'token')})",
            f"  energy          {format_si(self.energy_joules, 'J'):>12}   "
            f"{format_si(energy_per_token, 'J')}/token{per_token_note}, "
            f"average power {format_si(self.average_power_w, 'W')}{self._power_note()}",
            f"  area            {self.area_mm2:>9.2f} mm2",
            f"  MACs            {self.macs:>12,}",
            f"  memory stalls   {stall_pct:>11.1f}%   ({self.stall_cycles:,} {stall_of})",
            f"  roofline bound  {self.roofline_cycles:>12,} cycles; simulated / bound = {ratio:.3f}",
            "",
        ]
        lines += self._breakdown_lines()
        lines += self._top_op_lines(top, overlap)
        lines.append("")
        lines.append(f"  DRAM traffic {format_bytes(sum(r.bytes['dram_read'] for r in self.ops))} read, "
                     f"{format_bytes(sum(r.bytes['dram_write'] for r in self.ops))} written; "
                     f"input hash {self.input_hash}")
        d = self.dram
        if d:
            c = d["commands"]
            head = (f"  DRAM {d['preset']} ({d['model']}, {d['controllers']} controllers, "
                    f"peak {format_si(d['peak_bandwidth'], 'B/s')}): bandwidth utilisation "
                    f"{100 * d['bandwidth_utilization']:.1f}%, ")
            if d["model"] == "ideal":  # a fixed-bandwidth pipe has no rows or commands
                lines.append(head + f"{format_si(d['energy_joules'], 'J')}")
            else:
                lines.append(head + f"row hits {100 * d['row_hit_rate']:.1f}%, "
                             f"{format_si(d['energy_joules'], 'J')}; ACT {c['ACT']:,} "
                             f"PRE {c['PRE']:,} RD {c['RD']:,} WR {c['WR']:,} REF {c['REF']:,}")
        return "\n".join(lines)

    def _power_note(self) -> str:
        """`` (static X W; limit Y W)`` after the average power, ABOVE when it is over."""
        p = self.power
        if not p:
            return ""
        note = f" (static {format_si(p['static_w'], 'W')}"
        if p.get("held_at_limit"):
            note += (f"; held at the {format_si(p['limit_w'], 'W')} limit, "
                     f"{format_si(p['unheld_average_w'], 'W')} at the modelled clock")
        elif p.get("limit_w") is not None:
            note += (f"; {'ABOVE the' if p['above_limit'] else 'of a'} "
                     f"{format_si(p['limit_w'], 'W')} limit")
        return note + ")"

    def _breakdown_lines(self) -> list[str]:
        e_total = self.energy_joules or 1.0
        a_total = self.area_mm2 or 1.0
        static = set(self.static_components)
        e_items = sorted(((f"{k} (static)" if k in static else k, v)
                          for k, v in self.energy_breakdown.items()), key=lambda kv: -kv[1])
        a_items = sorted(self.area_breakdown.items(), key=lambda kv: -kv[1]["mm2"])
        width = max([13] + [len(k) + 1 for k, _ in e_items + a_items])
        lines = [f"  {'energy breakdown':<{width + 21}}{'area breakdown'}"]
        for i in range(max(len(e_items), len(a_items))):
            left = right = ""
            if i < len(e_items):
                k, v = e_items[i]
                left = f"{k:<{width}}{100 * v / e_total:6.1f}%  {format_si(v, 'J'):>9}"
            if i < len(a_items):
                k, v = a_items[i]
                right = f"{k:<{width}}{100 * v['mm2'] / a_total:6.1f}%  {v['mm2']:9.3f} mm2"
            lines.append(f"    {left:<{width + 19}}  {right}")
        lines.append("")
        return lines

    def _top_op_lines(self, top: int, overlap: bool) -> list[str]:
        """The ``top`` op names by summed time, in columns as wide as their widest entry;
        ``overlap``: ops on concurrent units overlap in time."""
        groups = _group_by_name(self.ops)[:max(top, 0)]
        rows = [(name, g["kind"], f"{g['n']:,}", f"{g['cycles']:,}",
                 f"{100 * g['cycles'] / max(self.cycles, 1):.1f}%", f"{100 * g['util']:.2f}%",
                 f"{100 * g['stall'] / max(g['cycles'], 1):.1f}%",
                 f"{g['cycles'] / max(g['bound'], 1):.2f}") for name, g in groups]
        head = ("op", "kind", "n", "cycles", "time", "util", "stall", "/bound")
        widths = [max(len(str(c)) for c in col) for col in zip(head, *rows)]
        def fmt(cells):
            return "    " + "  ".join(str(c).ljust(w) if i < 2 else str(c).rjust(w)
                                      for i, (c, w) in enumerate(zip(cells, widths)))
        title = "  top ops by time (summed over layers"
        title += "; ops on concurrent units overlap in time)" if overlap else ")"
        return [title, fmt(head)] + [fmt(r) for r in rows]


def plural(n: int, word: str) -> str:
    """``"1 token"``, ``"2 tokens"`` (thousands separated)."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"


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


def _hold_at_limit(rows: list, power: Power, joules: float) -> float:
    """Scale the on-chip dynamic energy of every row (not static power, not DRAM) by one factor
    so that the run's energy is ``joules``; the new total."""
    fixed = set(power.static) | {"dram"}
    total = sum(r.energy_joules for r in rows)
    scalable = sum(v for r in rows for k, v in r.energy_breakdown.items() if k not in fixed)
    factor = max(0.0, 1.0 - (total - joules) / scalable) if scalable else 1.0
    for r in rows:
        for k in r.energy_breakdown:
            if k not in fixed:
                r.energy_breakdown[k] *= factor
        r.energy_joules = sum(r.energy_breakdown.values())
    return sum(r.energy_joules for r in rows)


def op_charges(arch, plans, timings, power: Power, dram=None):
    """Each op's energy by component (J) and its DRAM energy parts (pJ, None without DRAM):
    the plan's own energy, busy and static power for the op's duration, DRAM energy. Returns
    ``(makespan cycles, time share, [(breakdown, dram parts), ...])``."""
    f_hz = arch.cfg.tech.frequency
    makespan = max((t.end for t in timings), default=0)
    busy = sum(t.cycles for t in timings)
    # ops on different units may overlap: time-proportional charges (leakage, DRAM background
    # and refresh) are shared so that they add up to the makespan's, not the summed op times
    share = makespan / busy if busy and makespan < busy else 1.0
    out = []
    for plan, t in zip(plans, timings):
        seconds = t.cycles * share / f_hz
        breakdown = dict.fromkeys(arch.family.energy_components + ENERGY_COMPONENTS, 0.0)
        for k, pj in plan.energy_pj.items():  # families may add components of their own
            breakdown[k] = breakdown.get(k, 0.0) + pj * 1e-12
        for drawn in (power.busy, power.static):  # W for the op's duration
            for k, watts in drawn.items():
                breakdown[k] = breakdown.get(k, 0.0) + watts.value * seconds
        parts = None
        if dram is not None:
            parts = dram.op_energy_pj(plan, t.cycles * share)
            breakdown["dram"] += sum(parts.values()) * 1e-12
        out.append((breakdown, parts))
    return makespan, share, out


@dataclass
class _Charge:
    energy_joules: float
    energy_breakdown: dict


def run_totals(arch, plans, timings, power: Power, dram=None) -> tuple[float, float, float]:
    """``(seconds, joules, static W)`` of a run, as :func:`build_report` totals them (the same
    sums in the same order), without the report's rows and summaries."""
    makespan, _, charges = op_charges(arch, plans, timings, power, dram)
    rows = [_Charge(sum(b.values()), b) for b, _ in charges]
    seconds = makespan / arch.cfg.tech.frequency
    energy, _, e_break = _energy_totals(rows, power, seconds)
    static_w = sum(e_break[k] for k in power.static) / seconds if seconds else 0.0
    return seconds, energy, static_w


def _energy_totals(rows, power: Power, seconds: float) -> tuple[float, float, dict]:
    """The run's energy (J; held at the power limit where the design enforces it), its
    average power before that (W), and the energy by component (J)."""
    energy = sum(r.energy_joules for r in rows)
    unheld = energy / seconds if seconds else 0.0
    if power.enforced and power.limit_w is not None and unheld > power.limit_w:
        energy = _hold_at_limit(rows, power, power.limit_w * seconds)
    components = dict.fromkeys(k for r in rows for k in r.energy_breakdown)
    e_break = {k: sum(r.energy_breakdown.get(k, 0.0) for r in rows) for k in components}
    return energy, unheld, e_break


def build_report(arch, workload, plans, timings, area, power: Power, intervals, digest,
                 pricing: dict, dram=None, deps=None) -> Report:
    """Assemble rows and totals; static power, busy power and DRAM energy are charged to each op
    for its duration (``dram`` is the :class:`sim.memory.DramSystem` the ops streamed
    through)."""
    from sim.core.version import __version__
    f_hz = arch.cfg.tech.frequency
    rows = []
    dram_pj = []
    makespan, share, charges = op_charges(arch, plans, timings, power, dram)
    other_levels = sorted({k for plan in plans for k in plan.other_bytes})
    for op, plan, t, (breakdown, parts) in zip(workload.ops, plans, timings, charges):
        if parts is not None:
            dram_pj.append(parts)
        peak = plan.peak_macs_per_cycle
        work = plan.computed_macs if plan.macs else plan.vector_ops
        util = work / (t.cycles * peak) if t.cycles and peak else 0.0
        rows.append(OpRow(
            name=op.name, layer=op.layer, kind=op.kind, role=op.role, shape=op.shape,
            unit=plan.unit, start_cycle=t.start, cycles=t.cycles,
            compute_cycles=plan.ideal_compute_cycles,
            stall_cycles=t.cycles - plan.ideal_compute_cycles, macs=plan.macs,
            vector_ops=plan.vector_ops, executed_macs=plan.computed_macs,
            bytes={"dram_read": plan.dram_read_bytes, "dram_write": plan.dram_write_bytes,
                   "sram_read": plan.sram_read_bytes, "sram_write": plan.sram_write_bytes,
                   **{k: plan.other_bytes.get(k, 0) for k in other_levels}},
            energy_joules=sum(breakdown.values()), energy_breakdown=breakdown,
            utilization=util, roofline_cycles=plan.roofline_cycles, mapping=plan.mapping))
    cycles = makespan
    seconds = cycles / f_hz
    energy, unheld, e_break = _energy_totals(rows, power, seconds)
    area_break = {k: {"mm2": v.mm2, "priced_by": list(v.entries), "detail": v.detail}
                  for k, v in area.items()}
    pricing = {**pricing, **{k: list(w.entries) for k, w in {**power.busy,
                                                                **power.static}.items()}}
    average = energy / seconds if seconds else 0.0
    static_w = sum(e_break[k] for k in power.static) / seconds if seconds else 0.0
    above = power.limit_w is not None and average > power.limit_w * (1 + 1e-9)
    warnings = list(workload.warnings) + ([
        f"average power {average:.0f} W is above the design's power limit of "
        f"{power.limit_w:.0f} W: a real chip would lower its clock"] if above else [])
    if dram is not None:
        pricing["dram"] = dram.pricing()
    return Report(
        simulator_version=__version__, input_hash=digest, arch_name=arch.name, kind=arch.kind,
        arch_file=arch.file, workload=workload.name, frequency_hz=f_hz, tokens=workload.tokens,
        cycles=cycles, seconds=seconds,
        tokens_per_second=workload.tokens / seconds if seconds else 0.0,
        energy_joules=energy, area_mm2=sum(v.mm2 for v in area.values()),
        average_power_w=average,
        macs=sum(r.macs for r in rows), compute_cycles=sum(r.compute_cycles for r in rows),
        stall_cycles=sum(r.stall_cycles for r in rows),
        roofline_cycles=run_bound(rows, deps, dram.peak_bytes_per_cycle
                                  if dram is not None else 0.0),
        energy_breakdown=e_break, area_breakdown=area_break, pricing=pricing, ops=rows,
        config=arch.resolved(), workload_config={"name": workload.name,
                                                 **workload.cfg.to_dict()},
        dram=(dram.summary(plans, [r.cycles * share for r in rows], dram_pj)
              if dram is not None else {}),
        compute_units=compute_units(intervals, makespan, rows, plans),
        devices=workload.cfg.tensor_parallel * workload.cfg.pipeline_parallel,
        warnings=warnings,
        power={"static_w": static_w, "dynamic_w": average - static_w,
               "limit_w": power.limit_w, "above_limit": above,
               "held_at_limit": unheld > average * (1 + 1e-9) and not above,
               "unheld_average_w": unheld},
        static_components=list(power.static),
        intervals=intervals)


def compute_units(intervals, makespan: int, rows, plans) -> dict:
    """Per unit: the fraction of the makespan it was occupied and its peak MAC and vector-op
    rates per cycle (the highest any of its ops was planned at)."""
    spans: dict = {}
    for iv in intervals:
        spans[iv.unit] = spans.get(iv.unit, 0) + iv.end - iv.start
    peaks: dict = {}
    for r, plan in zip(rows, plans):
        p = peaks.setdefault(r.unit, {"peak_macs_per_cycle": 0.0, "peak_ops_per_cycle": 0.0})
        key = "peak_macs_per_cycle" if plan.macs else "peak_ops_per_cycle"
        p[key] = max(p[key], float(plan.peak_macs_per_cycle))
    return {u: {"busy_fraction": spans.get(u, 0) / makespan if makespan else 0.0, **peaks[u]}
            for u in sorted(peaks)}


def run_bound(rows, deps, dram_bytes_per_cycle: float) -> int:
    """Lower bound of the whole run in cycles: the longest of (a) the heaviest chain of op
    bounds through the dependencies (``deps[i]``: the ops op ``i`` waits for; None: a chain),
    (b) each unit's op bounds added up (a unit runs one op at a time) and (c) all DRAM bytes
    at the channels' peak. For ops that run one after another this is the sum of their
    bounds; ops on concurrent units do not add."""
    deps = chain_deps(len(rows)) if deps is None else deps
    finish = [0] * len(rows)
    per_unit: dict = {}
    for i, r in enumerate(rows):
        finish[i] = max((finish[j] for j in deps[i]), default=0) + r.roofline_cycles
        per_unit[r.unit] = per_unit.get(r.unit, 0) + r.roofline_cycles
    traffic = sum(r.bytes["dram_read"] + r.bytes["dram_write"] for r in rows)
    dram = math.ceil(traffic / dram_bytes_per_cycle) if dram_bytes_per_cycle > 0 else 0
    return max([0, dram, *finish, *per_unit.values()])
