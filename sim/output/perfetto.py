"""Chrome / Perfetto trace of unit occupancy (open in https://ui.perfetto.dev or chrome://tracing).

One complete event ("ph": "X") per tile group on each unit, named after its op; timestamps are
microseconds of simulated time. Ops are also emitted on a per-op track so gaps are visible.
"""

from __future__ import annotations

import json
from pathlib import Path


def trace_events(report) -> dict:
    us_per_cycle = 1e6 / report.frequency_hz
    units = sorted({iv.unit for iv in report.intervals})
    tid = {u: i + 1 for i, u in enumerate(units)}
    events = [{"name": "process_name", "ph": "M", "pid": 1, "args": {"name": report.arch_name}}]
    events += [{"name": "thread_name", "ph": "M", "pid": 1, "tid": t, "args": {"name": u}}
               for u, t in tid.items()]
    events.append({"name": "thread_name", "ph": "M", "pid": 1, "tid": 0, "args": {"name": "ops"}})
    for row in report.ops:
        events.append({"name": f"L{row.layer}.{row.name}" if row.layer >= 0 else row.name,
                       "ph": "X", "pid": 1, "tid": 0, "ts": row.start_cycle * us_per_cycle,
                       "dur": row.cycles * us_per_cycle,
                       "args": {"cycles": row.cycles, "stall_cycles": row.stall_cycles,
                                "shape": row.shape, "mapping": row.mapping}})
    for iv in report.intervals:
        row = report.ops[iv.op_index]
        events.append({"name": row.name, "ph": "X", "pid": 1, "tid": tid[iv.unit],
                       "ts": iv.start * us_per_cycle, "dur": (iv.end - iv.start) * us_per_cycle,
                       "args": {"layer": row.layer, "group": iv.group, "tiles": iv.tiles}})
    return {"traceEvents": events, "displayTimeUnit": "ns",
            "otherData": {"simulator_version": report.simulator_version,
                          "input_hash": report.input_hash}}


def write_trace(report, path: str | Path) -> None:
    Path(path).write_text(json.dumps(trace_events(report), separators=(",", ":")), encoding="utf-8")
