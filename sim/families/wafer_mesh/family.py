"""Wafer-scale 2D mesh of cores with local SRAM (WaferLLM on the Cerebras WSE-2, OSDI'25).

Weights and the KV cache live in the cores' SRAM (no DRAM). Each phase runs on a square sub-mesh
(``mesh.prefill_side`` / ``mesh.decode_side`` cores a side, WaferLLM's autotuned choice); layers are
placed on successive regions and a token visits them in turn, so an op's time is its time on one
region. GEMMs (``m > 1``) take ``algorithms.gemm``, GEMVs (``m == 1``) ``algorithms.gemv``
(:mod:`sim.families.wafer_mesh.mesh`, links and contention in
:mod:`sim.families.wafer_mesh.kernel`). Attention products are mapped as WaferLLM's single-head
surrogate (heads x d_k as one dimension). Element-wise ops are a local vector pass plus, for norms
and softmax, scalar allreduces. Energy is reported two ways: bottom-up (MACs, SRAM, wavelet-hops,
leakage) and the paper's device power x time (``report.extras``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.core.components import TECH, VECTOR_OPS_PER_ELEMENT
from sim.core.config import Config, Field, Section
from sim.core.costs import Price
from sim.core.errors import where
from sim.core.family import AreaItem, Family, OpPlan, register_family
from sim.families.wafer_mesh.mesh import (GEMM_ALGORITHMS, GEMV_ALGORITHMS, ROUTES, Fabric,
                                          allreduce, gemm, gemv)
from sim.memory.system import param_bytes
from sim.core.ops import Elementwise, Gemm
from sim.core.units import format_bytes

#: energy of one element-wise vector step relative to a MAC (assumption: one arithmetic
#: operation and one operand read instead of a multiply, an add and two operand reads)
VECTOR_OP_VS_MAC = 0.5
#: scalar allreduces a norm or softmax needs across the region (mean/variance, max/sum)
REDUCTIONS = {"rmsnorm": 1, "layernorm": 2, "softmax": 2}

MESH = Section("The wafer's mesh and the sub-mesh each phase runs on", {
    "rows": Field("int", 750, "Usable core rows", minimum=2, maximum=4096,
                  source="WSE-2 SDK kernel rectangle 750 x 994 (Cerebras SDK docs; WaferLLM code)"),
    "cols": Field("int", 994, "Usable core columns", minimum=2, maximum=4096,
                  source="WSE-2 SDK kernel rectangle 750 x 994 (Cerebras SDK docs; WaferLLM code)"),
    "decode_side": Field("int", 360, "Cores a side of the square region a decode layer runs on "
                         "(at least 2: the algorithms exchange with neighbours)",
                         minimum=2, maximum=4096,
                         source="WaferLLM autotuning, LLaMA3-8B decode 360 x 360 (WaferLLM, OSDI'25)"),
    "prefill_side": Field("int", 660, "Cores a side of the region a prefill layer runs on "
                          "(at least 2)", minimum=2, maximum=4096,
                          source="WaferLLM autotuning, LLaMA3-8B prefill 660 x 660"),
    "powered_cores": Field("int", None, "Cores on the wafer's power grid and clock network, the "
                           "mesh's included (spares and the cores the SDK keeps for I/O draw "
                           "power too); null: the mesh's rows x cols", nullable=True, positive=True),
})

CORE = Section("One core", {
    "sram": Field("bytes", 48 * 1024, "Local SRAM", positive=True,
                  source="WSE-2: 48 KB per core, 40 GB total (Cerebras briefs; Hot Chips 34)"),
    "reserved": Field("bytes", 2 * 1024, "SRAM kept for code, buffers and stacks (not weights "
                      "or KV)", minimum=0, source="calibrated: LLaMA3-8B KV capacity with the "
                      "shift layout within 1 % of WaferLLM Table 5 (137,548 tokens)"),
    "simd": Field("int", 4, "FP16 MACs per cycle of a vector instruction", positive=True,
                  maximum=64, source="WSE-2 4-wide FP16 SIMD (Hot Chips 34)"),
    "vec_overhead": Field("int", 11, "Cycles per vector instruction (DSD / @map setup)",
                          minimum=0, source="calibrated: LLaMA3-8B 4K prefill on 600 x 600 "
                          "within 2 % of WaferLLM Table 3 (the other points validate)"),
    "pj_per_mac": Field("float", 1.1, "Energy of one FP16 MAC incl. operand SRAM reads",
                        unit="pJ", minimum=0, source="estimate: 30 mW peak per core at 1.1 GHz "
                        "= 27 pJ per cycle (HC34) over 4 MACs, ~1/6 of it in the datapath"),
    "pj_per_byte_sram": Field("float", 0.6, "SRAM access energy", unit="pJ", minimum=0,
                              source="estimate: 7 nm 48 KB SRAM, ~0.6 pJ/B"),
    "area_mm2": Field("float", 0.038, "Core area incl. SRAM and router", unit="mm2",
                      positive=True, source="Hot Chips 34: 38,000 um^2 per core"),
    "idle_mw": Field("float", None, "Always-on power of one powered core whatever it computes "
                     "(leakage, clock tree, control, router), mW; static. When set it replaces "
                     "the leakage estimate (tech.leakage_w_per_mm2 x core area), which it "
                     "contains; null: leakage only", nullable=True, minimum=0),
})

FABRIC = Section("The on-wafer network", {
    "alpha": Field("int", 1, "Cycles per pass-through hop", positive=True,
                   source="Cerebras SDK docs: neighbours exchange a wavelet in one cycle"),
    "ramp": Field("int", 2, "Cycles between a core and its router, each way", minimum=0,
                  source="Luczynski et al. HPDC'24, T_R ~ 2 (secondary)"),
    "relay": Field("int", 16, "Cycles a software relay stage (receive, add, re-inject) adds",
                   positive=True, source="calibrated: LLaMA3-8B decode on 540 x 540 within 1 % "
                   "of WaferLLM Table 4; >= 2 ramp + 1 (Cerebras SDK docs; WaferLLM code)"),
    "elems_per_wavelet": Field("int", 1, "FP16 elements per 32-bit wavelet", positive=True,
                               maximum=2, source="WaferLLM kernels move 16-bit elements "
                               "(no public figure: assumption)"),
    "colors": Field("int", 24, "Routes (colours) a router holds", positive=True, maximum=1024,
                    source="WSE-2: 24 routable colours (Cerebras SDK docs)"),
    "step_sync": Field("int", 10, "Cycles per algorithm step to swap buffers and re-arm the "
                       "receives", minimum=0, source="assumption: one task activation"),
    "pj_per_wavelet_hop": Field("float", 3.2, "Energy to move one 32-bit wavelet one hop",
                                unit="pJ", minimum=0, source="WaferLLM Table 1: on-wafer "
                                "~0.1 pJ/bit x 32 bits"),
})

ALGORITHMS = Section("Distributed algorithm per op type", {
    "gemm": Field("enum", "meshgemm", "GEMMs (prefill)", choices=GEMM_ALGORITHMS),
    "gemv": Field("enum", "meshgemv", "GEMVs (decode)", choices=GEMV_ALGORITHMS),
    "gemv_groups": Field("int", 0, "MeshGEMV groups per line (0: about sqrt of the side)",
                         minimum=0, source="WaferLLM repo: 24 groups at 720 (WaferLLM artifact)"),
    "kv_layout": Field("enum", "shift", "KV cache: shift (spread over every core of the region) "
                       "or concat (only the last row's cores grow)", choices=("shift", "concat")),
})

ENERGY = Section("The paper's energy convention", {
    "device_power_w": Field("float", 15000.0, "Device power for energy = power x time",
                            unit="W", positive=True,
                            source="WSE-2 15 kW chip; WaferLLM's ratios imply 37.5 x A100 "
                                   "(Cerebras briefs; Hot Chips 34)"),
})

SCHEMA = Section("Wafer-scale mesh of cores with local SRAM", {
    "name": Field("str", "wafer_mesh", "Display name of this design point"),
    "description": Field("str", None, "Free text", nullable=True),
    "tech": TECH,
    "mesh": MESH,
    "core": CORE,
    "fabric": FABRIC,
    "algorithms": ALGORITHMS,
    "energy": ENERGY,
})


@dataclass
class Ctx:
    cfg: Config
    file: str | None
    fabric: Fabric
    decode: bool = False  # set from the workload's phase by check_workload

    @property
    def phase_side(self) -> int:
        """Cores a side of the region the workload's phase runs on."""
        m = self.cfg.mesh
        return m.decode_side if self.decode else m.prefill_side


@register_family
class WaferMesh(Family):
    kind = "wafer_mesh"
    description = "Wafer-scale 2D mesh of SRAM cores (WaferLLM on Cerebras WSE-2/3)"
    schema = SCHEMA
    energy_components = ("mac", "sram", "fabric")

    def check(self, cfg: Config, file: str | None) -> list[str]:
        out = []
        m = cfg.mesh
        for key in ("decode_side", "prefill_side"):
            side = m[key]
            if side > min(m.rows, m.cols):
                out.append(f"{where(file, 'mesh.' + key)}: {side} cores a side do not fit the "
                           f"{m.rows} x {m.cols} mesh; allowed: 2..{min(m.rows, m.cols)}")
        for key in ("gemm", "gemv"):
            alg = cfg.algorithms[key]
            if ROUTES[alg] > cfg.fabric.colors:
                out.append(f"{where(file, 'algorithms.' + key)}: {alg} needs {ROUTES[alg]} "
                           f"routes per router but fabric.colors is {cfg.fabric.colors}; allowed: "
                           f"{', '.join(a for a in ROUTES if ROUTES[a] <= cfg.fabric.colors)}")
        if cfg.core.reserved >= cfg.core.sram:
            out.append(f"{where(file, 'core.reserved')}: {cfg.core.reserved} B leaves no SRAM "
                       f"of {cfg.core.sram} B; allowed: less than core.sram")
        if m.powered_cores is not None and m.powered_cores < m.rows * m.cols:
            out.append(f"{where(file, 'mesh.powered_cores')}: {m.powered_cores:,} is fewer than "
                       f"the mesh's {m.rows * m.cols:,} cores (rows x cols); allowed: at least "
                       "rows x cols, or null")
        return out

    def prepare(self, cfg: Config, file: str | None) -> Ctx:
        f, c = cfg.fabric, cfg.core
        fab = Fabric(f.alpha, f.ramp, f.relay, f.elems_per_wavelet, c.simd, c.vec_overhead,
                     f.step_sync)
        return Ctx(cfg, file, fab)

    def channel(self, ctx):
        return None  # weights and KV cache live in the cores' SRAM

    def units(self, ctx) -> list[str]:
        return ["mesh"]

    # ---- capacity ----------------------------------------------------------------------------
    def kv_capacity_tokens(self, ctx, workload) -> int:
        """Tokens of KV cache the wafer holds beside the weights (shift: every core of the
        decode region grows; concat: only its last row)."""
        cfg = ctx.cfg
        m = workload.model
        cores = cfg.mesh.rows * cfg.mesh.cols
        free = cores * (cfg.core.sram - cfg.core.reserved) - _weight_bytes(workload)
        per_token = 2 * m.layers * m.n_kv * m.hd * workload.cfg.kv_bits // 8  # K and V
        tokens = max(0, free) // per_token
        if cfg.algorithms.kv_layout == "concat":
            tokens //= cfg.mesh.decode_side
        return int(tokens)

    def check_workload(self, ctx, workload) -> list[str]:
        cfg = ctx.cfg
        ctx.decode = workload.cfg.phase == "decode"
        cores = cfg.mesh.rows * cfg.mesh.cols
        usable = cores * (cfg.core.sram - cfg.core.reserved)
        weights = _weight_bytes(workload)
        name = workload.source_file or "workload " + workload.name
        if weights > usable:
            return [f"{where(ctx.file, 'mesh.rows')}: {workload.name} needs "
                    f"{format_bytes(weights)} of weights but {cores} cores hold "
                    f"{format_bytes(usable)} beside core.reserved; allowed: a larger mesh or "
                    f"core.sram, or a smaller model"]
        w = workload.cfg
        cap = self.kv_capacity_tokens(ctx, workload)
        if workload.kv_tokens > cap:
            key = "context_len" if w.phase == "decode" else "prompt_len"
            return [f"{where(name, key)}: {workload.kv_tokens} tokens of KV cache (batch "
                    f"{w.batch}) exceed the {cap} tokens the wafer holds "
                    f"with kv_layout {cfg.algorithms.kv_layout}; allowed: <= {cap} tokens"]
        return []

    # ---- mapping ----------------------------------------------------------------------------

    def plan(self, ctx, op) -> OpPlan:
        p = ctx.phase_side
        a = ctx.cfg.algorithms
        if isinstance(op, Gemm):
            m, k, n = _surrogate(op, ctx.decode)
            if m == 1:
                t = gemv(a.gemv, k, n, p, ctx.fabric, a.gemv_groups or None)
                what = a.gemv
            else:
                t = gemm(a.gemm, m, k, n, p, ctx.fabric)
                what = a.gemm
            return self._plan(ctx, op.macs, t.cycles, t.wavelet_hops,
                              (op.a_bytes + op.b_bytes, op.c_bytes), p,
                              f"{what} on {p}x{p}: {t.detail}")
        if isinstance(op, Elementwise):
            per_core = -(-op.elements // (p * p))
            work = per_core * VECTOR_OPS_PER_ELEMENT[op.op]
            comp = -(-work // ctx.fabric.simd) + ctx.fabric.vec_overhead
            reductions = REDUCTIONS.get(op.op, 0)
            t, hops = comp, 0
            for _ in range(reductions):
                t, h = allreduce(a.gemv, p, 1, ctx.fabric, t, a.gemv_groups or None)
                hops += h * p
            sram = (op.in_bytes + op.param_read_bytes, op.out_bytes + op.kv_write_bytes)
            plan = self._plan(ctx, 0, max(t, 1), hops, sram, p,
                              f"{per_core} elements per core, {reductions} scalar allreduces")
            plan.vector_ops = op.elements * VECTOR_OPS_PER_ELEMENT[op.op]
            plan.energy_pj["mac"] = plan.vector_ops * ctx.cfg.core.pj_per_mac * VECTOR_OP_VS_MAC
            return plan
        raise TypeError(f"wafer_mesh cannot map {type(op).__name__}")

    def _plan(self, ctx, macs, cycles, hops, sram_bytes, side, mapping) -> OpPlan:
        """One op on ``side`` x ``side`` cores; ``sram_bytes`` = (read, write) of the cores'
        SRAM, where weights and the KV cache live."""
        c, f = ctx.cfg.core, ctx.cfg.fabric
        peak = side * side * c.simd
        read, write = sram_bytes
        energy = {"mac": macs * c.pj_per_mac, "sram": (read + write) * c.pj_per_byte_sram,
                  "fabric": hops * f.pj_per_wavelet_hop}
        return OpPlan("mesh", np.array([1]), np.array([0]), np.array([int(cycles)]),
                      np.array([0]), int(macs), float(peak), max(1, -(-int(macs) // peak)),
                      energy, sram_read_bytes=int(read), sram_write_bytes=int(write),
                      mapping=mapping)

    def compulsory_levels(self, ctx) -> dict[str, tuple[str, ...]]:
        """Weights and the KV cache live in the cores' SRAM; there is no DRAM."""
        return {"weights": ("sram_read",), "kv_read": ("sram_read",),
                "kv_write": ("sram_write",)}

    # ---- report, area, power ----------------------------------------------------------------
    def report_extras(self, ctx, report) -> dict:
        power = ctx.cfg.energy.device_power_w
        return {"phase_side": ctx.phase_side,
                "energy_paper_convention_joules": power * report.seconds,
                "energy_paper_convention": f"device power {power:.0f} W x time "
                                           "(WaferLLM's method)",
                "energy_bottom_up_joules": report.energy_joules,
                "algorithms": {"gemm": ctx.cfg.algorithms.gemm, "gemv": ctx.cfg.algorithms.gemv}}

    def area(self, ctx) -> dict[str, AreaItem]:
        m, c = ctx.cfg.mesh, ctx.cfg.core
        cores = m.rows * m.cols
        return {"cores": AreaItem(cores * c.area_mm2, ("config: core.area_mm2",),
                                  f"{cores} cores of {c.area_mm2} mm2 (SRAM, logic, router)")}

    def static_power(self, ctx, area_mm2: float) -> dict[str, Price]:
        """Static power of every powered core: the layers' weights and KV cache stay in the SRAM
        of all the regions for the whole run, so the whole wafer is powered, not only the region
        that computes. ``core.idle_mw`` per core where given (clocks, control and routers
        included), else the leakage of the cores' area."""
        c, m = ctx.cfg.core, ctx.cfg.mesh
        powered = m.powered_cores or m.rows * m.cols
        if c.idle_mw is not None:
            return {"idle": Price(powered * c.idle_mw * 1e-3,
                                  (f"config: core.idle_mw x {powered} powered cores",))}
        return {"leakage": Price(ctx.cfg.tech.leakage_w_per_mm2 * powered * c.area_mm2,
                                 (f"config: tech.leakage_w_per_mm2 x {powered} cores' area",))}

    def power_limit_w(self, ctx) -> float:
        return ctx.cfg.energy.device_power_w

    def pricing(self, ctx) -> dict[str, list[str]]:
        c, f = ctx.cfg.core, ctx.cfg.fabric
        return {"mac": [f"{c.pj_per_mac} pJ/MAC ({CORE.fields['pj_per_mac'].source})"],
                "sram": [f"{c.pj_per_byte_sram} pJ/B ({CORE.fields['pj_per_byte_sram'].source})"],
                "fabric": [f"{f.pj_per_wavelet_hop} pJ per wavelet-hop "
                           f"({FABRIC.fields['pj_per_wavelet_hop'].source})"]}


def _surrogate(op: Gemm, decode: bool) -> tuple[int, int, int]:
    """(m, k, n) of the op as one distributed product with the same MACs: attention heads (and
    the query heads sharing a KV head) folded into the head dimension, WaferLLM's single-head
    surrogate; in decode every product is a GEMV."""
    if op.b_source != "kv":
        return op.m * op.count, op.k, op.n
    qk = op.name.startswith("attn_qk")
    if decode:
        return (1, op.m * op.k * op.count, op.n) if qk else (1, op.k, op.m * op.n * op.count)
    return (op.m, op.k * op.count, op.n) if qk else (op.m, op.k, op.n * op.count)


def _weight_bytes(workload) -> int:
    return sum(param_bytes(op) for op in workload.ops)


__all__ = ["WaferMesh"]
