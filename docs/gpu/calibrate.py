"""Fit the gpu family's five efficiency constants to the calibration half of the H100 data.

    python docs/gpu/calibrate.py            # fit and print; --write puts the values in the YAMLs

The calibration half is the qkv and down GEMM shapes (BF16 and FP8, every M), the 8192^3 peak
GEMMs, the 1 GiB device copy, the RMSNorm kernel and one decode and one prefill attention
(``sim.families.gpu.validation.CALIBRATION_*``). Everything else is held out and only evaluated. The fit
is coordinate descent on fixed grids (deterministic), minimising the mean |log(pred / meas)|.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from sim.families.gpu.validation import (cases, default_arch, load_measurements, # noqa: E402
                                         predictions)

#: parameter -> (config key, grid of candidate values)
GRIDS = {
    "memory.sustained": [round(0.70 + 0.01 * i, 2) for i in range(31)],
    "kernel.overhead": [f"{x} ns" for x in range(500, 4001, 100)],
    "sm.tensor_efficiency": [round(0.50 + 0.01 * i, 2) for i in range(51)],
    "sm.tensor_efficiency_8": [round(0.40 + 0.01 * i, 2) for i in range(61)],
    "attention.efficiency": [round(0.30 + 0.01 * i, 2) for i in range(61)],
}
START = {"memory.sustained": 0.85, "kernel.overhead": "2000 ns", "sm.tensor_efficiency": 0.75,
         "sm.tensor_efficiency_8": 0.65, "attention.efficiency": 0.55}
CONFIGS = ("arch_configs/h100.yaml", "arch_configs/a100.yaml")


def loss(values: dict, calib) -> float:
    arch = default_arch([f"{k}={v}" for k, v in values.items()])
    pairs = predictions(arch, calib)
    return sum(abs(math.log(p / c.measured)) for c, p in pairs) / len(pairs)


def fit(calib, rounds: int = 3) -> dict:
    values = dict(START)
    best = loss(values, calib)
    for _ in range(rounds):
        for key, grid in GRIDS.items():
            for v in grid:
                trial = {**values, key: v}
                err = loss(trial, calib)
                if err < best - 1e-12:
                    best, values = err, trial
    return values


def write(values: dict) -> None:
    """Replace the ``# calibrated`` lines of the GPU configs with the fitted values."""
    for rel in CONFIGS:
        path = ROOT / rel
        text = path.read_text()
        for key, v in values.items():
            name = key.split(".")[1]
            text = re.sub(rf"(\n  {name}: )[^#\n]*?(\s+#)", rf"\g<1>{v}\g<2>", text)
        path.write_text(text)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="write the values into the configs")
    args = ap.parse_args(argv)
    data = load_measurements()
    all_cases = cases(data)
    calib = [c for c in all_cases if c.calibration]
    values = fit(calib)
    print(f"calibrated on {len(calib)} of {len(all_cases)} measured kernels "
          f"({data['meta']['device']}, {data['meta']['date']}):")
    for k, v in values.items():
        print(f"  {k}: {v}")
    print(f"mean |log error| on the calibration set: {loss(values, calib):.4f}")
    if args.write:
        write(values)
        print("written to " + ", ".join(CONFIGS))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
