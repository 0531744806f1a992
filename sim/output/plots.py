"""PNG plots of a report: unit timeline, per-layer latency, energy and area breakdowns, roofline.

Each plot is built by a ``*_figure(report)`` function that returns the matplotlib figure, so
tests can read back what was drawn (bar widths and heights, point positions) and hold it to the
report; :func:`write_plots` saves them. Every drawing is one collection per series (never one
matplotlib call per op or interval), so a plot costs the same for 100 ops or 100,000 intervals.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

#: DPI of the saved PNGs
DPI = 110


def write_plots(report, directory: str | Path) -> list[str]:
    """Write the five plots into ``directory`` (created if needed); return their paths."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    figures = {
        "layer_latency.png": layer_latency_figure(report),
        "energy_breakdown.png": energy_figure(report),
        "area_breakdown.png": area_figure(report),
        "roofline.png": roofline_figure(report),
        "timeline.png": timeline_figure(report),
    }
    paths = []
    for name, fig in figures.items():
        fig.savefig(out / name, dpi=DPI)
        plt.close(fig)
        paths.append(str(out / name))
    return paths


# ---- timeline ------------------------------------------------------------------------------
def _interval_label(row) -> str:
    """Colour key of an op: its sub-batch (``.sbN`` in the name) or its role."""
    if ".sb" in row.name:
        return f"sub-batch {row.name.split('.sb')[1][:1]}"
    return row.role


def timeline_spans(report) -> dict[tuple[str, str], np.ndarray]:
    """``(unit, colour label) -> array of (start, length)`` in cycles: every interval the engine
    recorded, adjacent ones of the same label merged (nothing sampled away)."""
    groups: dict[tuple[str, str], list] = {}
    for iv in report.intervals:
        key = (iv.unit, _interval_label(report.ops[iv.op_index]))
        spans = groups.setdefault(key, [])
        if spans and spans[-1][1] == iv.start:
            spans[-1][1] = iv.end
        else:
            spans.append([iv.start, iv.end])
    return {k: np.array([(a, b - a) for a, b in v], dtype=np.float64)
            for k, v in groups.items()}


def timeline_figure(report):
    """Unit occupancy over time, one row per unit, coloured by sub-batch or role, so that
    overlapping NPU and PIM work is visible. Bars are in microseconds."""
    spans = timeline_spans(report)
    units = sorted({u for u, _ in spans})
    fig, ax = plt.subplots(figsize=(11, 0.6 * len(units) + 1.5))
    us = 1e6 / report.frequency_hz
    palette = plt.get_cmap("tab10")
    labels = list(dict.fromkeys(label for _, label in sorted(spans, key=lambda k: k[1])))
    for (unit, label), arr in spans.items():
        colour = palette(labels.index(label) % 10)
        ax.broken_barh(arr * us, (units.index(unit) - 0.4, 0.8), facecolors=colour,
                       edgecolor="none", label=label, gid=f"{unit}|{label}")
    ax.set_yticks(range(len(units)), units)
    ax.set_xlim(0, max(report.cycles, 1) * us)
    ax.set_xlabel("time (us)")
    ax.set_title(f"{report.workload} on {report.arch_name}: unit timeline")
    handles = [plt.Rectangle((0, 0), 1, 1, color=palette(i % 10)) for i in range(len(labels))]
    if labels:
        ax.legend(handles, labels, fontsize=7, loc="upper right", ncol=4)
    fig.tight_layout()
    return fig


# ---- latency per layer ---------------------------------------------------------------------
def attributed_cycles(report) -> np.ndarray:
    """Cycles of the makespan attributed to each op: every stretch of time is shared equally
    by the ops running in it, so ops that overlap (concurrent units) are not counted twice and
    the attributed cycles add up to the time at least one op runs (at most the makespan)."""
    starts = np.array([r.start_cycle for r in report.ops], dtype=np.float64)
    ends = starts + np.array([r.cycles for r in report.ops], dtype=np.float64)
    if not len(starts):
        return starts
    edges = np.unique(np.concatenate([starts, ends]))
    active = np.zeros(len(edges), dtype=np.int64)
    np.add.at(active, np.searchsorted(edges, starts), 1)
    np.add.at(active, np.searchsorted(edges, ends), -1)
    running = np.cumsum(active)[:-1]  # ops running in each segment [edges[k], edges[k+1])
    weight = np.where(running > 0, np.diff(edges) / np.maximum(running, 1), 0.0)
    cumulative = np.concatenate([[0.0], np.cumsum(weight)])
    return cumulative[np.searchsorted(edges, ends)] - cumulative[np.searchsorted(edges, starts)]


def layer_latency_figure(report):
    """Latency per layer in ms, stacked by role; concurrent ops share the time they overlap
    (:func:`attributed_cycles`), so the stacks add up to the run's busy time."""
    cycles = attributed_cycles(report)
    roles = sorted({r.role for r in report.ops})
    layers = sorted({r.layer for r in report.ops})
    index = {layer: i for i, layer in enumerate(layers)}
    data = {role: np.zeros(len(layers)) for role in roles}
    for r, c in zip(report.ops, cycles):
        data[r.role][index[r.layer]] += c / report.frequency_hz * 1e3
    fig, ax = plt.subplots(figsize=(max(6, 0.25 * len(layers) + 3), 4))
    bottom = np.zeros(len(layers))
    positions = np.arange(len(layers))
    for role in roles:
        ax.bar(positions, data[role], bottom=bottom, label=role, gid=role)
        bottom += data[role]
    ax.set_xticks(positions, ["pre/post" if layer < 0 else str(layer) for layer in layers])
    ax.set_xlabel("layer")
    ax.set_ylabel("latency (ms)")
    ax.set_title(f"{report.workload} on {report.arch_name}: latency per layer")
    ax.legend(fontsize=7, ncol=2)
    ax.tick_params(axis="x", labelsize=6, rotation=90)
    fig.tight_layout()
    return fig


# ---- breakdowns ----------------------------------------------------------------------------
def _bar_figure(items: dict[str, float], unit: str, title: str):
    names = sorted(items, key=lambda k: -items[k])
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.barh(names[::-1], [items[n] for n in names][::-1])
    ax.set_xlabel(unit)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def energy_figure(report):
    items = {k: v * 1e3 for k, v in report.energy_breakdown.items()}
    return _bar_figure(items, "energy (mJ)", f"energy: {report.energy_joules * 1e3:.3g} mJ total")


def area_figure(report):
    items = {k: v["mm2"] for k, v in report.area_breakdown.items()}
    return _bar_figure(items, "area (mm²)", f"area: {report.area_mm2:.3g} mm² total")


# ---- roofline ------------------------------------------------------------------------------
def _memory_bytes(report, r) -> int:
    """The bytes of op ``r`` at the level its roofline is drawn against: off chip (DRAM, plus
    what processing-in-memory units read inside the banks), or SRAM for a design without DRAM
    (a wafer keeps everything on chip)."""
    b = r.bytes
    if report.dram:
        return b["dram_read"] + b["dram_write"] + b.get("pim_read", 0)
    return b["sram_read"] + b["sram_write"]


def roofline_points(report) -> dict[str, np.ndarray]:
    """Per unit: ``(intensity, achieved rate)`` of its ops, in operations per memory byte
    (:func:`_memory_bytes`) and operations per second. Operations are executed MACs, or vector
    ops for ops without MACs; an op that moves no byte is drawn at 1 byte."""
    f = report.frequency_hz
    points: dict[str, list] = {}
    for r in report.ops:
        work = r.executed_macs if r.macs else r.vector_ops
        if not work or not r.cycles:
            continue
        traffic = _memory_bytes(report, r)
        points.setdefault(r.unit, []).append((work / max(traffic, 1), work / (r.cycles / f)))
    return {u: np.array(v) for u, v in points.items()}


def roofline_ceilings(report) -> dict[str, float]:
    """Per unit, its peak operations per second (MACs, or vector ops for a vector-only unit)."""
    f = report.frequency_hz
    out = {}
    for unit, u in report.compute_units.items():
        peak = u["peak_macs_per_cycle"] or u["peak_ops_per_cycle"]
        if peak > 0:
            out[unit] = peak * f
    return out


def roofline_figure(report):
    """Achieved throughput vs operational intensity, one colour per unit, with each unit's
    compute ceiling and, where the family has DRAM, the DRAM bandwidth slope."""
    points = roofline_points(report)
    ceilings = roofline_ceilings(report)
    bw = report.dram.get("peak_bandwidth", 0.0) if report.dram else 0.0  # B/s
    fig, ax = plt.subplots(figsize=(6, 4.5))
    palette = plt.get_cmap("tab10")
    in_banks = {r.unit for r in report.ops if r.bytes.get("pim_read", 0)}  # no DRAM-bus slope
    xs = np.concatenate([p[:, 0] for p in points.values()]) if points else np.array([1.0])
    lo, hi = min(xs.min(), 1e-1) / 3, max(xs.max(), 1e3) * 3
    for i, unit in enumerate(sorted(set(points) | set(ceilings))):
        colour = palette(i % 10)
        if unit in points:
            p = points[unit]
            ax.scatter(p[:, 0], p[:, 1], s=14, color=colour, label=f"{unit} ops", gid=unit)
        if unit in ceilings:
            peak = ceilings[unit]
            grid = np.geomspace(lo, hi, 200)
            slope = bw > 0 and unit not in in_banks
            roof = np.minimum(peak, grid * bw) if slope else np.full_like(grid, peak)
            ax.plot(grid, roof, "--", lw=1, color=colour,
                    label=f"{unit} peak" + ("" if slope or bw <= 0 else " (reads in banks)"),
                    gid=f"ceiling|{unit}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("operations per off-chip byte (DRAM, PIM bank reads)" if report.dram
                  else "operations per SRAM byte (no DRAM)")
    ax.set_ylabel("achieved operations / s")
    slope = f", DRAM {bw / 1e9:.0f} GB/s" if bw > 0 else ", no DRAM"
    ax.set_title(f"roofline (MACs, or vector ops){slope}", fontsize=9)
    ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    return fig
