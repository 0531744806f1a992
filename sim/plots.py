"""PNG plots of a report: per-layer latency, energy and area breakdowns, roofline chart."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def write_plots(report, directory: str | Path) -> list[str]:
    """Write the four plots into ``directory`` (created if needed); return their paths."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    paths = [
        _layer_latency(report, out / "layer_latency.png"),
        _energy(report, out / "energy_breakdown.png"),
        _area(report, out / "area_breakdown.png"),
        _roofline(report, out / "roofline.png"),
        _gantt(report, out / "timeline.png"),
    ]
    return [str(p) for p in paths]


def _gantt(report, path: Path, max_bars: int = 4000) -> Path:
    """Unit occupancy over time, one row per unit, coloured by sub-batch (``.sbN`` in the op
    name) or by role, so overlapping NPU and PIM work is visible."""
    units = sorted({iv.unit for iv in report.intervals})
    fig, ax = plt.subplots(figsize=(11, 0.6 * len(units) + 1.5))
    us = 1e6 / report.frequency_hz
    colours = {}
    palette = plt.get_cmap("tab10")
    step = max(1, len(report.intervals) // max_bars)
    for iv in report.intervals[::step]:
        row = report.ops[iv.op_index]
        key = row.name.split(".sb")[1][0] if ".sb" in row.name else row.role
        label = f"sub-batch {key}" if ".sb" in row.name else key
        colour = colours.setdefault(label, palette(len(colours) % 10))
        ax.barh(units.index(iv.unit), (iv.end - iv.start) * us, left=iv.start * us,
                color=colour, edgecolor="none")
    ax.set_yticks(range(len(units)), units)
    ax.set_xlabel("time (us)")
    ax.set_title(f"{report.workload} on {report.arch_name}: unit timeline")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in colours.values()]
    ax.legend(handles, list(colours), fontsize=7, loc="upper right", ncol=4)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _layer_latency(report, path: Path) -> Path:
    roles = sorted({r.role for r in report.ops})
    layers = sorted({r.layer for r in report.ops})
    data = {role: defaultdict(float) for role in roles}
    for r in report.ops:
        data[r.role][r.layer] += r.cycles / report.frequency_hz * 1e3
    fig, ax = plt.subplots(figsize=(max(6, 0.25 * len(layers) + 3), 4))
    bottom = [0.0] * len(layers)
    labels = ["pre/post" if layer < 0 else str(layer) for layer in layers]
    for role in roles:
        vals = [data[role][layer] for layer in layers]
        ax.bar(labels, vals, bottom=bottom, label=role)
        bottom = [b + v for b, v in zip(bottom, vals)]
    ax.set_xlabel("layer")
    ax.set_ylabel("latency (ms)")
    ax.set_title(f"{report.workload} on {report.arch_name}: latency per layer")
    ax.legend(fontsize=7, ncol=2)
    ax.tick_params(axis="x", labelsize=6, rotation=90)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _bar(items: dict[str, float], unit: str, title: str, path: Path) -> Path:
    names = sorted(items, key=lambda k: -items[k])
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.barh(names[::-1], [items[n] for n in names][::-1])
    ax.set_xlabel(unit)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _energy(report, path: Path) -> Path:
    items = {k: v * 1e3 for k, v in report.energy_breakdown.items()}
    return _bar(items, "energy (mJ)", f"energy: {report.energy_joules * 1e3:.3g} mJ total", path)


def _area(report, path: Path) -> Path:
    items = {k: v["mm2"] for k, v in report.area_breakdown.items()}
    return _bar(items, "area (mm²)", f"area: {report.area_mm2:.3g} mm² total", path)


def _roofline(report, path: Path) -> Path:
    """Achieved throughput vs operational intensity (MAC or vector op per DRAM byte)."""
    f = report.frequency_hz
    bw = report.dram["peak_bandwidth"]  # B/s
    peak_mac = report.config["array"]["rows"] * report.config["array"]["cols"] * f \
        if "array" in report.config else None
    fig, ax = plt.subplots(figsize=(6, 4.5))
    seen = set()
    for r in report.ops:
        work = r.macs or r.vector_ops
        traffic = r.bytes["dram_read"] + r.bytes["dram_write"]
        if not work or not r.cycles:
            continue
        intensity = work / max(traffic, 1)
        perf = work / (r.cycles / f)
        marker = "o" if r.macs else "^"
        label = r.name if r.name not in seen else None
        seen.add(r.name)
        ax.scatter(intensity, perf, marker=marker, s=14, label=label)
    if peak_mac:
        xs = [1e-2, peak_mac / bw, 1e5]
        ax.plot(xs, [min(peak_mac, x * bw) for x in xs], "k--", lw=1, label="MAC roofline")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("operations per DRAM byte")
    ax.set_ylabel("achieved operations / s")
    ax.set_title("roofline (o: MACs on the array, ^: vector ops)")
    ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
