"""Running a sweep: resolve points, drop constrained ones, simulate the rest in parallel, and
stream results to disk so a killed sweep resumes with nothing lost or run twice.

Every point is resolved in the parent (arch config with its overrides, workload with its
precisions filled) and keyed by a hash of that resolved config and the simulator version. The
output directory holds:

``points.jsonl``
    the journal: one JSON line per finished point, appended and flushed as each finishes. On a
    restart the keys found here are not run again (a truncated last line from a kill is dropped).
``results.csv`` / ``results.parquet``
    one row per point in spec order (params, status, metrics, breakdowns), rewritten atomically
    from the journal every few seconds and at the end (Parquet when pandas and pyarrow exist).
``sweep.json``
    the manifest: spec, simulator version, counts, dropped points and the constraint that
    dropped each.

Points run in a local process pool (``workers`` processes; 1 runs them in this process) or on a
``dask.distributed`` cluster (``scheduler="local"`` starts a LocalCluster, else an address such as
``tcp://host:8786``). A point that fails is recorded with its error; the sweep goes on.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import importlib.util
import json
import os
import sys
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

from sim.core.errors import SimError, SweepError
from sim.sweeps.spec import METRICS, Point, SweepSpec, load_sweep

JOURNAL, CSV_FILE, PARQUET_FILE, MANIFEST = "points.jsonl", "results.csv", "results.parquet", "sweep.json"
REPORTS = "reports"  # full per-point reports (sweep(..., reports=True), --reports)
SNAPSHOT_EVERY_S = 5.0


@dataclass(frozen=True)
class Task:
    """What a worker needs to simulate one point; no file access (remote Dask workers)."""

    key: str
    arch_config: dict       # resolved arch config (kind + every field)
    arch_label: str         # the file it came from, for messages
    workload_config: dict   # resolved workload config (precisions filled)
    workload_name: str
    full_report: bool = False  # also return the whole report (the --json document)
    serving: dict | None = None  # a serving point: the validated serving spec (canonical units)
    workload_overrides: tuple = ()  # a serving point: workload.* overrides of the model


@dataclass
class SweepResult:
    """A finished (or interrupted) sweep: one row per point in spec order."""

    spec: SweepSpec
    rows: list[dict]
    dropped: list[dict]
    counts: dict
    out: Path | None = None
    records: dict = field(default_factory=dict, repr=False)

    def to_dataframe(self):
        """The rows as a pandas DataFrame (pandas is optional)."""
        import pandas as pd
        return pd.DataFrame(self.rows)

    def ok(self) -> list[dict]:
        """Rows that simulated successfully."""
        return [r for r in self.rows if r["status"] == "ok"]

    def pareto(self, objectives: dict | None = None) -> list[dict]:
        """Rows on the Pareto front of ``objectives`` (default: the spec's ``pareto:``)."""
        from sim.sweeps.dse import pareto_front
        objectives = objectives or self.spec.pareto
        if not objectives:
            raise SweepError(f"{self.spec.file or '<sweep>'}: pareto: give objectives, e.g. "
                             f"{{tokens_per_second: max, area_mm2: min}}")
        return pareto_front(self.ok(), objectives)


# ---- the entry point ------------------------------------------------------------------------
def sweep(spec, out: str | Path | None = None, workers: int = 2, scheduler: str | None = None,
          progress: bool = True, retry_failed: bool = False, overrides=(),
          reports: bool = False) -> SweepResult:
    """Run a sweep spec (path, mapping or :class:`SweepSpec`) and return its results.

    ``out``: directory for the journal and tables (``None`` keeps results in memory only).
    ``workers``: local processes (1 = this process), or LocalCluster workers with
    ``scheduler="local"``; ``scheduler``: ``None`` for the local pool, ``"local"`` or a Dask
    scheduler address. ``retry_failed`` re-runs points the journal holds as failed.
    ``reports`` also writes each point's full report (the ``simulate --json`` document) to
    ``out/reports/<key>.json``.
    """
    if not isinstance(workers, int) or workers < 1:
        raise SweepError(f"--workers: expected an integer >= 1, got {workers!r}")
    spec = load_sweep(spec, overrides)
    points = spec.points()
    check_axis_keys(spec, points)
    resolved, dropped = resolve_points(spec, points)
    out_dir = Path(out) if out is not None else None
    journal = Journal(out_dir / JOURNAL if out_dir else None)
    done = {k for k, r in journal.records.items() if r["status"] == "ok" or not retry_failed}
    tasks = {}
    for _, task, _ in resolved:
        if task is not None and task.key not in done:
            tasks.setdefault(task.key, dataclasses.replace(task, full_report=reports))
    writer = TableWriter(out_dir, spec, resolved, dropped, journal)
    writer.snapshot(final=False)
    started = time.perf_counter()
    try:
        for record in _execute(list(tasks.values()), workers, scheduler, progress, spec.name):
            text = record.pop("report", None)
            if text is not None and out_dir is not None:
                (out_dir / REPORTS).mkdir(parents=True, exist_ok=True)
                _atomic_write(out_dir / REPORTS / f"{record['key']}.json", text)
            journal.append(record)
            writer.maybe_snapshot()
    finally:
        writer.wall_s = time.perf_counter() - started
        result = writer.snapshot(final=True)
        journal.close()
    return result


# ---- resolution ---------------------------------------------------------------------------
def check_axis_keys(spec: SweepSpec, points: list[Point]) -> None:
    """Every varied or fixed key must exist in the schema of the family it overrides."""
    from sim.simulation.arch import load_arch
    from sim.core.config.schema import did_you_mean
    from sim.workloads.model import WORKLOAD_SCHEMA
    from sim.serving.spec import SERVING_SCHEMA
    from sim.sweeps.spec import is_serving_key
    label = spec.file or "<sweep>"
    work_keys = {p for p, _ in WORKLOAD_SCHEMA.walk()}
    serve_keys = {p for p, _ in SERVING_SCHEMA.walk()}
    schemas = {}
    for arch in dict.fromkeys(p.arch for p in points):
        try:
            family = load_arch(arch).family
        except SimError as exc:
            raise SweepError(f"{label}: arch {arch}: {exc.problems[0]}") from None
        schemas[family.kind] = {p for p, _ in family.schema.walk()}
    for key, origin in spec.origins.items():
        if key in ("arch", "workload"):
            continue
        if spec.serve is not None and is_serving_key(key):
            if key not in serve_keys:
                raise SweepError(f"{label}: {origin}: unknown serving key {key!r}"
                                 f"{did_you_mean(key, serve_keys)}")
            continue
        if key.startswith("workload."):
            known, what = work_keys, "workload"
            short = key[len("workload."):]
        else:
            short = key[len("arch."):] if key.startswith("arch.") else key
            known = set.union(*schemas.values())
            what = "arch (kind " + "/".join(sorted(schemas)) + ")"
        if short not in known:
            raise SweepError(f"{label}: {origin}: unknown {what} key {short!r}"
                             f"{did_you_mean(short, known)}")


def resolve_points(spec: SweepSpec, points: list[Point]):
    """``([(point, task or None, error or None)], dropped)``: each point resolved and keyed;
    points a constraint rejects go to ``dropped`` with the constraint's text."""
    from sim.core.version import __version__
    from sim.simulation.arch import load_arch
    arch_cache, area_cache, work_cache = {}, {}, {}
    resolved, dropped = [], []
    for point in points:
        try:
            arch_id = (point.arch, _freeze(point.arch_overrides))
            if arch_id not in arch_cache:
                arch_cache[arch_id] = load_arch(point.arch, list(point.arch_overrides))
            arch = arch_cache[arch_id]
            if spec.serve is not None:  # a serving point: the model is loaded where it runs
                work_cfg, work_name = {}, point.workload
            else:
                work_cfg, work_name = _resolved_workload(spec, point, arch, work_cache)
        except SimError as exc:
            resolved.append((point, None, "; ".join(exc.problems)))
            continue
        names = {**arch.resolved(), "workload": work_cfg,
                 "area_mm2": lambda a=arch, i=arch_id: _area(a, i, area_cache)}
        failed = next((c.text for c in spec.constraints if not c.holds(names)), None)
        if failed is not None:
            dropped.append({"point": point.index, **point.params, "constraint": failed})
            continue
        if spec.serve is not None:
            try:
                resolved.append(_serving_point(spec, point, arch))
            except SimError as exc:
                resolved.append((point, None, "; ".join(exc.problems)))
            continue
        key = point_key(arch.resolved(), work_cfg, __version__)
        resolved.append((point, Task(key, arch.resolved(), str(arch.file), work_cfg, work_name), None))
    return resolved, dropped


def _resolved_workload(spec: SweepSpec, point: Point, arch, work_cache: dict):
    """``(resolved workload config, name)`` of a point (cached by workload and overrides)."""
    from sim.workloads.traces import is_trace, trace_digest
    from sim.workloads.loader import load_workload, resolve_workload_spec
    from sim.workloads.model import resolve_workload_config
    native = arch.family.native_bits(arch.cfg)
    work_id = (point.workload, _freeze(point.workload_overrides), _freeze(native.items()))
    if work_id not in work_cache and is_trace(point.workload):
        trace = spec.resolve_path(point.workload)
        w = load_workload(trace, list(point.workload_overrides), native)
        work_cache[work_id] = ({**w.cfg.to_dict(), "trace": str(Path(trace).resolve()),
                                "trace_sha256": trace_digest(trace)}, w.name)
    elif work_id not in work_cache:
        raw, name, file = resolve_workload_spec(point.workload, list(point.workload_overrides))
        _, cfg = resolve_workload_config(raw, file or f"workload {name}", native)
        work_cache[work_id] = (cfg.to_dict(), name)
    return work_cache[work_id]


def _serving_point(spec: SweepSpec, point: Point, arch):
    """``(point, task, None)`` of a serving sweep's point: the serving spec validated with the
    point's serving overrides (a bad value is a SimError naming the key)."""
    from sim.core.version import __version__
    from sim.serving.spec import load_serving_spec
    cfg = load_serving_spec(spec.serve, point.serving_overrides, spec.file).to_dict()
    trace = cfg["requests"].get("trace")
    if trace and not Path(trace).is_absolute():  # a trace file beside the sweep spec
        cfg["requests"]["trace"] = spec.resolve_path(trace)
    work = {"model": point.workload, "overrides": [list(kv) for kv in point.workload_overrides]}
    key = point_key(arch.resolved(), {"serve": cfg, **work}, __version__)
    return point, Task(key, arch.resolved(), str(arch.file), work, point.workload,
                       serving=cfg, workload_overrides=point.workload_overrides), None


def point_key(arch_config: dict, workload_config: dict, version: str) -> str:
    """Hash of the resolved arch, resolved workload and simulator version (16 hex digits)."""
    blob = json.dumps({"arch": arch_config, "workload": workload_config, "version": version},
                      sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _area(arch, arch_id, cache) -> float:
    if arch_id not in cache:
        ctx = arch.family.prepare(arch.cfg, arch.file)
        cache[arch_id] = sum(item.mm2 for item in arch.family.area(ctx).values())
    return cache[arch_id]


def _freeze(pairs) -> str:
    return json.dumps(list(pairs), sort_keys=True, default=str)


# ---- one point (runs in a worker) ---------------------------------------------------------
_WORKLOADS: dict = {}


def run_task(task: Task) -> dict:
    """Simulate one point; never raises: a failure becomes a record with ``status: error``."""
    from sim.simulation.arch import load_arch
    from sim.simulation.simulate import simulate
    started = time.perf_counter()
    record = {"key": task.key}
    try:
        arch = dataclasses.replace(load_arch(task.arch_config), file=task.arch_label)
        if task.serving is not None:
            report = _serve(arch, task)
            record.update(status="ok", **serving_metrics(report))
        else:
            report = simulate(arch, _workload(task))
            record.update(status="ok", **report_metrics(report))
        if task.full_report:
            record["report"] = json.dumps(report.to_dict(), indent=1) + "\n"
    except SimError as exc:
        record.update(status="error", error="; ".join(exc.problems))
    except Exception as exc:  # a simulator bug: keep the sweep going, keep the traceback
        record.update(status="error", error=f"{type(exc).__name__}: {exc}",
                      traceback=traceback.format_exc())
    record["sim_wall_s"] = round(time.perf_counter() - started, 4)
    return record


#: step costs a worker has simulated, by design: the points of a rate sweep share them (cleared
#: past 8 designs: each holds its simulated nodes, a few MB)
_STEP_COSTS: dict = {}


def _serve(arch, task: Task):
    from sim.serving import serve
    if len(_STEP_COSTS) > 8:
        _STEP_COSTS.clear()
    over = [f"workload.{k}={v}" for k, v in task.workload_overrides]
    return serve(arch, task.workload_name, task.serving, over, costs=_STEP_COSTS)


def serving_metrics(report) -> dict:
    """The flat view of a serving report a sweep keeps: scalar metrics, and each latency's
    mean / p50 / p90 / p99 as ``ttft_s.p90``-style columns."""
    row = {"arch_name": report.arch_name, "kind": report.kind,
           "kv_capacity_tokens": report.kv_capacity_tokens}
    for name, value in report.metrics.items():
        if isinstance(value, dict):
            row.update({f"{name}.{q}": value[q] for q in ("mean", "p50", "p90", "p99")
                        if q in value})
        elif isinstance(value, (int, float)) or value is None:
            row[name] = value
    return row


def _workload(task: Task):
    from sim.workloads.loader import load_workload
    from sim.core.ops import PRECISIONS
    wid = json.dumps(task.workload_config, sort_keys=True)
    if wid not in _WORKLOADS:
        if len(_WORKLOADS) > 32:
            _WORKLOADS.clear()
        cfg = task.workload_config
        if "trace" in cfg:  # a trace file (the worker must see it), precisions as resolved
            bits = [(k, cfg[k]) for k in PRECISIONS if k in cfg]
            workload = load_workload(cfg["trace"], bits)
        else:
            workload = load_workload(cfg)
        _WORKLOADS[wid] = dataclasses.replace(workload, name=task.workload_name)
    return _WORKLOADS[wid]


def report_metrics(report) -> dict:
    """The flat, scalar view of a report that a sweep keeps (no per-op rows)."""
    row = {"arch_name": report.arch_name, "kind": report.kind}
    # a multi-device workload's report is one device of ``devices`` identical shards
    row["devices"] = report.devices
    row["joules_per_token"] = (report.energy_joules * report.devices / report.tokens
                               if report.tokens else None)
    row["roofline_fraction"] = report.roofline_cycles / report.cycles if report.cycles else None
    for name in METRICS:
        if name not in row:
            row[name] = getattr(report, name)
    row.update({f"energy.{k}": v for k, v in report.energy_breakdown.items()})
    row.update({f"area.{k}": v["mm2"] for k, v in report.area_breakdown.items()})
    row.update({f"util.{k}": v["busy_fraction"] for k, v in report.compute_units.items()})
    for key, value in report.extras.items():
        items = value.items() if isinstance(value, dict) else [("", value)]
        for sub, v in items:
            if isinstance(v, (int, float, str, bool)) or v is None:
                row[f"extras.{key}{'.' + sub if sub else ''}"] = v
    return row


def max_rate_under_slo(result, attainment: float = 0.9, rate: str = "requests.rate",
                       axes: list[str] | None = None) -> list[dict]:
    """The highest arrival rate that meets the SLO on each design of a serving sweep.

    ``result``: a :class:`SweepResult` (its spec names the axes) or a list of rows (then name
    the design ``axes``). A design is one combination of the axes other than ``rate``; its
    answer is the largest rate whose run met the SLO (``slo_attainment``: the share of requests
    within TTFT and TPOT) for at least ``attainment`` of its requests, or None where none did.
    One dict per design, in the order designs first appear: the design's axis values,
    ``max_rate``, and that run's ``goodput_rps``, ``slo_attainment`` and
    ``energy_per_request_j``.
    """
    rows = result.rows if isinstance(result, SweepResult) else list(result)
    if axes is None:
        axes = result.spec.axis_keys if isinstance(result, SweepResult) else []
    axes = [k for k in axes if k != rate]
    if not rows or rate not in rows[0]:
        raise SweepError(f"max_rate_under_slo: the rows have no {rate!r} column; sweep it "
                         f"(grid: {{{rate}: [...]}})")
    best: dict = {}
    for row in rows:
        design = tuple((k, row.get(k)) for k in axes)
        ok = row.get("status") == "ok" and (row.get("slo_attainment") or 0.0) >= attainment
        held = best.setdefault(design, None)
        if ok and (held is None or row[rate] > held[rate]):
            best[design] = row
    keep = ("goodput_rps", "slo_attainment", "energy_per_request_j")
    return [{**dict(design), "max_rate": row[rate] if row else None,
             **{k: row.get(k) if row else None for k in keep}}
            for design, row in best.items()]


# ---- executors ----------------------------------------------------------------------------
def _execute(tasks: list[Task], workers: int, scheduler: str | None, progress: bool, name: str):
    """Yield one record per task as it finishes."""
    from tqdm import tqdm
    bar = tqdm(total=len(tasks), unit="pt", desc=name, disable=not progress or not tasks,
               smoothing=0.1, mininterval=0.5)
    try:
        if scheduler is not None:
            source = _dask(tasks, workers, scheduler)
        elif workers == 1 or len(tasks) <= 1:
            source = (run_task(t) for t in tasks)
        else:
            source = _pool(tasks, workers)
        for record in source:
            bar.update()
            yield record
    finally:
        bar.close()


def exit_with_parent(parent: int, poll_s: float = 0.5) -> None:
    """Pool-worker initializer: a thread that ends this process when ``parent`` is gone (a
    ``kill -9`` of the sweep must not leave its workers simulating)."""
    import threading

    def watch() -> None:
        while True:
            time.sleep(poll_s)
            if os.getppid() != parent:
                os._exit(1)
    threading.Thread(target=watch, daemon=True, name="accelsim-parent-watch").start()


def _pool(tasks: list[Task], workers: int):
    from concurrent.futures.process import BrokenProcessPool
    # spawn: the same on Linux, macOS and Windows, and safe with the parent's threads
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"),
                             initializer=exit_with_parent, initargs=(os.getpid(),)) as pool:
        futures = [pool.submit(run_task, t) for t in tasks]
        try:
            for future in as_completed(futures):
                yield future.result()
        except BrokenProcessPool:
            raise SweepError("a worker process died (out of memory?); finished points are "
                             "saved; run the same command again to resume") from None
        finally:
            for f in futures:
                f.cancel()


def _dask(tasks: list[Task], workers: int, scheduler: str):
    try:
        from distributed import Client, LocalCluster, as_completed as dask_completed
    except ImportError:
        raise SweepError("--scheduler needs dask.distributed: pip install 'accelsim[sweep]'") from None
    cluster = None
    if scheduler == "local":
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    else:
        try:
            client = Client(scheduler, timeout="20s")
        except OSError as exc:
            raise SweepError(f"--scheduler {scheduler}: cannot connect ({exc})") from None
    try:
        futures = [client.submit(run_task, t, key=f"accelsim-{t.key}", pure=False) for t in tasks]
        for future in dask_completed(futures):
            try:
                yield future.result()
            except Exception as exc:  # the worker died under this task
                key = future.key.removeprefix("accelsim-") if isinstance(future.key, str) else ""
                yield {"key": key, "status": "error", "error": f"{type(exc).__name__}: {exc}"}
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


# ---- results on disk ----------------------------------------------------------------------
def _journal_record(line: bytes) -> dict | None:
    """One journal line as a record, or None when it is damaged (garbage, NUL bytes, a
    record without a key or status)."""
    if not line.strip() or b"\0" in line:
        return None
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):
        return None
    ok = (isinstance(record, dict) and isinstance(record.get("key"), str)
          and record.get("status") in ("ok", "error"))
    return record if ok else None


class Journal:
    """Append-only JSON-lines log of finished points, keyed by point hash (last record wins)."""

    def __init__(self, path: Path | None):
        self.path = path
        self.records: dict[str, dict] = {}
        if path is None:
            return
        out = path.parent
        try:
            out.mkdir(parents=True, exist_ok=True)
        except (OSError, ValueError) as exc:
            raise SweepError(f"--out {out}: cannot create the results directory "
                             f"({getattr(exc, 'strerror', None) or exc})") from None
        if not out.is_dir():
            raise SweepError(f"--out {out}: not a directory; allowed: a directory (new or a "
                             f"previous run's, to resume)")
        skipped = 0
        if path.exists():
            data = path.read_bytes()
            cut = data.rfind(b"\n") + 1
            if cut < len(data):  # a line cut short by a kill: drop it
                with open(path, "r+b") as f:
                    f.truncate(cut)
            for line in data[:cut].splitlines():
                record = _journal_record(line)
                if record is None:
                    skipped += line.strip() != b""
                    continue
                self.records[record["key"]] = record
        if skipped:  # the points of damaged lines are simply run again
            print(f"warning: {path}: skipped {skipped} unreadable line(s) (damaged journal); "
                  f"their points run again", file=sys.stderr)
        try:
            self._file = open(path, "a", encoding="utf-8")
        except OSError as exc:
            raise SweepError(f"--out {out}: cannot write {path.name} "
                             f"({exc.strerror or exc}); allowed: a writable directory") from None

    def close(self) -> None:
        if self.path is not None:
            self._file.close()

    def append(self, record: dict) -> None:
        self.records[record["key"]] = record
        if self.path is not None:
            self._file.write(json.dumps(record, sort_keys=True) + "\n")
            self._file.flush()


class TableWriter:
    """Builds the per-point table from the journal and writes CSV, Parquet and the manifest."""

    def __init__(self, out: Path | None, spec: SweepSpec, resolved, dropped, journal: Journal):
        self.out, self.spec, self.resolved, self.dropped, self.journal = out, spec, resolved, dropped, journal
        self.last = 0.0
        self.wall_s = 0.0

    def maybe_snapshot(self) -> None:
        if time.monotonic() - self.last >= SNAPSHOT_EVERY_S:
            self.snapshot(final=False)

    def rows(self) -> list[dict]:
        rows = []
        for point, task, error in self.resolved:
            row = {"point": point.index, **point.params}
            row.setdefault("arch", point.arch)
            row.setdefault("workload", point.workload)
            if task is None:
                rows.append({**row, "key": None, "status": "invalid", "error": error})
                continue
            record = self.journal.records.get(task.key)
            if record is None:
                rows.append({**row, "key": task.key, "status": "pending"})
                continue
            extra = {k: v for k, v in record.items() if k not in ("traceback", "sim_wall_s", "key")}
            rows.append({**row, "key": task.key, **extra})
        return rows

    def snapshot(self, final: bool) -> SweepResult:
        self.last = time.monotonic()
        rows = self.rows()
        statuses = [r["status"] for r in rows]
        counts = {"points": self.spec.size(), "dropped": len(self.dropped),
                  **{s: statuses.count(s) for s in ("ok", "error", "invalid", "pending")}}
        result = SweepResult(self.spec, rows, self.dropped, counts, self.out, self.journal.records)
        if self.out is None:
            return result
        done = [r for r in rows if r["status"] != "pending"]
        _write_csv(self.out / CSV_FILE, done)
        _write_parquet(self.out / PARQUET_FILE, done)
        from sim.core.version import __version__
        manifest = {"name": self.spec.name, "spec_file": self.spec.file,
                    "simulator_version": __version__, "finished": final and not counts["pending"],
                    "counts": counts, "wall_seconds": round(self.wall_s, 3),
                    "dropped": self.dropped}
        _atomic_write(self.out / MANIFEST, json.dumps(manifest, indent=1, default=str) + "\n")
        return result


def columns(rows: list[dict]) -> list[str]:
    """Column order: identity and params first, then metrics, breakdowns, and the error last."""
    seen = list(dict.fromkeys(k for r in rows for k in r))
    metrics = [m for m in ("arch_name", "kind") + METRICS if m in seen]
    grouped = sorted(k for k in seen if k.split(".")[0] in ("energy", "area", "util", "extras")
                     and k not in metrics and "." in k)
    tail = [k for k in ("error",) if k in seen]
    head = [k for k in seen if k not in metrics and k not in grouped and k not in tail]
    return head + metrics + grouped + tail


def _write_csv(path: Path, rows: list[dict]) -> None:
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns(rows) or ["point"], restval="")
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


def _write_parquet(path: Path, rows: list[dict]) -> None:
    """Parquet needs pandas and pyarrow; without them only the CSV is written."""
    if importlib.util.find_spec("pandas") is None or importlib.util.find_spec("pyarrow") is None:
        return
    import pandas as pd
    frame = pd.DataFrame(rows, columns=columns(rows) or ["point"])
    for name in frame.columns:  # a column of mixed types (e.g. 4 MiB and 4194304) as text
        kinds = {type(v) for v in frame[name] if v is not None and v == v}
        if len(kinds) > 1 and not kinds <= {int, float}:
            frame[name] = frame[name].map(lambda v: None if v is None or v != v else str(v))
    tmp = path.with_suffix(".parquet.tmp")
    frame.to_parquet(tmp, index=False)
    os.replace(tmp, path)


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def load_results(out: str | Path) -> list[dict]:
    """Read a sweep directory's rows back (from the CSV; numbers parsed)."""
    with open(Path(out) / CSV_FILE, newline="", encoding="utf-8") as f:
        return [{k: _number(v) for k, v in row.items()} for row in csv.DictReader(f)]


def _number(text: str):
    if text == "":
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"True": True, "False": False}.get(text, text)
