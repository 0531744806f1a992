"""Predicted vs measured H100 kernels and decode step: the table and plot of docs/gpu.md.

    python docs/gpu/validate.py [--plot docs/gpu/validation.png] [--markdown]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sim.families.gpu.validation import (cases, decode_step_pairs, default_arch, # noqa: E402
                                         load_measurements, median_abs, predictions)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plot", help="write the predicted-vs-measured scatter here (PNG)")
    ap.add_argument("--markdown", action="store_true", help="print a markdown table")
    args = ap.parse_args(argv)
    t0 = time.time()
    data = load_measurements()
    arch = default_arch()
    pairs = predictions(arch, cases(data))
    m = data["meta"]
    print(f"measured: {m['device']}, driver {m['driver']}, torch {m['torch']}, CUDA {m['cuda']}, "
          f"{m['date']}; model: {arch.file}")
    if args.markdown:
        print("| kernel | set | measured (µs) | predicted (µs) | error |\n|---|---|---|---|---|")
    for case, pred in pairs:
        err = 100 * (pred / case.measured - 1)
        tag = "calibration" if case.calibration else "held out"
        if args.markdown:
            print(f"| {case.label} | {tag} | {case.measured * 1e6:.1f} | {pred * 1e6:.1f} | "
                  f"{err:+.1f} % |")
        else:
            print(f"{case.label:<30}{tag:>12}{case.measured * 1e6:>11.1f}{pred * 1e6:>11.1f}"
                  f"{err:>+8.1f} %")
    for subset, name in ((False, "held out"), (True, "calibration")):
        errs = [p / c.measured - 1 for c, p in pairs if c.calibration == subset]
        print(f"{name}: {len(errs)} kernels, median |error| {100 * median_abs(errs):.1f} %, "
              f"max |error| {100 * max(abs(e) for e in errs):.1f} %")
    for rec, pred in decode_step_pairs(arch, data):
        print(f"LLaMA-7B BF16 decode step, batch {rec['batch']}, context {rec['context_len']} "
              f"(CUDA graph, {rec['kernels']} kernels): measured {rec['seconds'] * 1e3:.3f} ms, "
              f"predicted {pred * 1e3:.3f} ms ({100 * (pred / rec['seconds'] - 1):+.1f} %)")
    if args.plot:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(6, 6))
        groups = sorted({c.group for c, _ in pairs})
        for g in groups:
            for calib, marker in ((True, "x"), (False, "o")):
                pts = [(c.measured * 1e6, p * 1e6) for c, p in pairs
                       if c.group == g and c.calibration == calib]
                if pts:
                    xs, ys = zip(*pts)
                    ax.scatter(xs, ys, marker=marker, s=18,
                               label=f"{g} ({'calibration' if calib else 'held out'})")
        lo, hi = 1, 2e3
        ax.plot([lo, hi], [lo, hi], "k-", lw=0.8)
        for f in (0.9, 1.1):
            ax.plot([lo, hi], [lo * f, hi * f], "k:", lw=0.6)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("measured on H100 (µs)")
        ax.set_ylabel("predicted by the gpu model (µs)")
        ax.set_title("H100 kernels: predicted vs measured (dotted: ±10 %)")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)
        print(f"plot: {args.plot}")
    print(f"({time.time() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
