"""Chrome / Perfetto traces (open in https://ui.perfetto.dev or chrome://tracing).

A simulation: one complete event ("ph": "X") per tile group on each unit, named after its op;
timestamps are microseconds of simulated time. Ops are also emitted on a per-op track so gaps
are visible. A serving run (:class:`ServingTraceWriter`): its steps on one track, and each
request as an async span from arrival to finish with a queued and a decoding part.
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


class ServingTraceWriter:
    """Streams a serving run's trace to ``path`` as the run goes (memory stays flat): use as a
    context manager, pass :meth:`step` as ``serve(on_span=...)`` and :meth:`request` as its
    ``sink``. With no path it writes nothing."""

    def __init__(self, path: str | Path | None, name: str = "serving"):
        self.path = path
        self.name = name
        self._fh = None
        self._first = True

    def __enter__(self) -> "ServingTraceWriter":
        if self.path:
            self._fh = open(self.path, "w", encoding="utf-8")
            self._fh.write('{"displayTimeUnit":"ns","traceEvents":[\n')
            for pid, label in ((1, f"{self.name}: steps"), (2, f"{self.name}: requests")):
                self._emit({"name": "process_name", "ph": "M", "pid": pid,
                            "args": {"name": label}})
            self._emit({"name": "thread_name", "ph": "M", "pid": 1, "tid": 1,
                        "args": {"name": "device"}})
        return self

    def _emit(self, event: dict) -> None:
        if self._fh is not None:
            self._fh.write(("" if self._first else ",\n")
                           + json.dumps(event, separators=(",", ":")))
            self._first = False

    def step(self, phase: str, start_s: float, end_s: float, requests: int, tokens: int) -> None:
        """One scheduler step on the device track (times in s)."""
        self._emit({"name": phase, "ph": "X", "pid": 1, "tid": 1, "ts": start_s * 1e6,
                    "dur": (end_s - start_s) * 1e6,
                    "args": {"requests": requests, "tokens": tokens}})

    def request(self, row: dict) -> None:
        """A finished request (a row of ``sim.serving.rows.COLUMNS``): its span and parts."""
        rid, arrival = row["id"], row["arrival_s"] * 1e6
        first, finish = row["first_token_s"] * 1e6, row["finish_s"] * 1e6
        common = {"cat": "request", "pid": 2, "id": rid}
        self._emit({"name": f"request {rid}", "ph": "b", "ts": arrival, **common,
                    "args": {k: row[k] for k in ("prompt_tokens", "output_tokens", "ttft_s",
                                                 "tpot_s", "energy_j", "preemptions")}})
        for name, a, b in (("queued + prefill", arrival, first), ("decoding", first, finish)):
            self._emit({"name": name, "ph": "b", "ts": a, **common})
            self._emit({"name": name, "ph": "e", "ts": b, **common})
        self._emit({"name": f"request {rid}", "ph": "e", "ts": finish, **common})

    def __exit__(self, *exc) -> None:
        if self._fh is not None:
            self._fh.write("\n]}\n")
            self._fh.close()
