"""Speed benchmark (not a test): decode and 2048-token prefill on both systolic configs.

    python benchmarks/bench.py            # cold (fresh JIT cache) and warm timings
    python benchmarks/bench.py --warm-only

"Cold" runs each case in a fresh interpreter with an empty Numba cache directory
(NUMBA_CACHE_DIR points at a new temporary folder), so it includes compilation. "Warm" runs
in a fresh interpreter after the cache exists (the median of --repeat runs, each a separate
process, measured inside the process around load + simulate so interpreter start-up is excluded;
the import time is reported separately). Pin to one core with `taskset -c 0` to match the
DESIGN.md budget (one core).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASES = [
    ("systolic.yaml", "llama7b_decode", []),
    ("systolic.yaml", "llama7b_prefill", ["workload.prompt_len=2048"]),
    ("systolic_32x32.yaml", "llama7b_decode", []),
    ("systolic_32x32.yaml", "llama7b_prefill", ["workload.prompt_len=2048"]),
]

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import sim
from sim import load_arch, simulate
t1 = time.perf_counter()
arch = load_arch(sys.argv[1])
report = simulate(arch, sys.argv[2], sys.argv[3:])
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "simulate_s": t2 - t1, "cycles": report.cycles,
                  "ops": len(report.ops)}))
"""


def run_child(arch: str, workload: str, overrides: list[str], cache_dir: str) -> dict:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    out = subprocess.run([sys.executable, "-c", CHILD, str(ROOT / "arch_configs" / arch), workload,
                          *overrides], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--warm-only", action="store_true")
    args = p.parse_args()
    print(f"{'arch':<22}{'workload':<34}{'cold s':>9}{'warm s':>9}{'import s':>10}{'cycles':>16}")
    for arch, workload, overrides in CASES:
        label = workload + (" " + " ".join(overrides) if overrides else "")
        with tempfile.TemporaryDirectory() as cache:
            cold = None if args.warm_only else run_child(arch, workload, overrides, cache)
            if cold is None:
                run_child(arch, workload, overrides, cache)
            warm = [run_child(arch, workload, overrides, cache) for _ in range(args.repeat)]
        w = statistics.median(r["simulate_s"] for r in warm)
        imp = statistics.median(r["import_s"] for r in warm)
        c = "-" if cold is None else f"{cold['import_s'] + cold['simulate_s']:.2f}"
        print(f"{arch:<22}{label:<34}{c:>9}{w:>9.3f}{imp:>10.2f}{warm[0]['cycles']:>16,}")


if __name__ == "__main__":
    main()
