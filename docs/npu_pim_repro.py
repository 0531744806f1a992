"""NeuPIMs (ASPLOS'24) side by side: simulator vs the paper's reported figures.

Run:  python docs/npu_pim_repro.py [--quick]

Prints the throughput of NPU-only, naive NPU+PIM and NeuPIMs (and the ablation steps) over the
paper's grid (GPT-3 7B/13B/30B/175B with its TP/PP, ShareGPT-like and Alpaca-like lengths,
batches 64..512), the averages the paper quotes, and the GPT3-30B utilisation point. Paper
values are from the text (figure bars are not available as numbers; NeuPIMs (Heo et al., ASPLOS'24) Sec. VI area).
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

from sim.simulation.arch import load_arch  # noqa: E402
from sim.core.errors import WorkloadError  # noqa: E402
from sim.simulation.simulate import simulate  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent / "arch_configs"
MODELS = {"gpt3_7b": (4, 1), "gpt3_13b": (4, 1), "gpt3_30b": (4, 2), "gpt3_175b": (8, 4)}
SYSTEMS = {
    "npu_only": ("npu_only", []),
    "naive": ("npu_pim_naive", []),
    "+dual_rb": ("npu_pim_naive", ["pim.mode=dual"]),
    "+greedy": ("npu_pim_naive", ["pim.mode=dual", "schedule.channel_assignment=greedy"]),
    "neupims": ("neupims", []),
}
REFERENCE = (Path(__file__).resolve().parent.parent / "sim" / "families" / "npu_pim" / "data"
             / "neupims_simulator.json")
PAPER = {"neupims/naive": 1.6, "neupims/npu_only": 2.4, "naive/npu_only": 1.5,
         "+dual_rb/naive (7B ShareGPT)": 1.697}
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
def run(system, model, batch, dist):
    """One decode iteration of ``model`` on ``system`` (cached: points recur across tables)."""
    arch_file, over = SYSTEMS[system]
    tp, pp = MODELS[model]
    arch = load_arch(ROOT / f"{arch_file}.yaml", over)
    return simulate(arch, f"{model}_decode", [f"workload.batch={batch}",
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
            ours = run(system, p["model"], p["batch"], p["dist"])
            rows.append({"point": p["name"], "system": system,
                         "reference": ref["iteration_cycles"] / p["layers"],
                         "ours": ours.cycles / p["layers"]})
    return rows


def print_reference_comparison() -> None:
    rows = compare_with_reference()
    print("NeuPIMs' simulator (casys-kaist/NeuPIMs, run here) vs ours: kilocycles per decoder layer,"
          " and each system's speed-up over naive NPU+PIM")
    print(f"{'point':<32}{'system':<10}{'reference':>10}{'ours':>9}{'ref. x':>8}{'ours x':>8}")
    naive = {r["point"]: r for r in rows if r["system"] == "naive"}
    for r in rows:
        base = naive.get(r["point"])
        rx = f"{base['reference'] / r['reference']:.2f}" if base else "-"
        ox = f"{base['ours'] / r['ours']:.2f}" if base else "-"
        print(f"{r['point']:<32}{r['system']:<10}{r['reference'] / 1e3:>10.0f}{r['ours'] / 1e3:>9.0f}"
              f"{rx:>8}{ox:>8}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="GPT3-7B and 30B, batches 64/256/512")
    ap.add_argument("--reference", action="store_true",
                    help="only the comparison with NeuPIMs' own simulator (GPT3-7B points)")
    args = ap.parse_args(argv)
    if args.reference:
        print_reference_comparison()
        return 0
    models = ["gpt3_7b", "gpt3_30b"] if args.quick else list(MODELS)
    batches = [64, 256, 512] if args.quick else [64, 128, 256, 384, 512]
    t0 = time.time()
    ratios = {k: [] for k in PAPER}
    simulated = []
    print(f"{'model':<10}{'data':<9}{'batch':>6}" + "".join(f"{s:>11}" for s in SYSTEMS)
          + "   tokens/s, then ratios to naive")
    for model in models:
        for dist in ("sharegpt", "alpaca"):
            for b in batches:
                try:
                    tps = {s: run(s, model, b, dist).tokens_per_second for s in SYSTEMS}
                except WorkloadError as exc:  # e.g. GPT3-13B at batch 512 outgrows 32 GiB HBM
                    print(f"{model:<10}{dist:<9}{b:>6}   not simulated: {exc.problems[0]}")
                    continue
                print(f"{model:<10}{dist:<9}{b:>6}" + "".join(f"{tps[s]:>11.0f}" for s in SYSTEMS)
                      + "   " + " ".join(f"{tps[s] / tps['naive']:.2f}" for s in SYSTEMS))
                simulated.append((model, b, dist))
                ratios["neupims/naive"].append(tps["neupims"] / tps["naive"])
                ratios["neupims/npu_only"].append(tps["neupims"] / tps["npu_only"])
                ratios["naive/npu_only"].append(tps["naive"] / tps["npu_only"])
                if model == "gpt3_7b" and dist == "sharegpt":
                    ratios["+dual_rb/naive (7B ShareGPT)"].append(tps["+dual_rb"] / tps["naive"])
    print()
    print(f"{'average over the grid':<34}{'simulated':>10}{'paper':>8}{'error':>9}")
    for k, v in ratios.items():
        sim = float(np.mean(v))
        print(f"{k:<34}{sim:>10.2f}{PAPER[k]:>8.2f}{100 * (sim / PAPER[k] - 1):>8.0f}%")
    for k, sim in memory_ratios(simulated).items():
        print(f"{k:<34}{sim:>10.2f}{PAPER_MEMORY[k]:>8.2f}"
              f"{100 * (sim / PAPER_MEMORY[k] - 1):>8.0f}%")
    r_naive = run("naive", "gpt3_30b", 256, "sharegpt")
    r_neu = run("neupims", "gpt3_30b", 256, "sharegpt")
    print()
    print("GPT3-30B batch 256 ShareGPT NPU utilisation: naive "
          f"{100 * r_naive.extras['npu_utilization']:.1f}% (paper 28.0%), NeuPIMs "
          f"{100 * r_neu.extras['npu_utilization']:.1f}% (paper 64.9%); PIM "
          f"{100 * r_naive.extras['pim_utilization']:.1f}% / "
          f"{100 * r_neu.extras['pim_utilization']:.1f}% (paper 17% / 26.4%)")
    inter = r_neu.extras.get("dual_row_buffer_interference", {})
    if inter:
        print(f"dual row buffers, measured: reads beside PIM get {100 * inter['read_share']:.0f}% "
              f"of the channel; PIM slowed x{inter['pim_slowdown']:.2f}")
    print()
    print_reference_comparison()
    print(f"\n({time.time() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
