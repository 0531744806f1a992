"""Print the bitslice family's numbers beside the published ones (HPCA'25 TPE paper and repo).

    python docs/bitslice_repro.py [--json FILE]

Ends with the table of every target issue 26 sets (paper, ours, tolerance, pass); --json writes
the same rows to FILE.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sim.core.targets import publish  # noqa: E402
from sim.families.bitslice import validation as V  # noqa: E402
from sim.families.bitslice.pe import check_points  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", metavar="FILE", help="write the target table as JSON")
    args = ap.parse_args(argv)
    print("EN-T average partial products per int8 operand (normal data, README of the repo)")
    print(f"{'sigma':>5} {'exact':>7} {'tb K=32':>8} {'paper':>6} {'err':>6} {'tb K=128':>9} "
          f"{'paper':>6} {'err':>6}")
    for s in (10, 20, 30, 40, 50):
        t32, t128 = V.testbench_average(s, 32), V.testbench_average(s, 128)
        p32, p128 = V.README_PP[32][s], V.README_PP[128][s]
        print(f"{s:>5} {V.ent_average_pp(s):7.3f} {t32:8.3f} {p32:6.2f} {t32 / p32 - 1:+6.1%} "
              f"{t128:9.3f} {p128:6.2f} {t128 / p128 - 1:+6.1%}")
    print("\nTPE gains, optimised over MAC baseline, each at its highest clock (SAED32 reports / "
          "structural model)")
    print(f"{'TPE':<11} {'area eff':>9} {'paper':>6} {'err':>7} {'energy eff':>11} {'paper':>6} {'err':>7}")
    for name, (area, energy) in V.tpe_gains().items():
        pa, pe = V.PAPER_GAINS[name]
        print(f"{name:<11} {area:9.2f} {pa:6.2f} {area / pa - 1:+7.1%} {energy:11.2f} {pe:6.2f} "
              f"{energy / pe - 1:+7.1%}")
    r = V.bitslice_vs_laconic()
    pe_, pa_ = V.PAPER_VS_LACONIC
    print(f"\nOPT4C vs Laconic (int8 normal sigma 20): cycles/MAC per PE {r['opt4c_cycles_per_mac']:.3f}"
          f" vs {r['laconic_cycles_per_mac']:.3f}")
    print(f"  energy efficiency {r['energy_efficiency']:.2f}x (paper {pe_}x, "
          f"{r['energy_efficiency'] / pe_ - 1:+.1%}); area efficiency "
          f"{r['area_efficiency']:.2f}x (paper {pa_}x, {r['area_efficiency'] / pa_ - 1:+.1%})")
    print("\nStructural PE model vs held-out SAED32 reports")
    for name, pred, rep in check_points():
        print(f"  {name:<26} model {pred:9.3f}  report {rep:9.3f}  {pred / rep - 1:+.1%}")
    publish(V.issue_targets(), args.json, "Targets (issue 26)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
