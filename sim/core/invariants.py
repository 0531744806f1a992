"""Invariants every report must satisfy, checked on every run (``simulate(..., check=True)``).

They are conservation laws and bounds that hold whatever the design, so a violation is a bug in
the simulator (a family's lowering, mapper or timing), never a property of the input:

* **MACs**: the lowered workload's MACs equal the model's closed form
  (:func:`sim.workloads.model.closed_form_macs`, or :func:`sim.workloads.traces.trace_macs` for a
  trace), and the report's per-op MACs equal the workload's in every (layer, role);
* **bytes**: every memory level the family names (:meth:`sim.core.family.Family.compulsory_levels`)
  moves at least the compulsory traffic of each layer: the weights, the cached context's keys
  and values (decode), the new keys and values written;
* **time**: each op lasts at least its roofline bound, its ideal compute time, its MACs at the
  unit's peak and its DRAM bytes at the channels' peak; ops lie inside the makespan;
* **fractions**: utilisations, unit busy fractions and DRAM rates lie in [0, 1];
* **energy and area**: components are finite and non-negative and add up to the totals;
  every number in the report is finite.

The check is a few passes over the ops (about 2 ms on LLaMA-7B decode). A violation raises
:class:`InvariantError`, which names the op (or layer) and the quantities that disagree.
"""

from __future__ import annotations

import math
from collections import defaultdict

from sim.core.ops import Elementwise, Gemm, bits_to_bytes

#: relative tolerance of float sums (energy, area); integer quantities are compared exactly
REL_TOL = 1e-9
#: violations printed in one error (the rest are counted)
MAX_LINES = 10


class InvariantError(RuntimeError):
    """A report broke a conservation law or a bound: a simulator bug, reported with the op."""

    def __init__(self, violations: list[str], input_hash: str = ""):
        self.violations = list(violations)
        tag = f" (input hash {input_hash})" if input_hash else ""
        lines = [f"accelsim bug: invariant violated{tag}: {v}"
                 for v in self.violations[:MAX_LINES]]
        if len(self.violations) > MAX_LINES:
            lines.append(f"accelsim bug: ... and {len(self.violations) - MAX_LINES} more "
                         f"violations of the same run")
        super().__init__("\n".join(lines))


def check_run(report, workload, plans, levels: dict[str, tuple[str, ...]]) -> list[str]:
    """Every violation of ``report`` (built from ``workload``'s ops before the family lowered
    them, and the ``plans`` of the lowered ops); an empty list when all hold."""
    out: list[str] = []
    for r in report.ops:
        if math.isfinite(r.energy_joules + r.utilization + sum(r.energy_breakdown.values())):
            continue  # fast path: a NaN or inf anywhere would make the sum non-finite
        out += _check_finite({"energy_joules": r.energy_joules, "utilization": r.utilization,
                              "energy_breakdown": r.energy_breakdown},
                             f"op {r.name} (layer {r.layer})")
    totals = {k: getattr(report, k) for k in (
        "seconds", "tokens_per_second", "energy_joules", "area_mm2", "average_power_w",
        "energy_breakdown", "area_breakdown", "dram", "compute_units", "extras")}
    out += _check_finite(totals, "report")
    out += _check_macs(report, workload)
    out += _check_bytes(report, workload, levels)
    out += _check_time(report, plans)
    out += _check_fractions(report)
    out += _check_energy_area(report)
    return out


# ---- MACs ------------------------------------------------------------------------------------
def _check_macs(report, workload) -> list[str]:
    out = []
    generated = sum(op.macs for op in workload.ops)
    closed = workload.closed_form_macs
    if closed is not None and generated != closed:
        out.append(f"MACs: the workload's ops sum to {generated:,}, the closed form of "
                   f"{workload.name} gives {closed:,}")
    want: dict = defaultdict(int)
    for op in workload.ops:
        want[(op.layer, op.role)] += op.macs
    got: dict = defaultdict(int)
    names: dict = defaultdict(list)
    for r in report.ops:
        got[(r.layer, r.role)] += r.macs
        names[(r.layer, r.role)].append(r.name)
    for key in sorted(set(want) | set(got)):
        if want[key] != got[key]:
            ops = ", ".join(dict.fromkeys(names[key])) or "no op"
            out.append(f"MACs: layer {key[0]} {key[1]} ops ({ops}) report {got[key]:,} MACs, "
                       f"the workload has {want[key]:,}")
    if report.macs != sum(r.macs for r in report.ops):
        out.append(f"MACs: total {report.macs:,} is not the sum of the ops")
    return out


# ---- bytes -----------------------------------------------------------------------------------
def compulsory_bytes(ops, phase: str) -> dict[int, dict[str, int]]:
    """Per layer: weight bytes read, cached-context KV bytes read (decode only: in prefill the
    keys and values are produced in the same pass) and new KV bytes written."""
    per: dict = defaultdict(lambda: {"weights": 0, "kv_read": 0, "kv_write": 0})
    for op in ops:
        d = per[op.layer]
        if isinstance(op, Gemm):
            d["weights" if op.b_source == "weight" else "kv_read"] += op.b_bytes
        elif isinstance(op, Elementwise):
            d["weights"] += bits_to_bytes(op.param_read_elems, op.param_bits)
            d["kv_write"] += bits_to_bytes(op.kv_write_elems, op.kv_bits)
    for d in per.values():  # the products also read the keys and values appended this step
        d["kv_read"] = max(0, d["kv_read"] - d["kv_write"]) if phase == "decode" else 0
    return dict(per)


def _check_bytes(report, workload, levels) -> list[str]:
    out = []
    for r in report.ops:
        bad = {k: v for k, v in r.bytes.items() if v < 0}
        if bad:
            out.append(f"bytes: op {r.name} (layer {r.layer}) moves negative bytes {bad}")
    moved: dict = defaultdict(lambda: defaultdict(int))
    names: dict = defaultdict(list)
    for r in report.ops:
        for level, v in r.bytes.items():
            moved[r.layer][level] += v
        names[r.layer].append(r.name)
    need = compulsory_bytes(workload.ops, workload.cfg.phase)
    for layer, classes in sorted(need.items()):
        floor: dict = defaultdict(int)
        for what, nbytes in classes.items():
            for level in levels.get(what, ()):
                floor[level] += nbytes
        for level, nbytes in sorted(floor.items()):
            # packing rounds each op's bytes up; allow one byte per op of the layer
            slack = len(names[layer])
            if moved[layer][level] + slack < nbytes:
                ops = ", ".join(dict.fromkeys(names[layer])) or "no op"
                out.append(f"bytes: layer {layer} ops ({ops}) move {moved[layer][level]:,} B of "
                           f"{level}, below the compulsory {nbytes:,} B")
    return out


# ---- time ------------------------------------------------------------------------------------
def _check_time(report, plans) -> list[str]:
    out = []
    bw = (report.dram.get("peak_bandwidth", 0.0) / report.frequency_hz
          if report.dram else 0.0)  # bytes per accelerator cycle
    end = 0
    for r, plan in zip(report.ops, plans):
        where = f"op {r.name} (layer {r.layer})"
        if r.cycles < 0 or r.start_cycle < 0:
            out.append(f"time: {where} starts at {r.start_cycle} and lasts {r.cycles} cycles")
        if r.cycles < r.roofline_cycles:
            out.append(f"time: {where} takes {r.cycles:,} cycles, below its roofline bound "
                       f"{r.roofline_cycles:,}")
        if r.cycles < r.compute_cycles:
            out.append(f"time: {where} takes {r.cycles:,} cycles, below its ideal compute "
                       f"{r.compute_cycles:,}")
        peak, macs = plan.peak_macs_per_cycle, plan.computed_macs
        if macs and peak > 0 and r.cycles * peak < macs * (1 - REL_TOL):
            out.append(f"time: {where} computes {macs:,} MACs in {r.cycles:,} cycles, above "
                       f"the unit's peak {peak:g} MACs/cycle")
        traffic = r.bytes["dram_read"] + r.bytes["dram_write"]
        if bw > 0 and traffic > bw * r.cycles * (1 + REL_TOL) + 1:
            out.append(f"time: {where} moves {traffic:,} DRAM bytes in {r.cycles:,} cycles, "
                       f"above the peak {bw:.1f} B/cycle")
        end = max(end, r.start_cycle + r.cycles)
    if end > report.cycles:
        out.append(f"time: ops end at cycle {end:,}, after the makespan {report.cycles:,}")
    out += _check_run_time(report)
    if report.cycles <= 0 and report.ops:
        out.append(f"time: makespan {report.cycles} cycles")
    return out


def _check_run_time(report) -> list[str]:
    """Run-level bounds: the makespan is at least the run's roofline bound (concurrent units
    do not add), stalls are at most the op time they are part of, and no unit computes faster
    than its peak over the whole run."""
    out = []
    if report.cycles < report.roofline_cycles:
        out.append(f"time: the run takes {report.cycles:,} cycles, below its roofline bound "
                   f"{report.roofline_cycles:,}")
    op_cycles = report.op_cycles
    if report.stall_cycles > op_cycles or report.stall_cycles < 0:
        out.append(f"time: {report.stall_cycles:,} stall cycles, outside [0, {op_cycles:,}] "
                   f"op cycles")
    if report.compute_cycles + report.stall_cycles != op_cycles:
        out.append(f"time: compute {report.compute_cycles:,} + stall {report.stall_cycles:,} "
                   f"cycles is not the ops' {op_cycles:,}")
    macs: dict = defaultdict(int)
    for r in report.ops:
        macs[r.unit] += r.executed_macs
    for unit, u in report.compute_units.items():
        peak = u["peak_macs_per_cycle"]
        if peak > 0 and macs[unit] > peak * report.cycles * (1 + REL_TOL):
            out.append(f"time: unit {unit} computes {macs[unit]:,} MACs in the run's "
                       f"{report.cycles:,} cycles, above its peak {peak:g} MACs/cycle")
    return out


# ---- fractions -------------------------------------------------------------------------------
def _fraction_problem(what: str, x: float) -> list[str]:
    return [] if -REL_TOL <= x <= 1 + REL_TOL else [f"fractions: {what} = {x!r}, outside [0, 1]"]


def _check_fractions(report) -> list[str]:
    out = []
    for r in report.ops:
        out += _fraction_problem(f"utilization of op {r.name} (layer {r.layer})", r.utilization)
    for unit, u in report.compute_units.items():
        out += _fraction_problem(f"busy fraction of unit {unit}", u["busy_fraction"])
    for key in ("bandwidth_utilization", "row_hit_rate"):
        if key in report.dram:
            out += _fraction_problem(f"dram.{key}", report.dram[key])
    for key, v in report.extras.items():
        if key.endswith("utilization") and isinstance(v, (int, float)):
            out += _fraction_problem(f"extras.{key}", v)
    return out


# ---- energy and area -------------------------------------------------------------------------
def _close(a: float, b: float) -> bool:
    return abs(a - b) <= REL_TOL * max(abs(a), abs(b), 1e-30)


def _breakdown_problems(what: str, parts: dict, total: float, unit: str) -> list[str]:
    """Components of ``what`` that are negative (or NaN), or that do not add up to ``total``."""
    out = []
    neg = {k: v for k, v in parts.items() if not v >= 0}
    if neg:
        out.append(f"{what} has negative components {neg}")
    if not _close(sum(parts.values()), total):
        out.append(f"{what} components sum to {sum(parts.values())!r} {unit}, not its "
                   f"{total!r} {unit}")
    return out


def _check_energy_area(report) -> list[str]:
    out = []
    for r in report.ops:
        out += _breakdown_problems(f"energy: op {r.name} (layer {r.layer})",
                                   r.energy_breakdown, r.energy_joules, "J")
    if not _close(sum(r.energy_joules for r in report.ops), report.energy_joules):
        out.append("energy: the ops do not sum to the total")
    out += _breakdown_problems("energy: the total", report.energy_breakdown,
                               report.energy_joules, "J")
    out += _breakdown_problems("area: the total", {k: v["mm2"] for k, v in
                                                   report.area_breakdown.items()},
                               report.area_mm2, "mm2")
    if not report.area_mm2 > 0:
        out.append(f"area: the total is {report.area_mm2!r} mm2")
    return out


def _check_finite(node, path: str) -> list[str]:
    """Every float in the report's JSON document is finite."""
    if isinstance(node, float):
        return [] if math.isfinite(node) else [f"finite: {path} = {node!r}"]
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in _check_finite(v, f"{path}.{k}")]
    if isinstance(node, (list, tuple)):
        return [p for i, v in enumerate(node) for p in _check_finite(v, f"{path}[{i}]")]
    return []
