"""Speed benchmark (not a test): decode and 2048-token prefill on both systolic configs and the
bit-slice engines (value-dependent timing), the cost
of the command-level DRAM model (decode with dram.model=cycle vs ideal), and one 13.5 GB
stream (the LLaMA-7B weights) through a 32-channel HBM2 device, and the time to write the
five --plot PNGs of two long runs (the target is under 2 s each).

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
    ("systolic.yaml", "llama7b_decode", ["dram.model=ideal"]),
    ("systolic.yaml", "llama7b_prefill", ["workload.prompt_len=2048"]),
    ("systolic_32x32.yaml", "llama7b_decode", []),
    ("systolic_32x32.yaml", "llama7b_prefill", ["workload.prompt_len=2048"]),
    # bitslice: value-dependent timing from sampled weights (OPT3 is weight-serial), W4A8
    ("bitslice_opt3.yaml", "llama7b_decode", ["workload.weight_bits=4"]),
    ("bitslice.yaml", "llama7b_decode", ["workload.weight_bits=4"]),
    ("bitslice.yaml", "llama7b_prefill", ["workload.weight_bits=4", "workload.prompt_len=2048"]),
    ("bitslice_laconic.yaml", "llama7b_decode", []),
    # lut_tc: the headline command, prefill, and the MAC baseline on the same model
    ("lut_tc.yaml", "llama7b_decode", []),
    ("lut_tc.yaml", "llama7b_prefill", ["workload.prompt_len=2048"]),
    ("lut_tc.yaml", "bitnet_b158_3b_decode", ["workload.batch=1024", "workload.context_len=0",
                                              "workload.act_bits=8"]),
    ("mac_tc_a100_fp16.yaml", "llama7b_decode", []),
]

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import sim
from sim import load_arch, simulate
t1 = time.perf_counter()
sets = [a for a in sys.argv[3:] if not a.startswith("workload.")]
arch = load_arch(sys.argv[1], sets)
report = simulate(arch, sys.argv[2], [a for a in sys.argv[3:] if a.startswith("workload.")])
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "simulate_s": t2 - t1, "cycles": report.cycles,
                  "ops": len(report.ops)}))
"""


STREAM_CHILD = r"""
import json, time
from sim.core.config import Config
from sim.core.config.schema import validate
from sim.memory.spec import DRAM, resolve_spec
from sim.memory.system import run_stream
data, _ = validate({"preset": "HBM2", "channels": 32}, DRAM, None)
spec, _ = resolve_spec(Config(data), None)
run_stream(spec, 1 << 20)  # load the compiled kernel
t0 = time.perf_counter()
r = run_stream(spec, 13_476_839_424)
t1 = time.perf_counter()
print(json.dumps({"stream_s": t1 - t0, "requests": r.requests, "extrapolated": r.extrapolated,
                  "bandwidth": r.requests * 64 / (r.cycles * 1e-9)}))
"""


PLOT_CHILD = r"""
import json, sys, tempfile, time
from sim import load_arch, simulate
from sim.output.plots import write_plots
report = simulate(load_arch(sys.argv[1]), sys.argv[2], sys.argv[3:])
import matplotlib.pyplot  # imported by write_plots; loaded here so it is not timed
t0 = time.perf_counter()
with tempfile.TemporaryDirectory() as out:
    write_plots(report, out)
print(json.dumps({"plot_s": time.perf_counter() - t0, "intervals": len(report.intervals)}))
"""
#: --plot cases: many intervals (NeuPIMs' concurrent units, a long prefill)
PLOT_CASES = [("neupims.yaml", "gpt3_7b_decode", ["workload.batch=64",
                                                  "workload.context_dist=sharegpt"]),
              ("systolic.yaml", "llama7b_prefill", ["workload.prompt_len=2048"])]


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
    for arch, workload, overrides in PLOT_CASES:
        r = json.loads(subprocess.run([sys.executable, "-c", PLOT_CHILD,
                                       str(ROOT / "arch_configs" / arch), workload, *overrides],
                                      capture_output=True, text=True, check=True)
                       .stdout.strip().splitlines()[-1])
        print(f"--plot (5 PNGs) {arch} {workload}: {r['plot_s']:.2f} s for "
              f"{r['intervals']:,} intervals")
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        runs = [json.loads(subprocess.run([sys.executable, "-c", STREAM_CHILD], env=env,
                                          capture_output=True, text=True, check=True)
                           .stdout.strip().splitlines()[-1]) for _ in range(args.repeat)]
    r = runs[-1]
    print(f"\n13.5 GB stream, HBM2 x32: {statistics.median(x['stream_s'] for x in runs):.3f} s "
          f"warm, {r['requests']:,} requests ({100 * r['extrapolated'] / r['requests']:.1f}% "
          f"by the periodic steady state), {r['bandwidth'] / 1e9:.0f} GB/s")


if __name__ == "__main__":
    main()
