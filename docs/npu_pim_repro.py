"""NeuPIMs (ASPLOS'24) side by side: simulator vs the paper's reported figures.

Run:  python docs/npu_pim_repro.py [--quick] [--reference] [--json FILE]

Prints the throughput of NPU-only, naive NPU+PIM and NeuPIMs (and the ablation steps) over the
paper's grid (GPT-3 7B/13B/30B/175B with its TP/PP, ShareGPT-like and Alpaca-like lengths,
batches 64..512 per device), the GPT3-30B utilisation point, sub-batch interleaving against
none, the comparison with NeuPIMs' public simulator at its three points, and the table of every
target issue 27 sets (--json writes it). Paper values are from the text (figure bars are not
available as numbers).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from functools import lru_cache
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sim.core.targets import Target, publish  # noqa: E402
from sim.simulation.arch import load_arch  # noqa: E402
from sim.core.errors import WorkloadError  # noqa: E402
from sim.simulation.simulate import simulate  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent / "arch_configs"
MODELS = {"gpt3_7b": (4, 1), "gpt3_13b": (4, 1), "gpt3_30b": (4, 2), "gpt3_175b": (8, 4)}
SYSTEMS = {
    "npu_only": ("npu_only", []),
    "naive": ("npu_pim_naive", []),
    # the paper's ablation step as its artifact runs it: the main branch brings the composite
    # command and the unbounded dispatch along with the second row buffer
    "+dual_rb": ("npu_pim_naive", ["pim.mode=dual", "pim.command_set=composite",
                                   "pim.dispatch_per_cycle=0"]),
    "+greedy": ("npu_pim_naive", ["pim.mode=dual", "pim.command_set=composite",
                                  "pim.dispatch_per_cycle=0",
                                  "schedule.channel_assignment=greedy"]),
    "neupims": ("neupims", []),
}
#: the NPU-only run of NeuPIMs' public simulator (its npu-only branch): attention heads issued
#: one after another on the in-order core, far slower than the paper's NPU-only (about an A100)
ARTIFACT_NPU_ONLY = ("npu_only", ["npu.attention_issue=per_head"])
REFERENCE = (Path(__file__).resolve().parent.parent / "sim" / "families" / "npu_pim" / "data"
             / "neupims_simulator.json")
PAPER = {"neupims/naive": 1.6, "neupims/npu_only": 2.4, "naive/npu_only": 1.5}
#: NeuPIMs Sec. VIII-B: memory power 1.8x NPU-only's for the 2.4x average speed-up, i.e. memory
#: energy per unit of work 1.8 / 2.4 = 0.75 of NPU-only's (DRAMsim3's Micron power model)
PAPER_MEMORY = {"memory power neupims/npu_only": 1.8, "memory energy neupims/npu_only": 0.75}


def memory_joules(report) -> float:
    """DRAM energy of a run with the PIM units' (J): what DRAMsim3's power model counts."""
    return report.energy_breakdown.get("dram", 0.0) + report.energy_breakdown.get("pim", 0.0)


def memory_ratios(points) -> dict[str, float]:
    """NeuPIMs over NPU-only across ``points`` ((model, batch, dist) tuples), averaged the way
    the paper quotes them: mean memory-power ratio, and that over the mean speed-up (memory
    energy per unit of work)."""
    power, speedup = [], []
    for model, batch, dist in points:
        base, neu = run("npu_only", model, batch, dist), run("neupims", model, batch, dist)
        power.append((memory_joules(neu) / neu.seconds)
                     / (memory_joules(base) / base.seconds))
        speedup.append(base.seconds / neu.seconds)
    mean_power = float(np.mean(power))
    return {"memory power neupims/npu_only": mean_power,
            "memory energy neupims/npu_only": mean_power / float(np.mean(speedup))}


@lru_cache(maxsize=None)
def run(system, model, batch, dist, *extra):
    """One decode iteration of ``model`` on ``system`` (cached: points recur across tables),
    with ``extra`` arch overrides."""
    if system == "a100":
        arch_file, over = "a100", []
    else:
        arch_file, over = ARTIFACT_NPU_ONLY if system == "npu_only (artifact)" else SYSTEMS[system]
    over = list(over) + list(extra)
    tp, pp = MODELS[model]
    arch = load_arch(ROOT / f"{arch_file}.yaml", over)
    # the grid's batch is one device's micro-batch: NeuPIMs' simulator runs one layer of a
    # device with the whole trace and never reads n_pp (casys-kaist/NeuPIMs@f299af3 src/)
    return simulate(arch, f"{model}_decode", [f"workload.batch={batch * pp}",
                                              f"workload.tensor_parallel={tp}",
                                              f"workload.pipeline_parallel={pp}",
                                              f"workload.context_dist={dist}"])


def reference_points() -> list[dict]:
    """NeuPIMs' own simulator, built and run here (``sim/families/npu_pim/data/neupims_simulator.json``)."""
    with open(REFERENCE, encoding="utf-8") as f:
        return json.load(f)["points"]


def compare_with_reference(points=None) -> list[dict]:
    """Per recorded point and system: cycles per decoder layer (one decode iteration / layers)
    of NeuPIMs' simulator and of ours on the same model, batch and length distribution."""
    rows = []
    for p in points or reference_points():
        for system, ref in p["systems"].items():
            ours = run("npu_only (artifact)" if system == "npu_only" else system,
                       p["model"], p["batch"], p["dist"])
            rows.append({"point": p["name"], "system": system,
                         "reference": ref["iteration_cycles"] / p["layers"],
                         "ours": ours.cycles / p["layers"]})
    return rows


def print_reference_comparison() -> None:
    rows = compare_with_reference()
    print("NeuPIMs' simulator (casys-kaist/NeuPIMs, run here) vs ours: kilocycles per decoder layer,"
          " and each system's speed-up over naive NPU+PIM")
    print(f"{'point':<34}{'system':<10}{'reference':>10}{'ours':>9}{'ref. x':>8}{'ours x':>8}")
    naive = {r["point"]: r for r in rows if r["system"] == "naive"}
    for r in rows:
        base = naive.get(r["point"])
        rx = f"{base['reference'] / r['reference']:.2f}" if base else "-"
        ox = f"{base['ours'] / r['ours']:.2f}" if base else "-"
        print(f"{r['point']:<34}{r['system']:<10}{r['reference'] / 1e3:>10.0f}"
              f"{r['ours'] / 1e3:>9.0f}{rx:>8}{ox:>8}")


GRID_BATCHES = (64, 128, 256, 384, 512)
QUICK = {"models": ("gpt3_7b", "gpt3_30b"), "batches": (64, 256, 512)}


def grid(quick: bool = False) -> list[tuple[str, str, int]]:
    """(model, dist, batch) of the paper's grid (or the quick subset)."""
    models = QUICK["models"] if quick else tuple(MODELS)
    batches = QUICK["batches"] if quick else GRID_BATCHES
    return [(m, d, b) for m in models for d in ("sharegpt", "alpaca") for b in batches]


def grid_results(quick: bool = False) -> tuple[dict, list]:
    """Tokens/s of every system at every grid point that fits the device, and the points that
    do not fit (with the reason)."""
    tps, skipped = {}, []
    for model, dist, b in grid(quick):
        try:
            tps[(model, dist, b)] = {s: run(s, model, b, dist).tokens_per_second
                                     for s in SYSTEMS}
        except WorkloadError as exc:  # GPT3-13B at batch 512 outgrows 32 GiB of HBM
            skipped.append(((model, dist, b), exc.problems[0]))
    return tps, skipped


def sbi_ordering(points) -> dict[str, list]:
    """Sub-batch interleaving against none on NeuPIMs: the points below batch 256 where it
    wins, and those at 256 or more where it loses (the paper: it loses below 256 and helps
    from 256 on)."""
    out = {"wins below 256": [], "loses at 256+": []}
    for model, dist, b in points:
        preset = run("neupims", model, b, dist)  # interleaves from batch 256 on (auto)
        other = ("never" if preset.extras["sub_batch_interleaving"] else "always")
        flipped = run("neupims", model, b, dist, f"schedule.sub_batch_interleaving={other}")
        sbi, none = (preset, flipped) if other == "never" else (flipped, preset)
        if b < 256 and sbi.cycles < none.cycles:
            out["wins below 256"].append((model, dist, b))
        if b >= 256 and sbi.cycles > none.cycles:
            out["loses at 256+"].append((model, dist, b))
    return out


def a100_over_npu_only(points) -> float:
    """Mean throughput of the A100 40 GB (gpu family, same TP / PP and batch per device)
    over NPU-only, on the grid points that fit both."""
    out = []
    for model, dist, b in points:
        try:
            gpu = run("a100", model, b, dist)
        except WorkloadError:
            continue
        out.append(gpu.tokens_per_second / run("npu_only", model, b, dist).tokens_per_second)
    return float(np.mean(out))


def utilisation() -> dict[str, dict[str, float]]:
    """GPT3-30B batch 256 ShareGPT: NPU and PIM utilisation of naive and NeuPIMs, as busy
    shares (NeuPIMs' simulator's definition) and as MACs over peak."""
    out = {}
    for system in ("naive", "neupims"):
        e = run(system, "gpt3_30b", 256, "sharegpt").extras
        out[system] = {"npu_busy": e["npu_busy"], "npu_macs": e["npu_utilization"],
                       "pim_busy": e["pim_busy"], "pim_macs": e["pim_utilization"]}
    return out


def reference_evidence() -> dict[str, str]:
    """What NeuPIMs' public simulator itself gives for the figures the paper quotes, from the
    records: the notes of the target table."""
    pts = reference_points()
    naive_npu = [p["systems"]["npu_only"]["iteration_cycles"]
                 / p["systems"]["naive"]["iteration_cycles"]
                 for p in pts if {"naive", "npu_only"} <= set(p["systems"])]
    sbi_loses = [p["name"] for p in pts if p["batch"] >= 256
                 and {"neupims", "+greedy"} <= set(p["systems"])
                 and p["systems"]["neupims"]["iteration_cycles"]
                 > p["systems"]["+greedy"]["iteration_cycles"]]
    util = [p["systems"]["neupims"]["stats"] for p in pts
            if p["model"] == "gpt3_30b" and p["batch"] == 256 and p["dist"] == "sharegpt"]
    out = {"naive/npu_only": f"public simulator: {min(naive_npu):.1f}-{max(naive_npu):.1f}x",
           "sbi": "public simulator loses too at: " + ", ".join(sbi_loses) if sbi_loses else ""}
    if util:
        u = util[0]
        out["util"] = (f"public simulator here: "
                       f"{100 * u['core']['matmul_busy_cycles'] / u['one_layer_cycles']:.1f} %")
    return out


def issue_targets(tps: dict, sbi: dict, a100: float, util: dict) -> list[Target]:
    """Every figure issue 27 sets, from the grid results and the reference comparison."""
    ev = reference_evidence()
    ratio = {k: [v[a] / v[b] for v in tps.values()]
             for k, (a, b) in {"neupims/naive": ("neupims", "naive"),
                               "naive/npu_only": ("naive", "npu_only")}.items()}
    slower = [p for p, v in tps.items()
              if v["neupims"] < max(v["naive"], v["npu_only"])]
    drb = [v["+dual_rb"] / v["naive"] for (m, d, _), v in tps.items()
           if m == "gpt3_7b" and d == "sharegpt"]
    out = [Target("NeuPIMs / naive, mean over the grid (x)", 1.6,
                  float(np.mean(ratio["neupims/naive"])), 0.25),
           Target("NeuPIMs / naive, lowest point (x)", 1.13, min(ratio["neupims/naive"]), 0.0,
                  at_least=True),
           Target("points where NeuPIMs is slower than naive or NPU-only", 0, len(slower), 0,
                  points=True, at_most=True),
           Target("dual row buffers + composite command over naive, 7B ShareGPT (%)",
                  69.7, 100 * (float(np.mean(drb)) - 1), 0.25)]
    for r in compare_with_reference():
        out.append(Target(f"public simulator {r['point']} {r['system']} (kcycles/layer)",
                          r["reference"] / 1e3, r["ours"] / 1e3, 0.30))
    out += [Target("NPU utilisation, naive, GPT3-30B b256 ShareGPT (%)", 28.0,
                   100 * util["naive"]["npu_busy"], 7.0, points=True,
                   note="busy share; MACs / peak: "
                        f"{100 * util['naive']['npu_macs']:.1f} %"),
            Target("NPU utilisation, NeuPIMs, GPT3-30B b256 ShareGPT (%)", 64.9,
                   100 * util["neupims"]["npu_busy"], 7.0, points=True,
                   note="busy share; MACs / peak: "
                        f"{100 * util['neupims']['npu_macs']:.1f} %; {ev.get('util', '')}"),
            Target("points below batch 256 where sub-batch interleaving wins", 0,
                   len(sbi["wins below 256"]), 0, points=True, at_most=True),
            Target("points at batch >= 256 where sub-batch interleaving loses", 0,
                   len(sbi["loses at 256+"]), 0, points=True, at_most=True, note=ev["sbi"]),
            Target("naive / NPU-only, mean over the grid (x)", 1.5,
                   float(np.mean(ratio["naive/npu_only"])), 0.20, note=ev["naive/npu_only"]),
            Target("A100 40 GB / NPU-only, mean over the grid (x)", 1.0, a100, 0.20,
                   note="the paper: NPU-only performs about as the A100")]
    return out


def print_grid(tps: dict, skipped: list) -> None:
    print(f"{'model':<10}{'data':<9}{'batch':>6}" + "".join(f"{s:>11}" for s in SYSTEMS)
          + "   tokens/s, then ratios to naive")
    for (model, dist, b), v in tps.items():
        print(f"{model:<10}{dist:<9}{b:>6}" + "".join(f"{v[s]:>11.0f}" for s in SYSTEMS)
              + "   " + " ".join(f"{v[s] / v['naive']:.2f}" for s in SYSTEMS))
    for (model, dist, b), why in skipped:
        print(f"{model:<10}{dist:<9}{b:>6}   not simulated: {why}")
    print(f"({len(tps)} of {len(tps) + len(skipped)} points; NeuPIMs / NPU-only averages "
          f"{np.mean([v['neupims'] / v['npu_only'] for v in tps.values()]):.2f}x, paper "
          f"{PAPER['neupims/npu_only']}x, public simulator 8.5-12.4x at its points)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="GPT3-7B and 30B, batches 64/256/512")
    ap.add_argument("--reference", action="store_true",
                    help="only the comparison with NeuPIMs' own simulator (GPT3-7B points)")
    ap.add_argument("--json", metavar="FILE", help="write the target table as JSON")
    args = ap.parse_args(argv)
    if args.reference:
        print_reference_comparison()
        return 0
    t0 = time.time()
    tps, skipped = grid_results(args.quick)
    print_grid(tps, skipped)
    points = list(tps)
    for k, sim in memory_ratios([(m, b, d) for m, d, b in points]).items():
        print(f"{k:<34}{sim:>10.2f} (paper {PAPER_MEMORY[k]:.2f})")
    util = utilisation()
    print(f"\nGPT3-30B b256 ShareGPT PIM utilisation: naive "
          f"{100 * util['naive']['pim_busy']:.1f} % busy ({100 * util['naive']['pim_macs']:.1f} % "
          f"of peak MACs), NeuPIMs {100 * util['neupims']['pim_busy']:.1f} % "
          f"({100 * util['neupims']['pim_macs']:.1f} %); paper 17 % / 26.4 %")
    inter = run("neupims", "gpt3_30b", 256, "sharegpt").extras.get(
        "dual_row_buffer_interference", {})
    if inter:
        print(f"dual row buffers, measured: reads beside PIM get {100 * inter['read_share']:.0f}% "
              f"of the channel; PIM slowed x{inter['pim_slowdown']:.2f}")
    sbi = sbi_ordering(points)
    for k, v in sbi.items():
        print(f"sub-batch interleaving {k}: {', '.join(f'{m} {d} {b}' for m, d, b in v) or '-'}")
    print()
    print_reference_comparison()
    publish(issue_targets(tps, sbi, a100_over_npu_only(points), util), args.json,
            "Targets (issue 27)")
    print(f"\n({time.time() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
