"""Predicted vs measured GPU kernels: the data behind docs/gpu.md and its calibration.

Measurements come from ``docs/gpu/measure_gpu.py`` run on a real GPU and are stored with their date,
device, driver and library versions in ``sim/families/gpu/data/measured/``. Each record is predicted
by the ``gpu`` family exactly as a workload op would be (plan + event engine), so the validation
exercises the code users run.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from sim.core.paths import PROJECT_ROOT
from sim.simulation.arch import Arch, load_arch
from sim.core.engine import Engine
from sim.core.ops import Attention, Elementwise, Gemm

MEASURED = Path(__file__).resolve().parent / "data" / "measured"
H100_MEASURED = MEASURED / "h100_sxm.json"
#: GEMM shapes whose kernels calibrate the model; every other record is held out
CALIBRATION_SHAPES = ("qkv", "down", "peak")
#: other records used for calibration: (group, key, value)
CALIBRATION_OTHER = (("elementwise", "op", "rmsnorm"),
                     ("attention_decode", "kv_len", 512), ("attention_prefill", "q_len", 2048))


@dataclass(frozen=True)
class Case:
    """One measured kernel: what it is, the op that models it, measured seconds."""

    group: str
    label: str
    op: object
    measured: float
    calibration: bool


def load_measurements(path: Path = H100_MEASURED) -> dict:
    with open(path) as fh:
        return json.load(fh)


def _calibrates(group: str, rec: dict) -> bool:
    if group == "gemm":
        return rec["shape"] in CALIBRATION_SHAPES
    return any(g == group and (key is None or rec.get(key) == value)
               for g, key, value in CALIBRATION_OTHER)


def cases(data: dict) -> list[Case]:
    """Every measured kernel as a :class:`Case` (FP8 GEMMs below M = 16 ran padded to 16)."""
    out = []
    for r in data["gemm"]:
        bits = 8 if r["dtype"] == "fp8" else 16
        op = Gemm(r["shape"], 0, "linear", m=r["m_run"], n=r["n"], k=r["k"], a_bits=bits,
                  b_bits=bits, c_bits=16, param_elems=r["k"] * r["n"])
        out.append(Case("gemm", f"{r['dtype']} {r['shape']} M={r['m']}", op, r["seconds"],
                        _calibrates("gemm", r)))
    c = data["copy"]
    half = c["bytes_read_plus_written"] // 2
    out.append(Case("copy", "device copy 1 GiB", Elementwise("copy", 0, "copy", "copy", half // 2,
                                                             in_elems=half // 2,
                                                             out_elems=half // 2),
                    c["seconds"], _calibrates("copy", c)))
    for r in data["attention_decode"]:
        op = Attention("attention", 0, "attention", r["heads"] * r["batch"], 1, 1, r["kv_len"],
                       r["head_dim"])
        out.append(Case("attention_decode", f"decode attention kv={r['kv_len']}", op,
                        r["seconds"], _calibrates("attention_decode", r)))
    for r in data["attention_prefill"]:
        op = Attention("attention", 0, "attention", r["heads"] * r["batch"], 1, r["q_len"],
                       r["kv_len"], r["head_dim"], causal=r["causal"])
        out.append(Case("attention_prefill", f"prefill attention s={r['q_len']}", op,
                        r["seconds"], _calibrates("attention_prefill", r)))
    for r in data["elementwise"]:
        kind = "silu_mul" if r["op"].startswith("silu_mul") else r["op"]
        n = r["elements"]
        ins = {"add": 2 * n, "silu_mul": 2 * n}.get(kind, n)
        params = n if kind == "rmsnorm" else 0
        op = Elementwise(r["op"], 0, "elementwise", kind, n, in_elems=ins, out_elems=n,
                         param_elems=params, param_read_elems=params)
        out.append(Case("elementwise", f"{r['op']} [{n}]", op, r["seconds"],
                        _calibrates("elementwise", r)))
    return out


def predictions(arch: Arch, all_cases: list[Case]) -> list[tuple[Case, float]]:
    """(case, predicted seconds): each op planned and run alone by the event engine, as one
    kernel of a CUDA graph."""
    family = arch.family
    ctx = family.prepare(arch.cfg, arch.file)
    out = []
    for case in all_cases:
        engine = Engine(family.channel(ctx), family.units(ctx))
        timing = engine.run([family.plan(ctx, case.op)])[0]
        out.append((case, timing.cycles / arch.cfg.tech.frequency))
    return out


def errors(pairs) -> list[float]:
    """Signed relative errors (predicted / measured - 1)."""
    return [pred / case.measured - 1 for case, pred in pairs]


def median_abs(values) -> float:
    v = sorted(abs(x) for x in values)
    if not v:
        return math.nan
    mid = len(v) // 2
    return v[mid] if len(v) % 2 else 0.5 * (v[mid - 1] + v[mid])


def decode_step_pairs(arch: Arch, data: dict) -> list[tuple[dict, float]]:
    """(measured record, predicted seconds) of each measured LLaMA-7B decode step whose
    kernels match the op graph (``variant: fused``)."""
    from sim.simulation.simulate import simulate
    out = []
    for r in data["decode_step"]:
        if r.get("variant", "fused") != "fused":
            continue  # the op graph fuses RoPE with the KV append, as the "fused" step does
        rep = simulate(arch, "llama7b_decode", [f"workload.context_len={r['context_len']}",
                                                f"workload.batch={r['batch']}"])
        out.append((r, rep.seconds))
    return out


def default_arch(overrides=()) -> Arch:
    return load_arch(PROJECT_ROOT / "arch_configs" / "h100.yaml",
                     list(overrides))
