"""LUT tensor cores for low-bit mixed-precision GEMM, against MAC tensor cores: ``kind: lut_tc``.

A chip of ``chip.clusters`` clusters (GPU SMs), each with ``lut.units`` LUT units and
``mac.units`` MAC tensor-core units, shares a vector unit (CUDA cores), SRAM and DRAM.

* **LUT unit** (Mo et al., ISCA'25, LUT Tensor Core): an M x N x K tile (M2N64K4 by default)
  of 2^(K-1)-entry tables (after symmetrization), one weight bit-plane per pass, so an LMMA
  takes W cycles for W-bit weights. Weight GEMMs run here when the weights fit
  ``lut.weight_bits``. Tables come from a precompute op (the DFG split):

  - ``fused`` into the element-wise op that produces the GEMM's input (norm, activation), or a
    separate op where no such producer exists;
  - ``separate``: its own vector op, reading the activations;
  - ``in_unit``: built inside every unit (UNPU-style; the adders cost area and energy);
  - ``ideal``: free (an ablation bound).

  GEMMs that share one input (q/k/v, gate/up) share its tables.
* **MAC unit**: a tensor core of ``mac.format`` (FP16 / INT8 / FP8) doing an M x N x K MMA per
  cycle. It runs the KV-cache GEMMs, and the weight GEMMs when there are no LUT units;
  narrower weights are dequantised on the vector lanes first (dequantize-then-MAC).
* Without MAC units, KV-cache GEMMs run on the vector lanes as FMAs.

Timing: blocks of ``block_m`` x ``block_n`` outputs dealt to clusters, each block's k-loop pipelined
over the cluster's operand port (:mod:`sim.families.lut_tc.kernel`, proven exact by
:mod:`sim.families.lut_tc.reference`). Weights and the activations or tables stream from DRAM once
per op. Area and energy: :mod:`sim.families.lut_tc.unit`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.core.components import POWER, TECH, VECTOR, VECTOR_OPS_PER_ELEMENT, sram_section, sram_word_bytes
from sim.core.config import Config, Field, Section
from sim.core.costs import CostModel, Price, source_of
from sim.core.engine import coalesce, followed_by_gap
from sim.core.errors import ConfigError, where
from sim.core.units import ns_to_cycles
from sim.core.family import AreaItem, Family, OpPlan, memory_and_vector_area, register_family
from sim.families.lut_tc.unit import FORMATS, LutDesign, UnitCost, lut_unit_cost, mac_unit_cost
from sim.families.lut_tc import kernel as K
from sim.memory import DRAM, DramSystem
from sim.memory.sram import SramBuffer, source as sram_source
from sim.core.ops import Elementwise, Gemm, TableBuild, bits_to_bytes
from sim.core.vector_unit import plan_stream, plan_vector, precision_problems

PRECOMPUTE = ("fused", "separate", "in_unit", "ideal")


def block_fields(m: int, n: int, k: int, source: str) -> dict[str, Field]:
    """The block (thread-block) tile a kernel steps through: outputs per block and k-step."""
    return {"block_m": Field("int", m, "Block (thread-block) tile rows", positive=True,
                             source=source),
            "block_n": Field("int", n, "Block tile columns", positive=True, source=source),
            "block_k": Field("int", k, "Block k-step", positive=True, source=source)}

CHIP = Section("Clusters (GPU SMs) sharing the vector unit, SRAM and DRAM", {
    "clusters": Field("int", 108, "Clusters; blocks of a GEMM are dealt to them greedily",
                      positive=True, maximum=100000, source="NVIDIA A100 whitepaper: 108 SMs"),
    "port_bits": Field("int", 1024, "Operand bits per cycle a cluster delivers to its units "
                       "(shared memory / register file); also carries block results out",
                       unit="bits", positive=True,
                       source="NVIDIA A100 whitepaper: shared memory 128 B/clock per SM"),
    "launch_overhead": Field("time", 0.0, "Gap and ramp-up per kernel (every op is one kernel, "
                             "a fused table build included); 0: ops run back to back",
                             minimum=0),
})

LUT = Section("LUT tensor-core units (LUT Tensor Core, ISCA'25)", {
    "units": Field("int", 16, "LUT units per cluster (0: none)", minimum=0, maximum=4096,
                   source="LUT Tensor Core ISCA'25 Table 1 A100-LUT-4X: 4 TCs x 4 x 512 slots "
                          "= 16 M2N64K4 units per SM"),
    "tile_m": Field("int", 2, "Activation rows per LMMA (tables held)", positive=True,
                    maximum=64),
    "tile_n": Field("int", 64, "Weight columns per LMMA (table broadcast width)",
                    positive=True, maximum=1024),
    "tile_k": Field("int", 4, "Activations per table", positive=True, maximum=8,
                    source="LUT Tensor Core ISCA'25 Fig. 14: elongated M2N64K4"),
    "weight_bits": Field("int", 4, "Widest weight (bit-plane passes) the unit takes",
                         unit="bits", minimum=1, maximum=8),
    "native_weight_bits": Field("int", 2, "Weight precision of workloads that leave it null",
                                unit="bits", minimum=1, maximum=8),
    "act_format": Field("enum", "fp16", "Widest activation format", choices=tuple(FORMATS)),
    "lut_bits": Field("int", 8, "Table-entry width: 8 = INT8 table quantization; null = exact "
                      "(integer sums, or FP16 for FP activations)", unit="bits", nullable=True,
                      minimum=2, maximum=32),
    "acc_bits": Field("int", 16, "Integer psum width in the unit", unit="bits", minimum=8,
                      source="released RTL fp_lut_array_b_cycle_stage1.sv: 16-bit (FP16) psum",
                      maximum=64),
    "symmetric": Field("bool", True, "Table symmetrization: 2^(K-1) entries and a negate"),
    "negation": Field("enum", "offline", "'offline': weights pre-inverted, unit only negates; "
                      "'circuit': per-unit index-negation XORs", choices=("offline", "circuit")),
    "precompute": Field("enum", "fused", "Where tables are built", choices=PRECOMPUTE),
    "latency": Field("int", 2, "Unit pipeline depth paid once per block", unit="cycles",
                     source="released RTL fp_lut_array_b_cycle_stage2.sv: two register stages",
                     minimum=0),
    "efficiency": Field("float", 1.0, "Sustained fraction of the units' peak issue rate a real "
                        "kernel reaches (issue, bank and synchronisation stalls), for activations "
                        "wider than 8 bits; 1: the units never wait", positive=True, maximum=1.0),
    "efficiency_8": Field("float", 1.0, "As efficiency, for 8-bit (or narrower) activations",
                          positive=True, maximum=1.0),
    **block_fields(128, 512, 32, "LUT Tensor Core ISCA'25: W_INT1 A_INT8 thread-block tile "
                   "[128, 512, 32]"),
})

MAC = Section("MAC tensor-core units", {
    "units": Field("int", 4, "MAC units per cluster (0: none)", minimum=0, maximum=4096),
    "tile_m": Field("int", 8, "MMA rows per cycle", positive=True, maximum=256),
    "tile_n": Field("int", 4, "MMA columns per cycle", positive=True, maximum=256),
    "tile_k": Field("int", 8, "MMA depth per cycle", positive=True, maximum=256,
                    source="A100: 256 FP16 FMA per TC per clock (312 TFLOPS = 432 TCs x 256 x "
                           "2 x 1.41 GHz)"),
    "format": Field("enum", "fp16", "Operand format (accumulate FP32 / INT32)",
                    choices=("fp16", "int8", "fp8")),
    "dequant_ops": Field("int", 2, "Vector ops to dequantise one narrower weight (unpack + "
                         "scale)", minimum=0, maximum=64,
                         source="estimate: one shift-and-mask unpack plus one scale "
                                "multiply-add per weight"),
    "latency": Field("int", 4, "Unit pipeline depth paid once per block", unit="cycles",
                     source="estimate: multiplier, adder tree and accumulator stages",
                     minimum=0),
    "efficiency": Field("float", 1.0, "Sustained fraction of the units' peak MMA issue rate a "
                        "real kernel reaches; 1: the units never wait", positive=True,
                        maximum=1.0),
    **block_fields(128, 256, 32, "CUTLASS default FP16 tensor-op thread-block tile "
                   "128x256x32"),
})

SCHEMA = Section("LUT / MAC tensor-core chip", {
    "name": Field("str", "lut_tc", "Display name of this design point"),
    "description": Field("str", None, "Free text", nullable=True),
    "tech": TECH,
    "chip": CHIP,
    "lut": LUT,
    "mac": MAC,
    "sram": sram_section("On-chip SRAM (L2 / shared memory) buffers",
                         {"act": 20 * 2**20, "weight": 16 * 2**20, "out": 4 * 2**20}),
    "vector": VECTOR,
    "dram": DRAM,
    "power": POWER,
})


@dataclass
class Ctx:
    cfg: Config
    file: str | None
    costs: CostModel
    channel: DramSystem
    design: LutDesign
    lut: UnitCost | None
    mac: UnitCost | None
    resident_bytes: int
    fma_e: Price
    fma_a: Price
    sram: dict[str, SramBuffer]
    sram_rd: dict[str, Price]
    sram_wr: dict[str, Price]
    launch_cycles: int = 0


@dataclass(frozen=True)
class Path:
    """How a GEMM runs: on which units, with which kernel arguments."""

    unit: str            # lut | mac | vector
    units: int           # per cluster
    tile: tuple[int, int, int]
    block: tuple[int, int, int]
    passes: int
    a_chunk_bits: int
    dq_ops: int
    latency: int
    eff_permille: int    # sustained issue rate, thousandths of the units' peak


def mac_operand_bits(cfg: Config) -> int:
    """Widest operand a MAC unit takes: its format, or 16 bits at half the 8-bit rate (the
    16-bit mode of the A100 / H100 tensor cores: 312 vs 624 dense TOPS, 989 vs 1979; datasheets)."""
    return max(FORMATS[cfg.mac.format][0], 16)


def permille(fraction: float) -> int:
    """A sustained fraction as the kernels' integer thousandths (at least 1)."""
    return max(1, round(fraction * 1000))


@register_family
class LutTc(Family):
    kind = "lut_tc"
    description = ("LUT tensor cores (LUT Tensor Core, ISCA'25) and MAC tensor cores "
                   "(FP16/INT8/FP8, dequantize-then-MAC) on GPU-like clusters")
    schema = SCHEMA
    energy_components = ("lut_units", "mac_units")

    # ---- configuration -------------------------------------------------------------------
    def check(self, cfg: Config, file: str | None) -> list[str]:
        lut, mac, out = cfg.lut, cfg.mac, []
        if lut.units == 0 and mac.units == 0:
            out.append(f"{where(file, 'lut.units')}: a chip needs LUT or MAC units; "
                       f"allowed: lut.units >= 1 or mac.units >= 1")
        if lut.units and FORMATS[lut.act_format][1] is not None and lut.lut_bits not in (None, 8, 16):
            out.append(f"{where(file, 'lut.lut_bits')}: FP activations build FP16 tables or "
                       f"INT8-quantized ones; allowed: 8, 16 or null")
        if lut.units and not lut.symmetric and lut.negation == "offline":
            out.append(f"{where(file, 'lut.negation')}: 'offline' index negation needs "
                       f"symmetric tables; allowed with symmetric: false: 'circuit'")
        if lut.native_weight_bits > lut.weight_bits:
            out.append(f"{where(file, 'lut.native_weight_bits')}: {lut.native_weight_bits} "
                       f"exceeds lut.weight_bits={lut.weight_bits}; allowed: <= {lut.weight_bits}")
        if cfg.vector.lanes < cfg.chip.clusters:
            out.append(f"{where(file, 'vector.lanes')}: {cfg.vector.lanes} lanes cannot give each "
                       f"of {cfg.chip.clusters} clusters one; allowed: >= {cfg.chip.clusters}")
        return out

    def native_bits(self, cfg: Config) -> dict[str, int]:
        if cfg.lut.units:
            return {"weight_bits": cfg.lut.native_weight_bits,
                    "act_bits": FORMATS[cfg.lut.act_format][0]}
        bits = FORMATS[cfg.mac.format][0]
        return {"weight_bits": bits, "act_bits": bits}

    def check_workload(self, ctx: Ctx, workload) -> list[str]:
        cfg = ctx.cfg
        mac = (mac_operand_bits(cfg), "mac.format")
        if cfg.lut.units:
            limits = {"weight_bits": (cfg.lut.weight_bits, "lut.weight_bits"),
                      "act_bits": (FORMATS[cfg.lut.act_format][0], "lut.act_format")}
        else:
            limits = {"weight_bits": mac, "act_bits": mac}
        if cfg.mac.units:
            limits.update(kv_bits=mac, attention_bits=mac)
        return precision_problems(workload, ctx.file, limits)

    def prepare(self, cfg: Config, file: str | None) -> Ctx:
        t, lut, mac = cfg.tech, cfg.lut, cfg.mac
        costs = CostModel(t.node_nm, t.vdd)
        fma_e, fma_a = costs.fp32_fma()
        design = lut_design(cfg)
        sram = sram_buffers(cfg)
        return Ctx(cfg, file, costs, DramSystem(cfg.dram, file, t.frequency), design,
                   lut_unit_cost(design, t.node_nm, t.vdd) if lut.units else None,
                   mac_unit_cost(mac.tile_m, mac.tile_n, mac.tile_k, mac.format, t.node_nm, t.vdd)
                   if mac.units else None,
                   int(cfg.sram.act // 2), fma_e, fma_a, sram,
                   {b: buf.read_pj_per_bit(costs) for b, buf in sram.items()},
                   {b: buf.write_pj_per_bit(costs) for b, buf in sram.items()},
                   ns_to_cycles(cfg.chip.launch_overhead, t.frequency))

    def units(self, ctx: Ctx) -> list[str]:
        return ["lut", "mac", "vector"]

    # ---- the DFG split: table precompute ops ---------------------------------------------
    def lower(self, ctx: Ctx, ops: tuple) -> tuple:
        mode = ctx.cfg.lut.precompute
        if not ctx.cfg.lut.units or mode in ("in_unit", "ideal"):
            return ops
        out: list = []
        shared = None  # (layer, m, k, count) whose tables the previous LUT GEMM built
        for op in ops:
            if not (isinstance(op, Gemm) and self._path(ctx, op).unit == "lut"):
                out.append(op)
                shared = None
                continue
            key = (op.layer, op.m, op.k, op.count)
            if key != shared:
                out.append(self._table_op(ctx, op, out))
                shared = key
            out.append(op)
        return tuple(out)

    def _table_op(self, ctx: Ctx, op: Gemm, out: list) -> TableBuild:
        """The precompute of ``op``'s tables: fused into the op before it when that is an
        element-wise op producing exactly ``op``'s input (the op is then replaced)."""
        d = ctx.design
        tables = op.count * op.m * -(-op.k // d.tile_k)
        producer = out[-1] if out else None
        fuse = (ctx.cfg.lut.precompute == "fused" and isinstance(producer, Elementwise)
                and producer.out_elems == op.count * op.m * op.k)
        if fuse:
            out.pop()
        return TableBuild(f"{producer.name}+tables" if fuse else f"{op.name}.tables", op.layer,
                          producer.role if fuse else op.role, op.count * op.m, op.k, tables,
                          d.entries, d.entry_bits, table_ops(d), op.a_bits,
                          producer if fuse else None)

    # ---- mapping ---------------------------------------------------------------------------
    def _path(self, ctx: Ctx, op: Gemm) -> Path:
        cfg = ctx.cfg
        lut, mac = cfg.lut, cfg.mac
        if op.b_source == "weight" and lut.units and op.b_bits <= lut.weight_bits:
            d = ctx.design
            eff = lut.efficiency_8 if op.a_bits <= 8 else lut.efficiency
            return Path("lut", lut.units, (lut.tile_m, lut.tile_n, lut.tile_k),
                        (lut.block_m, lut.block_n, lut.block_k), op.b_bits,
                        d.entries * d.entry_bits, 0, lut.latency, permille(eff))
        if mac.units:
            bits = FORMATS[mac.format][0]
            dq = mac.dequant_ops if (op.b_source == "weight" and op.b_bits < bits) else 0
            wide = max(op.a_bits, op.b_bits, bits)  # 16-bit MMAs on an 8-bit unit: two passes
            return Path("mac", mac.units, (mac.tile_m, mac.tile_n, mac.tile_k),
                        (mac.block_m, mac.block_n, mac.block_k), -(-wide // bits),
                        mac.tile_k * max(bits, op.a_bits), dq, mac.latency,
                        permille(mac.efficiency))
        lanes = cfg.vector.lanes // cfg.chip.clusters  # FMAs on the vector lanes
        return Path("vector", lanes, (1, 1, 1), (mac.block_m, mac.block_n, mac.block_k), 1,
                    32, 0, cfg.vector.latency, 1000)

    def plan(self, ctx: Ctx, op) -> OpPlan:
        if isinstance(op, Gemm):
            plan = self._plan_gemm(ctx, op)
        elif isinstance(op, TableBuild):
            plan = self._plan_tables(ctx, op)
        elif isinstance(op, Elementwise):
            plan = plan_vector(op, ctx.cfg.vector, ctx.resident_bytes, ctx.channel,
                               ctx.fma_e.value, ctx.sram_rd["act"].value,
                               ctx.sram_wr["act"].value)
        else:
            raise TypeError(f"lut_tc family cannot map {type(op).__name__}")
        if ctx.launch_cycles:
            plan.mapping += f"; {ctx.launch_cycles}-cycle launch gap"
        return followed_by_gap(plan, ctx.launch_cycles)

    def _plan_gemm(self, ctx: Ctx, op: Gemm) -> OpPlan:
        cfg, p = ctx.cfg, self._path(ctx, op)
        clusters, port = cfg.chip.clusters, cfg.chip.port_bits
        (tm, tn, tk), (bm, bn, bk) = p.tile, p.block
        vlanes = cfg.vector.lanes // clusters
        _check_block_steps(ctx, op, p)
        bm, bn, split, wave_end, reduce = best_tiling(op, p, clusters, vlanes, port)
        makespan = int(wave_end[-1]) + reduce
        comp = np.diff(np.r_[0, wave_end])  # one tile per wave of blocks on the clusters
        if reduce:
            comp[-1] += reduce  # split-k partial sums added on the vector lanes
        blocks = op.count * split * -(-op.m // bm) * -(-op.n // bn)
        in_wave = np.full(len(comp), clusters, dtype=np.int64)
        in_wave[-1] = blocks - clusters * (len(comp) - 1)
        # A side: tables (LUT path with a precompute op) or activations
        uses_tables = p.unit == "lut" and cfg.lut.precompute in ("fused", "separate")
        a_bytes = (bits_to_bytes(op.count * op.m * -(-op.k // tk) * ctx.design.entries,
                                 ctx.design.entry_bits) if uses_tables else op.a_bytes)
        a_res = a_bytes <= ctx.resident_bytes
        c_res = op.c_bytes <= ctx.resident_bytes
        load_total = op.b_bytes + (0 if a_res else a_bytes)
        store_total = 0 if c_res else op.c_bytes
        waves = len(comp)
        # operands stream once per op, in proportion to the blocks of each wave
        counts, load_g, comp_g, store_g = coalesce(np.ones(waves, dtype=np.int64),
                                                   apportion(load_total, in_wave), comp,
                                                   apportion(store_total, in_wave))
        k_split = -(-op.k // split)
        ops = K.unit_ops(op.m, op.n, k_split, bm, bn, bk, tm, tn, tk) * op.count * split
        busy = ops * p.passes
        mb, nb = -(-op.m // bm), -(-op.n // bn)
        sram_rd = {"act": a_bytes * nb, "weight": op.b_bytes * mb, "out": 0 if c_res else op.c_bytes}
        sram_wr = {"act": 0 if a_res else a_bytes, "weight": op.b_bytes, "out": op.c_bytes}
        dq_ops = p.dq_ops * op.k * op.n * mb * op.count
        energy = {
            "lut_units": busy * ctx.lut.energy_pj if p.unit == "lut" else 0.0,
            "mac_units": busy * ctx.mac.energy_pj if p.unit == "mac" else 0.0,
            "vector": (dq_ops + (op.macs if p.unit == "vector" else 0)) * ctx.fma_e.value,
            "sram": 8 * sum(sram_rd[b] * ctx.sram_rd[b].value + sram_wr[b] * ctx.sram_wr[b].value
                            for b in sram_rd),
        }
        peak = clusters * p.units * tm * tn * tk / p.passes
        roofline = max(math.ceil(op.macs / peak), ctx.channel.peak_cycles(load_total + store_total))
        what = {"lut": f"LUT M{tm}N{tn}K{tk} x{p.units}, {p.passes} pass(es)/LMMA",
                "mac": f"{cfg.mac.format} MMA M{tm}N{tn}K{tk} x{p.units}"
                       + (f", dequant {p.dq_ops} ops/weight" if p.dq_ops else ""),
                "vector": f"{p.units} FMA lanes"}[p.unit]
        if p.eff_permille < 1000:
            what += f", issuing at {p.eff_permille / 10:g} % of peak"
        mapping = (f"{what}: {blocks} blocks of {bm}x{bn} (k-step {bk}"
                   f"{f', split-k {split}' if split > 1 else ''}) on {clusters} clusters "
                   f"in {waves} wave(s), {makespan} cycles; {'tables' if uses_tables else 'A'} "
                   f"{'on chip' if a_res else 'DRAM'}")
        return OpPlan(p.unit, counts, load_g, comp_g, store_g, op.macs, peak, roofline, energy,
                      sram_read_bytes=int(sum(sram_rd.values())),
                      sram_write_bytes=int(sum(sram_wr.values())), vector_ops=int(dq_ops),
                      mapping=mapping)

    def _plan_tables(self, ctx: Ctx, op: TableBuild) -> OpPlan:
        f = op.fused
        table_work = op.tables * op.ops_per_table
        if f is None:
            return plan_stream(op.rows * op.k, table_work, op.in_bytes, op.table_bytes, 0, 0,
                               ctx.cfg.vector, ctx.resident_bytes, ctx.channel, ctx.fma_e.value,
                               ctx.sram_rd["act"].value, ctx.sram_wr["act"].value,
                               f"table precompute, {op.ops_per_table} ops/table")
        work = f.elements * VECTOR_OPS_PER_ELEMENT[f.op] + table_work
        return plan_stream(f.elements, work, f.in_bytes, op.table_bytes, f.param_read_bytes,
                           f.kv_write_bytes, ctx.cfg.vector, ctx.resident_bytes, ctx.channel,
                           ctx.fma_e.value, ctx.sram_rd["act"].value, ctx.sram_wr["act"].value,
                           f"{f.op} fused with table precompute ({op.ops_per_table} ops/table)")

    # ---- area and power --------------------------------------------------------------------
    def area(self, ctx: Ctx) -> dict[str, AreaItem]:
        cfg = ctx.cfg
        items = {}
        n_cl = cfg.chip.clusters
        if ctx.lut:
            n = n_cl * cfg.lut.units
            items["lut_units"] = AreaItem(n * ctx.lut.area_um2 * 1e-6, ("lut_tc.yaml",),
                                          f"{n} units of {ctx.lut.area_um2:.0f} um2 "
                                          f"({ctx.lut.source})")
        if ctx.mac:
            n = n_cl * cfg.mac.units
            items["mac_units"] = AreaItem(n * ctx.mac.area_um2 * 1e-6, ("lut_tc.yaml",),
                                          f"{n} units of {ctx.mac.area_um2:.0f} um2 "
                                          f"({ctx.mac.source})")
        items.update(memory_and_vector_area(cfg, ctx.costs, ctx.sram, ctx.fma_a))
        return items

    def pricing(self, ctx: Ctx) -> dict[str, list[str]]:
        fma = [f"{n}: {source_of(n)}" for n in ctx.fma_e.entries]
        out = {"sram": [f"sram_cacti_45nm: {sram_source()}"], "vector": fma}
        if ctx.lut:
            out["lut_units"] = [ctx.lut.source]
        if ctx.mac:
            out["mac_units"] = [ctx.mac.source]
        return out



def apportion(total: int, weights: np.ndarray) -> np.ndarray:
    """``total`` bytes split in proportion to ``weights``, in whole bytes that sum to it
    exactly (cumulative rounding, so no byte is lost or invented)."""
    edges = np.round(total * np.cumsum(weights) / weights.sum()).astype(np.int64)
    return np.diff(np.r_[0, edges])


#: block k-steps one GEMM may take (blocks x k-steps of the configured block): the kernels'
#: cost grows with them; LLaMA-7B's FFN prefill with 4 x 4 x 4 blocks has 3.6e8 (about 9 s)
MAX_BLOCK_STEPS = 2**29


def _check_block_steps(ctx: Ctx, op: Gemm, p: Path) -> None:
    """Refuse a GEMM whose configured blocks would take more than :data:`MAX_BLOCK_STEPS`."""
    bm, bn, bk = p.block
    steps = op.count * -(-op.m // bm) * -(-op.n // bn) * -(-op.k // bk)
    if steps > MAX_BLOCK_STEPS:
        key = "lut.block_m" if p.unit == "lut" else "mac.block_m"  # vector path: mac blocks
        raise ConfigError(f"{where(ctx.file, key)}: op {op.name} ({op.shape}) needs {steps:,} "
                          f"block k-steps of {bm}x{bn}x{bk} blocks; the simulator allows at "
                          f"most {MAX_BLOCK_STEPS:,} per GEMM (its cost grows with them); "
                          f"allowed: larger block_m / block_n / block_k")


def best_tiling(op: Gemm, p: Path, clusters: int, vlanes: int, port: int):
    """The block shape and split-k a tuned kernel library would pick for ``op``: the fastest
    of block_m, block_n halved down to the unit tile (never padding past twice the op) and, when
    the blocks cannot fill the clusters, k split in 2, 4 or 8 with the partial sums reduced on
    the vector lanes. Returns (bm, bn, split, wave_end, reduce_cycles)."""
    (tm, tn, tk), (bm0, bn0, bk) = p.tile, p.block
    best = None
    for bm in _halvings(bm0, tm, op.m):
        for bn in _halvings(bn0, tn, op.n):
            blocks = op.count * -(-op.m // bm) * -(-op.n // bn)
            if best is not None and blocks > 4 * clusters:
                continue  # already four waves or more: smaller blocks only add overhead
            for split in (1, 2, 4, 8):
                if split > 1 and (blocks * split // 2 >= clusters or -(-op.k // split) < bk):
                    break
                kk = -(-op.k // split)
                durations = K.gemm_blocks(op.m, op.n, kk, op.count * split, bm, bn, bk, tm, tn,
                                          tk, p.units, p.passes, p.a_chunk_bits, op.b_bits,
                                          32 if split > 1 else op.c_bits, p.dq_ops, vlanes,
                                          port, p.latency, p.eff_permille)
                wave_end, makespan = K.schedule(durations, clusters)
                reduce = -(-op.count * op.m * op.n * (split - 1) // (vlanes * clusters)) \
                    if split > 1 else 0
                if best is None or makespan + reduce < best[0]:
                    best = (makespan + reduce, bm, bn, split, wave_end, reduce)
    return best[1:]


def _halvings(start: int, floor: int, size: int) -> list[int]:
    """start, start/2, ... down to ``floor``, without those padding ``size`` to 2x or more
    (the smallest is kept if all do)."""
    vals, b = [], start
    while b >= floor:
        vals.append(b)
        b //= 2
    vals = vals or [start]
    return [v for v in vals if v < 2 * size] or [vals[-1]]


def table_ops(d: LutDesign) -> int:
    """Vector operations to build one table: Gray-code order makes each entry one add/sub from
    the previous (entries + K - 1 adds); quantized tables add a max-abs pass and one
    scale-and-round per entry."""
    return d.entries + d.tile_k - 1 + (2 * d.entries if d.quantized else 0)


def lut_design(cfg: Config) -> LutDesign:
    """The LUT unit a config describes."""
    lut = cfg.lut
    return LutDesign(lut.tile_m, lut.tile_n, lut.tile_k, lut.weight_bits, lut.act_format,
                     lut.lut_bits, lut.acc_bits, lut.symmetric, lut.negation, lut.precompute)


def peak_ops_per_second(cfg: Config, weight_bits: int) -> float:
    """Peak MACs x 2 per second of the weight-GEMM path for ``weight_bits`` weights."""
    lut, mac, f = cfg.lut, cfg.mac, cfg.tech.frequency
    if lut.units and weight_bits <= lut.weight_bits:
        return 2 * cfg.chip.clusters * lut.units * lut.tile_m * lut.tile_n * lut.tile_k * f / weight_bits
    return 2 * cfg.chip.clusters * mac.units * mac.tile_m * mac.tile_n * mac.tile_k * f


def sram_demand(cfg: Config) -> dict[str, int]:
    """Bytes per cycle each buffer feeds the clusters (their operand ports)."""
    per = bits_to_bytes(cfg.chip.clusters * cfg.chip.port_bits, 1)
    return {"act": per, "weight": per, "out": per}


def sram_buffers(cfg: Config) -> dict[str, SramBuffer]:
    s = cfg.sram
    return {b: SramBuffer(s[b], s.banks, sram_word_bytes(s, d), s.ports)
            for b, d in sram_demand(cfg).items()}
