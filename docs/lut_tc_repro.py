"""Print the lut_tc family's numbers beside the LUT Tensor Core paper's (ISCA'25).

    python docs/lut_tc_repro.py [--json FILE]

Ends with the table of every target issue 26 sets (paper, ours, tolerance, pass); --json writes
the same rows to FILE.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sim.core.targets import publish  # noqa: E402
from sim.families.lut_tc import validation as V  # noqa: E402


def err(sim: float, paper: float) -> str:
    return f"{sim / paper - 1:+7.1%}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", metavar="FILE", help="write the target table as JSON")
    args = ap.parse_args(argv)
    d = V.data()
    print("Table 2: UNPU -> LUT TC ablation, W_INT2 x A_INT8 M2N64K4 unit, 28 nm, 1 GHz "
          "(calibration row: lut_tc)")
    print(f"{'row':<12} {'area um2':>9} {'paper':>9} {'err':>7} {'mW':>6} {'paper':>6} {'err':>7}")
    for row, (a, pa, p, pp) in V.table2().items():
        print(f"{row:<12} {a:9.0f} {pa:9.0f} {err(a, pa)} {p:6.2f} {pp:6.2f} {err(p, pp)}")
    t3 = V.table3_tops_per_w()
    print(f"\nTable 3: W1A8 PE energy efficiency {t3:.2f} TOPS/W (paper "
          f"{d['table3_tops_per_w_w1a8']}, {err(t3, d['table3_tops_per_w_w1a8']).strip()})")
    lut, mac = V.dp4_densities()
    f12 = d["fig12"]
    print(f"Fig. 12 DP4 density TFLOPs/mm2: LUT W1xFP16 {lut:.2f} (paper "
          f"{f12['lut_w1_fp16_tflops_per_mm2']}, {err(lut, f12['lut_w1_fp16_tflops_per_mm2']).strip()}),"
          f" MAC FP16 {mac:.2f} (paper {f12['mac_fp16_fp16_tflops_per_mm2']}, "
          f"{err(mac, f12['mac_fp16_fp16_tflops_per_mm2']).strip()}); ratio {lut / mac:.1f}x "
          f"(paper {f12['lut_w1_fp16_tflops_per_mm2'] / f12['mac_fp16_fp16_tflops_per_mm2']:.1f}x)")
    ax, px = V.w1_tc_ratios()
    lo, hi = d["fig14_w1_lut_vs_mac"]
    print(f"Fig. 14 W1xFP16 512-element TC, MAC/LUT: area {ax:.1f}x, power {px:.1f}x "
          f"(paper {lo:g}-{hi:g}x)")
    print("\nTable 1: weight-GEMM tensor cores (28 nm; the paper normalises areas to 1.41 GHz)")
    print(f"{'row':<12} {'peak':>7} {'paper':>6} {'mm2/SM':>7} {'paper':>6} {'err':>7} "
          f"{'TOPS/mm2':>8} {'paper':>6} {'TOPS/W':>7} {'paper':>6}")
    units = {row: V.table1_units(row) for row in d["table1"]}
    for row, u in units.items():
        r = d["table1"][row]
        tw = f"{r['tops_per_w']:6.2f}" if r["tops_per_w"] else f"{'n/r':>6}"
        print(f"{row:<12} {u['peak']:7.0f} {r['peak']:6.0f} {u['tc_area_per_sm']:7.3f} "
              f"{r['tc_area_per_sm']:6.3f} {err(u['tc_area_per_sm'], r['tc_area_per_sm'])} "
              f"{u['density']:8.2f} {r['density']:6.2f} {u['tops_per_w']:7.2f} {tw}")
    h = d["headline"]
    dens = units["a100_lut_8x"]["density"] / units["a100_fp16"]["density"]
    eff = units["a100_lut_8x"]["tops_per_w"] / units["a100_fp16"]["tops_per_w"]
    print(f"headline A100-LUT-8X vs FP16 TC: density {dens:.1f}x (paper {h['density_x']}x), "
          f"energy efficiency {eff:.1f}x (paper {h['energy_x']}x)")
    print("\nTable 1: BitNet b1.58-3B end-to-end latency (ms) and speedup over the A100 FP16 TC")
    print(f"{'row':<12} {'BS1 SEQ2048':>11} {'paper':>7} {'err':>7} {'x':>5} {'paper':>5} "
          f"{'BS1024 SEQ1':>11} {'paper':>7} {'err':>7} {'x':>5} {'paper':>5}")
    cols = ("bs1_seq2048", "bs1024_seq1")
    lat = {(row, c): V.table1_latency_ms(row, c) for row in d["table1"] for c in cols}
    for row, r in d["table1"].items():
        line = f"{row:<12}"
        for c in cols:
            ms, ref = lat[(row, c)], r[c + "_ms"]
            x = lat[("a100_fp16", c)] / ms
            px = d["table1"]["a100_fp16"][c + "_ms"] / ref
            line += f" {ms:11.2f} {ref:7.2f} {err(ms, ref)} {x:5.2f} {px:5.2f}"
        print(line)
    print("\nTable 4: table-precompute overhead over free tables, LLaMA-2-13B on A100-LUT-4X (%)")
    paper = d["table4"]
    for (case, o), pu, pf in zip(V.precompute_overheads().items(), paper["unfused_pct"],
                                 paper["fused_pct"]):
        print(f"{case:<8} unfused {o['unfused']:5.2f} (paper avg {pu})   fused {o['fused']:5.2f} "
              f"(paper avg {pf})")
    publish(V.issue_targets(), args.json, "Targets (issue 26)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
