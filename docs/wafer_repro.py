"""WaferLLM (OSDI'25) on the Cerebras WSE-2: simulator vs paper, side by side.

Run:  python docs/wafer_repro.py [--plot DIR]

Prints GEMV latency (Table 6), LLaMA3-8B decode (Table 4) and prefill (Table 3) throughput,
KV capacity (Table 5), and the algorithm comparisons (MeshGEMM vs SUMMA/Cannon, MeshGEMV vs
the chain allreduce). With --plot, writes gemm_vs_mesh.png and gemv_vs_mesh.png (latency of
every algorithm against mesh size). Calibration points are marked (cal).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sim.simulation.arch import load_arch  # noqa: E402
from sim.families.wafer_mesh.family import WaferMesh  # noqa: E402
from sim.families.wafer_mesh.mesh import (GEMM_ALGORITHMS, GEMV_ALGORITHMS, gemm,  # noqa: E402
                                          gemv, gemv_speedup)
from sim.simulation.simulate import load_workload, simulate  # noqa: E402

WSE2 = Path(__file__).resolve().parent.parent / "arch_configs" / "wse2.yaml"


def line(what, sim, paper, cal=False):
    print(f"{what:<44}{sim:>12.1f}{paper:>12.1f}{100 * (sim / paper - 1):>8.0f}%"
          + ("  (cal)" if cal else ""))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plot", help="directory for the latency-vs-mesh-size plots")
    args = ap.parse_args(argv)
    t0 = time.time()
    arch = load_arch(WSE2)
    fab = WaferMesh().prepare(arch.cfg, arch.file).fabric
    print(f"{'':<44}{'simulated':>12}{'paper':>12}{'error':>9}")
    for size, paper in ((16384, 1320), (32768, 2233)):
        line(f"GEMV [1,{size // 1024}K]x[{size // 1024}K,{size // 1024}K] cycles, 720^2",
             gemv("meshgemv", size, size, 720, fab, 24).cycles, paper)
    for side, paper in ((420, 2699.9), (540, 2501.5), (660, 2243.3)):
        r = simulate(load_arch(WSE2, [f"mesh.decode_side={side}"]), "llama3_8b_decode",
                     ["workload.context_len=4096"])
        line(f"LLaMA3-8B decode tokens/s, {side}^2", r.tokens_per_second, paper, side == 540)
    for side, paper in ((480, 20320.6), (600, 25037.2), (720, 27686.5)):
        r = simulate(load_arch(WSE2, [f"mesh.prefill_side={side}"]), "llama3_8b_prefill",
                     ["workload.prompt_len=4096"])
        line(f"LLaMA3-8B prefill tokens/s, {side}^2, 4K", r.tokens_per_second, paper,
             side == 600)
    for model, side, shift, concat in (("llama3_8b", 360, 137548, 382),
                                       ("llama2_13b", 375, 6168, 16)):
        for layout, paper in (("shift", shift), ("concat", concat)):
            a = load_arch(WSE2, [f"algorithms.kv_layout={layout}", f"mesh.decode_side={side}"])
            fam = WaferMesh()
            cap = fam.kv_capacity_tokens(fam.prepare(a.cfg, a.file),
                                         load_workload(f"{model}_decode", a))
            line(f"{model} KV capacity tokens, {layout}", cap, paper,
                 model == "llama3_8b" and layout == "shift")
    mean, top = gemv_speedup("chain", fab)
    line("MeshGEMV over chain GEMV, geomean 30^2..720^2", mean, 4.6)
    wide, _ = gemv_speedup("chain", fab, sides=(360, 480, 600, 720))
    print(f"  (max {top:.1f}x; {wide:.1f}x over 360^2..720^2 only, where the baseline only rises)")
    sides = [120, 240, 360, 480, 600, 720]
    gemms = {(s, a): [gemm(a, s, s, s, p, fab).cycles for p in sides]
             for s in (2048, 8192) for a in GEMM_ALGORITHMS}
    gemvs = {(s, a): [gemv(a, s, s, p, fab).cycles for p in sides]
             for s in (2048, 8192, 16384) for a in GEMV_ALGORITHMS}
    print()
    print("cycles vs mesh side " + " ".join(f"{p:>9}" for p in sides))
    for (s, a), v in {**gemms, **gemvs}.items():
        kind = "GEMM" if (s, a) in gemms else "GEMV"
        print(f"{kind} {s // 1024}K {a:<10}" + " ".join(f"{x:>9}" for x in v))
    if args.plot:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        out = Path(args.plot)
        out.mkdir(parents=True, exist_ok=True)
        for name, table in (("gemm", gemms), ("gemv", gemvs)):
            fig, ax = plt.subplots(figsize=(7, 4.5))
            for (s, a), v in table.items():
                ax.plot(sides, v, marker="o", label=f"{s // 1024}K {a}")
            ax.set_xlabel("mesh side (cores)")
            ax.set_ylabel("cycles")
            ax.set_yscale("log")
            ax.set_title(f"{name.upper()} latency vs mesh size (WSE-2 model)")
            ax.legend(fontsize=7, ncol=2)
            fig.tight_layout()
            fig.savefig(out / f"{name}_vs_mesh.png", dpi=120)
            plt.close(fig)
        print(f"plots in {out}")
    print(f"\n({time.time() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
