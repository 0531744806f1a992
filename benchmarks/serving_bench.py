"""Serving benchmark (not a test): speed, memory and step-cost accuracy of `simulate serve`.

    python benchmarks/serving_bench.py                 # speed: 10,000 requests per family
    python benchmarks/serving_bench.py --accuracy      # interpolated vs exact step costs
    python benchmarks/serving_bench.py --families lut_tc h100 --requests 2000
    python benchmarks/serving_bench.py --accuracy --set scheduler.chunked_prefill=true

Speed: LLaMA-7B, ShareGPT-like lengths, Poisson arrivals at about 70 % of what the design
serves, each family in a fresh process (pin it with `taskset -c 0` for the one-core budget of
DESIGN.md: 10,000 requests in <= 30 s, memory flat in the number of requests). The wall time
includes loading and every step simulation; the peak resident memory is compared between
1,000 and the full number of requests.

Accuracy: a run of --accuracy-requests requests records every step the scheduler formed; a
seeded sample of them (all kinds, --samples) is simulated exactly (whole model, every
request's own length) and compared with the interpolated cost the run used (issue 28:
error below 2 %).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: arch, and a steady arrival rate (requests/s) about 70 % of what it serves of ShareGPT-like
#: LLaMA-7B traffic (measured with requests.arrival=burst)
FAMILIES = {
    "systolic": ("systolic", 0.28),
    "bitslice": ("bitslice", 0.1),
    "lut_tc": ("lut_tc", 16.0),
    "gpu": ("h100", 14.0),
    "npu_pim": ("neupims", 6.0),
    "wafer_mesh": ("wse2", 0.7),
}
MODEL = "llama7b"


def run_one(arch: str, rate: float, requests: int, extra=()) -> dict:
    """One serving run in this process: wall time, simulations, steps, peak memory."""
    import resource
    import time
    sys.path.insert(0, str(ROOT))
    from sim.serving import serve
    started = time.perf_counter()
    report = serve(arch, MODEL, overrides=[f"requests.rate={rate}",
                                           f"requests.num_requests={requests}", *extra])
    wall = time.perf_counter() - started
    m = report.metrics
    return {"arch": arch, "rate": rate, "requests": m["requests"], "wall_s": wall,
            "simulations": report.simulations, "prefill_steps": m["prefill_steps"],
            "decode_steps": m["decode_steps"], "mixed_steps": m["mixed_steps"],
            "mean_batch": m["mean_batch"],
            "ttft_p50_s": m["ttft_s"]["p50"], "tpot_p50_s": m["tpot_s"]["p50"],
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def accuracy(arch: str, rate: float, requests: int, samples: int, seed: int,
             extra=()) -> dict:
    """Relative errors (interpolated - exact) / exact of sampled steps of a real run."""
    sys.path.insert(0, str(ROOT))
    from sim.serving import serve
    from sim.serving.serve import _base_workload
    from sim.serving.stepcost import StepCost
    from sim.simulation.arch import load_arch
    steps = []
    serve(arch, MODEL, overrides=[f"requests.rate={rate}", f"requests.num_requests={requests}",
                                  *extra],
          on_step=lambda phase, lens, cost: steps.append((phase, lens, cost)))
    a = load_arch(arch)
    exact = StepCost(a, _base_workload(a, MODEL, []), "exact")
    rng = random.Random(seed)
    by_phase = {p: [s for s in steps if s[0] == p] for p in ("prefill", "decode", "mixed")}
    kinds = [group for group in by_phase.values() if group]
    picked = []
    for group in kinds:
        picked += rng.sample(group, min(len(group), samples // len(kinds)))
    rows = []
    for phase, lens, cost in picked:
        if isinstance(lens[0], tuple):  # chunked prefill: (chunks, decodes' cached tokens)
            truth = exact.exact_mixed(*lens)
            size = (len(lens[0]) + len(lens[1]), sum(c for c, _ in lens[0]) + len(lens[1]))
        else:
            truth = exact.exact(phase, lens)
            size = (len(lens), sum(lens))
        rows.append({"phase": phase, "requests": size[0], "tokens": size[1],
                     "time_error": cost.seconds / truth.seconds - 1,
                     "energy_error": cost.joules / truth.joules - 1})
    out = {"arch": arch, "steps": len(steps), "sampled": len(rows)}
    for key in ("time_error", "energy_error"):
        errs = [abs(r[key]) for r in rows]
        errs.sort()
        out[key] = {"median": statistics.median(errs), "p99": errs[int(0.99 * (len(errs) - 1))],
                    "max": errs[-1], "above_2pct": sum(e > 0.02 for e in errs)}
    out["worst"] = max(rows, key=lambda r: abs(r["time_error"]))
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--families", nargs="*", default=list(FAMILIES))
    p.add_argument("--requests", type=int, default=10_000)
    p.add_argument("--accuracy", action="store_true")
    p.add_argument("--accuracy-requests", type=int, default=1000)
    p.add_argument("--samples", type=int, default=60)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", help="write the results here")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a serving-spec or arch override for every run "
                        "(e.g. scheduler.chunked_prefill=true)")
    p.add_argument("--one", nargs=3, metavar=("ARCH", "RATE", "REQUESTS"),
                   help=argparse.SUPPRESS)  # the child process of a speed run
    args = p.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one[0], float(args.one[1]), int(args.one[2]), args.set)))
        return 0
    results = []
    for family in args.families:
        arch, rate = FAMILIES[family]
        if args.accuracy:
            r = accuracy(arch, rate, args.accuracy_requests, args.samples, args.seed, args.set)
            print(f"{family:10s} {r['steps']:7d} steps, {r['sampled']} sampled: time error "
                  f"median {r['time_error']['median']:.3%} p99 {r['time_error']['p99']:.3%} "
                  f"max {r['time_error']['max']:.3%} ({r['time_error']['above_2pct']} > 2 %); "
                  f"energy median {r['energy_error']['median']:.3%} max "
                  f"{r['energy_error']['max']:.3%}; worst {r['worst']}", flush=True)
        else:
            r = {"family": family}
            for n in sorted({min(1000, args.requests), args.requests}):
                out = subprocess.run([sys.executable, __file__, "--one", arch, str(rate), str(n)]
                                     + [f"--set={x}" for x in args.set],
                                     capture_output=True, text=True, check=True)
                r[n] = json.loads(out.stdout)
            big = r[args.requests]
            print(f"{family:10s} {big['requests']:6d} requests at {rate} req/s: "
                  f"{big['wall_s']:6.1f} s wall, {big['simulations']} simulations, "
                  f"{big['prefill_steps']} + {big['decode_steps']} + {big['mixed_steps']} "
                  f"steps, mean batch "
                  f"{big['mean_batch']:.1f}; peak RSS {big['peak_rss_mib']:.0f} MiB "
                  f"({r[min(1000, args.requests)]['peak_rss_mib']:.0f} MiB at 1,000)",
                  flush=True)
        results.append(r)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
