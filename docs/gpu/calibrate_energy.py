"""Fit the gpu family's five energy constants to the calibration half of the H200 kernels and
report the held-out kernels and the whole measured steps.

    python docs/gpu/calibrate_energy.py           # fit, print both tables
    python docs/gpu/calibrate_energy.py --write   # also put the values in arch_configs/h100.yaml

Data: ``sim/families/gpu/data/measured/h200_energy.json`` (docs/gpu/measure_energy.py: NVML's
board energy counter over >= 2.5 s of CUDA-graph replays per case). Model: a kernel's energy is
the board's measured idle power for its duration, the DRAM model's energy, and five calibrated
terms: ``energy.active_w`` for its duration, ``pj_per_mac_16`` / ``pj_per_mac_8`` per executed
tensor-core MAC, ``pj_per_cuda_op`` per element-wise operation and ``pj_per_l2_byte`` per byte
through L2. The simulator gives each term's coefficient (:func:`energy_features`, every constant
set to 1), so the fit is non-negative least squares on relative errors. A kernel whose modelled
power is above the 700 W board limit is then held at the limit, as the simulator does
(``Gpu.enforces_power_limit``): the fit sees every calibration kernel as measured (those near the
limit ran at a lowered clock, so their energy per operation is the capped one). Deterministic:
no random start.
"""

from __future__ import annotations

import argparse
import itertools
import re
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from sim.families.gpu.validation import (ENERGY_CONSTANTS, H200_ENERGY,  # noqa: E402
                                         energy_cases, energy_features, kernel_report,
                                         load_measurements, median_abs, step_report, steps)
from sim.simulation.arch import load_arch  # noqa: E402

ARCH = ROOT / "arch_configs" / "h200.yaml"
CONFIG = ROOT / "arch_configs" / "h100.yaml"  # the die's constants live here; h200 extends it
TERMS = list(ENERGY_CONSTANTS)


def nnls(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Non-negative least squares by enumerating the active sets (five unknowns: 31 sets)."""
    best, n = None, a.shape[1]
    for size in range(1, n + 1):
        for cols in itertools.combinations(range(n), size):
            x, *_ = np.linalg.lstsq(a[:, cols], b, rcond=None)
            if (x >= 0).all():
                res = float(np.sum((a[:, cols] @ x - b) ** 2))
                if best is None or res < best[0]:
                    full = np.zeros(n)
                    full[list(cols)] = x
                    best = (res, full)
    return best[1]


def fit(cases, feats, limit_w: float) -> tuple[np.ndarray, int]:
    """Constants (in ``TERMS`` order) and the number of calibration kernels the fitted model
    holds at the power limit."""
    calib = [i for i, c in enumerate(cases) if c.calibration]
    a = np.array([[feats[i].get(t, 0.0) for t in TERMS] for i in calib])
    fixed = np.array([feats[i]["fixed"] for i in calib])
    meas = np.array([cases[i].joules for i in calib])
    w = 1.0 / meas
    x = nnls(a * w[:, None], (meas - fixed) * w)
    cap = np.array([limit_w * feats[i]["seconds"] for i in calib])
    return x, int((fixed + a @ x > cap).sum())


def table(rows, head) -> str:
    out = [head]
    for label, calib, pred, meas, extra in rows:
        out.append(f"  {'cal ' if calib else 'held'} {label:44} {meas:10.4g} {pred:10.4g} "
                   f"{pred / meas - 1:+7.1%}  {extra}")
    return "\n".join(out)


def write(values: dict) -> None:
    """Replace the ``energy:`` constants of the H100 config (marked ``# calibrated``)."""
    text = CONFIG.read_text()
    for key, v in values.items():
        name = key.split(".")[1]
        text, n = re.subn(rf"(\n  {name}: )[^#\n]*?(\s+#)", rf"\g<1>{v}\g<2>", text)
        assert n == 1, f"{CONFIG.name}: no line for {key}"
    CONFIG.write_text(text)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="write the values into h100.yaml")
    args = ap.parse_args(argv)
    data = load_measurements(H200_ENERGY)
    cases = energy_cases(data)
    limit = load_arch(ARCH).cfg.power.limit_w
    feats = energy_features(ARCH, cases)
    x, held = fit(cases, feats, limit)
    units = {"energy.active_w": "W"}
    values = {ENERGY_CONSTANTS[t]: f"{x[i]:.4g} {units.get(ENERGY_CONSTANTS[t], 'pJ')}"
              for i, t in enumerate(TERMS)}
    n_cal = sum(c.calibration for c in cases)
    print(f"calibrated on {n_cal} of {len(cases)} kernels measured on {data['meta']['device']} "
          f"({data['meta']['date']}); {held} calibration kernels held at the {limit:.0f} W limit")
    for k, v in values.items():
        print(f"  {k}: {v}")
    arch = load_arch(ARCH, [f"{k}={v}" for k, v in values.items()])
    rows, errs = [], {True: [], False: []}
    for c in cases:
        r = kernel_report(arch, c)
        errs[c.calibration].append(r.energy_joules / c.joules - 1)
        rows.append((c.label, c.calibration, r.energy_joules * 1e3, c.joules * 1e3,
                     f"time {r.seconds / c.seconds - 1:+6.1%}  {r.average_power_w:4.0f} W "
                     f"(measured {c.watts:4.0f} W)"))
    print(table(rows, "kernel energy, mJ per launch" + " " * 20 + "measured  simulated  error"))
    for calib in (True, False):
        e = errs[calib]
        print(f"{'calibration' if calib else 'held-out'} kernels: median |error| "
              f"{median_abs(e):.1%}, max {max(map(abs, e)):.1%} ({len(e)} kernels)")
    rows, e_err, t_err = [], [], []
    for s in steps(data):
        r = step_report(arch, s)
        size = f"context {s['context_len']}" if s["phase"] == "decode" else \
            f"prompt {s['prompt_len']}"
        e_err.append(r.energy_joules / s["joules"] - 1)
        t_err.append(r.seconds / s["seconds"] - 1)
        rows.append((f"{s['model']} {s['phase']} batch {s['batch']} {size}", False,
                     r.energy_joules, s["joules"],
                     f"time {t_err[-1]:+6.1%}  {r.average_power_w:4.0f} W "
                     f"(measured {s['watts']:4.0f} W)"))
    print(table(rows, "whole steps (all held out), J per step" + " " * 11
                + "measured  simulated  error"))
    print(f"steps: energy max |error| {max(map(abs, e_err)):.1%} (median "
          f"{median_abs(e_err):.1%}), time max |error| {max(map(abs, t_err)):.1%} "
          f"({len(e_err)} steps)")
    if args.write:
        write(values)
        print(f"written to {CONFIG.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
