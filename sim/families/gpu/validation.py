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


def copy_op(read_plus_written: int) -> Elementwise:
    """A device-to-device copy of ``read_plus_written / 2`` bytes, as BF16 elements."""
    elems = read_plus_written // 4
    return Elementwise("copy", 0, "copy", "copy", elems, in_elems=elems, out_elems=elems)


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
    out.append(Case("copy", "device copy 1 GiB", copy_op(c["bytes_read_plus_written"]),
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


# ---- energy ------------------------------------------------------------------------------------

H200_ENERGY = MEASURED / "h200_energy.json"
#: energy components of a kernel and the config constant each is linear in
ENERGY_CONSTANTS = {"sm_active": "energy.active_w", "tensor_16": "energy.pj_per_mac_16",
                    "tensor_8": "energy.pj_per_mac_8", "cuda_cores": "energy.pj_per_cuda_op",
                    "l2": "energy.pj_per_l2_byte"}


@dataclass(frozen=True)
class EnergyCase:
    """One kernel measured with the board's energy counter: the op that models it, the workload
    phase it belongs to, measured seconds and joules per launch, measured board power."""

    label: str
    kind: str
    op: object
    phase: str
    seconds: float
    joules: float
    watts: float
    calibration: bool
    bits: int = 16


def energy_cases(data: dict) -> list[EnergyCase]:
    """Every measured kernel of ``h200_energy.json``. The calibration half: the qkv, down and peak
    GEMMs (BF16 and FP8, every M) and every other attention, element-wise and copy record in
    file order; the gate_up GEMMs and the rest are held out."""
    out, seen = [], {}
    for r in data["kernels"]:
        kind = r["kind"]
        nth = seen[kind] = seen.get(kind, -1) + 1
        bits = 8 if r.get("dtype") == "fp8" else 16
        if kind == "gemm":
            op = Gemm(r["shape"], 0, "linear", m=r["m_run"], n=r["n"], k=r["k"], a_bits=bits,
                      b_bits=bits, c_bits=16, param_elems=r["k"] * r["n"])
            label, calib = f"{r['dtype']} {r['shape']} M={r['m']}", r["shape"] != "gate_up"
        elif kind.startswith("attention"):
            decode = kind == "attention_decode"
            group = r["heads"] // r["kv_heads"]
            op = Attention("attention", 0, "attention", r["kv_heads"] * r["batch"], group,
                           1 if decode else r["q_len"], r["kv_len"], r["head_dim"],
                           causal=r.get("causal", False))
            label = (f"{'decode' if decode else 'prefill'} attention b{r['batch']} "
                     f"{r['heads']}/{r['kv_heads']} heads kv={r['kv_len']}")
            calib = nth % 2 == 0
        elif kind == "elementwise":
            n = r["elements"]
            # add(x, x) and rmsnorm read one tensor; silu_mul reads two
            ins = 2 * n if r["op"] == "silu_mul" else n
            params = 4096 if r["op"] == "rmsnorm" else 0
            op = Elementwise(r["op"], 0, "elementwise", r["op"], n, in_elems=ins, out_elems=n,
                             param_elems=params, param_read_elems=params)
            label, calib = f"{r['op']} [{n:,}]", nth % 2 == 0
        else:  # copy: 1 GiB read and written
            op, label, calib = copy_op(r["bytes_read_plus_written"]), "device copy 1 GiB", True
        out.append(EnergyCase(label, kind, op, "prefill" if kind == "attention_prefill"
                              else "decode", r["seconds"], r["joules"], r["watts"], calib, bits))
    return out


def kernel_report(arch: Arch, case: EnergyCase):
    """The report of one kernel run alone, as one op of a workload of its phase (no invariant
    checks: a lone kernel is not a whole model)."""
    import dataclasses

    from sim.simulation.simulate import load_workload, simulate
    base = load_workload(f"llama7b_{case.phase}", arch)
    lone = dataclasses.replace(base, name=case.label, ops=(case.op,), closed_form_macs=None)
    return simulate(arch, lone, check=False)


def energy_features(arch_path: Path, all_cases: list[EnergyCase]) -> list[dict]:
    """Per case: each energy component of the kernel when every calibrated constant is 1 (1 W,
    1 pJ), with the power limit lifted; the kernel's energy is linear in the constants, so
    ``E = fixed + sum(constant x feature)``. ``fixed`` is the board idle and DRAM energy."""
    unit = [f"{key}=1" for key in dict.fromkeys(ENERGY_CONSTANTS.values())]
    arch = load_arch(arch_path, unit + ["power.limit_w=1e9 W"])
    out = []
    for case in all_cases:
        r = kernel_report(arch, case)
        b = r.energy_breakdown
        tensor = "tensor_8" if case.bits <= 8 else "tensor_16"
        out.append({"seconds": r.seconds, "fixed": b["idle"] + b["dram"],
                    "sm_active": b["sm_active"], tensor: b["tensor"],
                    "cuda_cores": b["cuda_cores"], "l2": b["l2"]})
    return out


def steps(data: dict) -> list[dict]:
    """The measured whole steps that ran (``h200_energy.json``)."""
    return [s for s in data["steps"] if "seconds" in s]


def step_report(arch: Arch, step: dict):
    """The simulated counterpart of one measured step."""
    from sim.simulation.simulate import simulate
    size = (f"workload.context_len={step['context_len']}" if step["phase"] == "decode"
            else f"workload.prompt_len={step['prompt_len']}")
    return simulate(arch, f"{step['model']}_{step['phase']}",
                    [f"workload.batch={step['batch']}", size])
