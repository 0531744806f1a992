"""Sweep throughput benchmark (not a test): points per second of a LLaMA-7B decode sweep on the
systolic NPU, local process pool.

    python benchmarks/bench_sweep.py                       # 1,000 points, 2 workers
    python benchmarks/bench_sweep.py --points 200 --workers 1
    python benchmarks/bench_sweep.py --scheduler local     # the same on a Dask LocalCluster

The grid is array rows x array cols x context length (10 x 10 x 10 at 1,000 points), so every
point is a distinct configuration with its own GEMV shapes: no point reuses another's mapping.
The wall time counts everything a user waits for: resolving and hashing every point, starting
the worker processes (which load the Numba cache), simulating, and writing the journal, CSV and
Parquet. It runs in a fresh output directory; a second pass over the finished directory shows
the cost of a resume that has nothing left to do.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from sim import sweep

ROOT = Path(__file__).resolve().parent.parent


def spec(points: int) -> dict:
    side = max(1, round(points ** (1 / 3)))
    return {"name": "bench_sweep", "arch": str(ROOT / "arch_configs" / "systolic.yaml"),
            "workload": "llama7b_decode",
            "grid": {"array.rows": {"from": 32, "to": 32 * side, "step": 32},
                     "array.cols": {"from": 32, "to": 32 * side, "step": 32},
                     "workload.context_len": {"from": 256, "to": 256 * side, "step": 256}}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--scheduler", default=None)
    args = ap.parse_args()
    raw = spec(args.points)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        result = sweep(raw, Path(tmp) / "out", workers=args.workers, scheduler=args.scheduler,
                       progress=False)
        wall = time.perf_counter() - start
        n = len(result.rows)
        per_point = [r["sim_wall_s"] for r in result.records.values()]
        start = time.perf_counter()
        sweep(raw, Path(tmp) / "out", workers=args.workers, progress=False)
        resume = time.perf_counter() - start
    print(f"{n} points ({result.counts['ok']} ok), {args.workers} workers"
          f"{', dask ' + args.scheduler if args.scheduler else ''}: {wall:.1f} s wall, "
          f"{n / wall:.1f} points/s; a 1,000-point sweep takes {1000 / (n / wall):.0f} s")
    print(f"simulate per point (in the worker): median {statistics.median(per_point) * 1e3:.0f} ms, "
          f"max {max(per_point) * 1e3:.0f} ms; resume with nothing left: {resume:.1f} s")


if __name__ == "__main__":
    main()
