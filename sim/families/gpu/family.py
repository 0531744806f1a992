"""Tensor-core GPU baseline (A100 / H100): SMs with tensor cores, CUDA cores, L2, HBM.

Every op is one CUDA kernel (attention is fused, FlashAttention-style). A kernel's time is

* a launch overhead (the gap between back-to-back kernels of a CUDA graph plus ramp-up);
* its grid of thread-block tiles (CTAs) on the SMs, scheduled by the exact block-scheduler kernel
  :func:`sim.families.gpu.kernel.cta_schedule` (wave and tile quantization are real: a grid of 133
  CTAs on 132 SMs takes two waves; causal attention's CTAs differ in work);
* overlapped with the DRAM traffic through the common DRAM model at the fraction of its peak that
  the SMs sustain (``memory.sustained``), the first access paying the DRAM latency.

GEMMs are tiled CUTLASS-style: the mapper tries each thread-block tile and split-K factor and
keeps the fastest (as cuBLAS's heuristics aim to); split-K adds a reduction kernel. Activations
that fit in half the L2 stay there; weights and the KV cache stream from HBM.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.core.components import TECH, VECTOR_OPS_PER_ELEMENT
from sim.core.config import Config, Field, Section
from sim.core.costs import Price
from sim.core.engine import coalesce, followed_by_gap
from sim.core.errors import where
from sim.core.units import ns_to_cycles
from sim.core.family import AreaItem, Family, OpPlan, register_family
from sim.families.gpu.kernel import cta_schedule
from sim.memory import DRAM, DramSystem
from sim.core.ops import PRECISIONS, Attention, Elementwise, Gemm, fuse_attention
from sim.core.vector_unit import split

#: CTA tiles (rows of A, columns of B) the GEMM mapper chooses from: CUTLASS 3 Hopper GEMM tile
#: shapes (cutlass/include/cutlass/gemm/collective/builders, sm90 tile configs)
GEMM_TILES = ((128, 256), (256, 128), (128, 128), (64, 256), (64, 128), (64, 64))
#: K elements per pipelined main-loop step group, the unit in which loads and MMAs overlap
#: (estimate: a few 64-deep stages of a CUTLASS multistage pipeline)
K_CHUNK = 512
#: query rows of the smallest tensor-core MMA a decode attention kernel issues (mma.sync
#: m16n8k16: a query head group of fewer rows is padded to 16; the measured H100/H200 decode
#: kernels are cuDNN's "flash_fprop_wmma_f16 ... 16x128x128")
MMA_ROWS = 16
#: K elements of one main-loop iteration, the unit stream-K divides (CUTLASS BF16 tile K = 64)
K_STEP = 64

SM = Section("Streaming multiprocessors", {
    "count": Field("int", 132, "SMs", positive=True, maximum=1024,
                   source="H100 SXM5: 132 SMs (NVIDIA H100 datasheet / whitepaper)"),
    "tensor_macs_16": Field("int", 2048, "Dense FP16/BF16 tensor-core MACs per SM per cycle",
                            positive=True, source="H100: 989.4 TFLOPS dense BF16 = 132 SMs x "
                            "2048 MACs x 2 x 1.83 GHz (datasheet)"),
    "tensor_macs_8": Field("int", 4096, "Dense 8-bit tensor-core MACs per SM per cycle (0: none)",
                           minimum=0, source="H100: 1,979 TFLOPS dense FP8 (datasheet)"),
    "eight_bit_format": Field("enum", "fp8", "What 8-bit operands are on this GPU",
                              choices=("fp8", "int8")),
    "fp32_lanes": Field("int", 128, "FP32 CUDA cores per SM (element-wise work)", positive=True,
                        source="H100 SM: 128 FP32 cores (whitepaper)"),
    "ctas_per_sm": Field("int", 1, "Resident GEMM / attention CTAs per SM (large tiles use most "
                         "of shared memory)", positive=True, maximum=32),
    "tensor_efficiency": Field("float", 0.71, "Sustained fraction of the tensor peak at "
                               "tech.frequency (clock under power capping, issue stalls)",
                               positive=True, maximum=1.0,
                               source="calibrated: docs/gpu/calibrate.py"),
    "tensor_efficiency_8": Field("float", 0.65, "As tensor_efficiency, for 8-bit operands",
                                 positive=True, maximum=1.0,
                                 source="calibrated: docs/gpu/calibrate.py"),
    "block_issue_gap": Field("int", 1, "Cycles between CTA launches of the block scheduler",
                             positive=True, maximum=1000, source="estimate"),
})

L2 = Section("L2 cache", {
    "bytes": Field("bytes", 50 * 2**20, "Capacity; activations up to half of it stay on chip",
                   positive=True, source="H100 SXM5: 50 MB L2 (datasheet; measured 52,428,800 B)"),
    "bandwidth": Field("bandwidth", 5.5e12, "L2 to SM bandwidth", positive=True,
                       source="estimate: ~5.5 TB/s L2 read bandwidth microbenchmarked on H100 "
                       "(Chips and Cheese, 2023)"),
})

MEMORY = Section("How the SMs use HBM", {
    "sustained": Field("float", 0.80, "Fraction of the DRAM peak a streaming kernel sustains "
                       "(load/store units, L2 and NoC limits)", positive=True, maximum=1.0,
                       source="calibrated: docs/gpu/calibrate.py"),
})

KERNEL = Section("Kernel launch", {
    "overhead": Field("time", 1600.0, "Gap plus ramp-up per kernel in a CUDA graph", minimum=0,
                      source="calibrated: docs/gpu/calibrate.py"),
    "max_split_k": Field("int", 16, "Largest split-K factor the GEMM mapper tries", positive=True,
                         maximum=64),
})

ATTENTION = Section("Fused attention kernels", {
    "block_q": Field("int", 128, "Query rows per CTA (FlashAttention-2 prefill)", positive=True,
                     source="FlashAttention-2 H100 forward kernel tile 128 x 128"),
    "block_kv": Field("int", 128, "Keys per inner step", positive=True,
                      source="FlashAttention-2 H100 forward kernel tile 128 x 128"),
    "efficiency": Field("float", 0.59, "Fraction of the tensor peak the attention MMAs sustain "
                        "(softmax and rescaling between them)", positive=True, maximum=1.0,
                        source="calibrated: docs/gpu/calibrate.py"),
    "decode_bandwidth": Field("bandwidth", None, "KV bytes per second a decode-attention "
                              "kernel streams when every slot is busy, where the kernel (not "
                              "the DRAM) is the limit; null: the DRAM's sustained rate (the "
                              "measured cuDNN flash-decoding kernels reach it)", positive=True,
                              nullable=True),
})

#: where the calibrated energy constants come from
ENERGY_FIT = ("calibrated: docs/gpu/calibrate_energy.py on the calibration half of the H200 "
              "kernels (h200_energy.json)")

POWER = Section("Board power", {
    "idle_w": Field("power", 124.0, "Board power with nothing running (leakage, HBM refresh and "
                    "standby, clocks, voltage regulators); static, charged for the whole run",
                    minimum=0, source="measured: H200 SXM board idle, NVML energy counter, mean "
                    "of four 5 s windows (sim/families/gpu/data/measured/h200_energy.json)"),
    "limit_w": Field("power", 700.0, "Board power limit (TDP); a run above it is flagged",
                     positive=True, source="H100 SXM5 and H200 SXM: up to 700 W (datasheets)"),
})

ENERGY = Section("Dynamic energy of a kernel, on top of the board's idle power", {
    "active_w": Field("power", 141.9, "Power while a kernel runs, whatever it computes (SM "
                      "clocks, schedulers, uncore of an active chip)", minimum=0,
                      source=ENERGY_FIT),
    "pj_per_mac_16": Field("energy", 1.078, "Energy of one 16-bit tensor-core MAC with its operand "
                           "delivery (shared memory, registers)", unit="pJ", minimum=0,
                           source=ENERGY_FIT),
    "pj_per_mac_8": Field("energy", 0.6585, "Energy of one 8-bit tensor-core MAC with its operand "
                          "delivery", unit="pJ", minimum=0, source=ENERGY_FIT),
    "pj_per_cuda_op": Field("energy", 25.33, "Energy of one element-wise operation on the CUDA "
                            "cores, with its instruction issue, register and load/store traffic",
                            unit="pJ", minimum=0, source=ENERGY_FIT),
    "pj_per_l2_byte": Field("energy", 39.09, "Energy of one byte through L2 and the on-chip "
                            "network to the SMs (every DRAM byte passes it too)", unit="pJ", minimum=0,
                            source=ENERGY_FIT),
})

SCHEMA = Section("Tensor-core GPU", {
    "name": Field("str", "gpu", "Display name of this design point"),
    "description": Field("str", None, "Free text", nullable=True),
    "tech": TECH,
    "sm": SM,
    "l2": L2,
    "memory": MEMORY,
    "kernel": KERNEL,
    "attention": ATTENTION,
    "power": POWER,
    "energy": ENERGY,
    "dram": DRAM,
    "die_area": Field("area", 814.0, "Die area (reported as one item, not modelled bottom-up)",
                      positive=True, source="H100 SXM5 (GH100): 814 mm2 (NVIDIA whitepaper)"),
})


class SustainedDram(DramSystem):
    """The common DRAM model as the SMs see it: transfers take ``1 / sustained`` longer."""

    def __init__(self, cfg: Config, file: str | None, accel_hz: float, sustained: float):
        super().__init__(cfg, file, accel_hz)
        self.sustained = sustained

    def transfer_cycles(self, plan):
        load, store = super().transfer_cycles(plan)
        return load / self.sustained, store / self.sustained


@dataclass
class Ctx:
    cfg: Config
    file: str | None
    channel: SustainedDram
    overhead: int  # launch overhead per kernel, cycles
    slots: int  # concurrent CTAs
    resident: int  # activation bytes that stay in L2, bytes
    l2_per_cycle: float  # L2 bandwidth, bytes per cycle
    decode: bool = True
    group: int = 0  # query heads per KV head of the workload's model (0: unknown)

    def mac_pj(self, bits: int) -> float:
        """Energy of one tensor-core MAC on operands of ``bits`` (pJ)."""
        e = self.cfg.energy
        return e.pj_per_mac_8 if bits <= 8 else e.pj_per_mac_16


@dataclass(frozen=True)
class Grid:
    """A kernel's CTAs: cycles per CTA (grid order) and its DRAM / L2 traffic in bytes."""

    work: np.ndarray
    load: int
    store: int
    l2_bytes: int
    what: str


@register_family
class Gpu(Family):
    kind = "gpu"
    description = "Tensor-core GPU (A100 / H100): CTA tiles and waves on SMs, L2, HBM, launches"
    schema = SCHEMA
    energy_components = ("tensor", "cuda_cores", "l2", "sm_active")
    enforces_power_limit = True  # the driver lowers the clock to stay at power.limit_w

    # ---- configuration -------------------------------------------------------------------
    def check(self, cfg: Config, file: str | None) -> list[str]:
        if cfg.attention.block_kv % 16 or cfg.attention.block_q % 16:
            return [f"{where(file, 'attention.block_q')}: tiles must be multiples of 16 (the "
                    f"MMA shape); allowed: 64, 128, ..."]
        return []

    def check_workload(self, ctx: Ctx, workload) -> list[str]:
        ctx.decode = workload.cfg.phase == "decode"
        ctx.group = workload.model.heads // workload.model.n_kv
        w, sm = workload.cfg, ctx.cfg.sm
        label = workload.source_file or f"workload {workload.name}"
        out = []
        for key in PRECISIONS:
            bits = w[key]
            ok = bits in (16,) or (bits == 8 and sm.tensor_macs_8 > 0)
            if not ok:
                allowed = "16 or 8" if sm.tensor_macs_8 else "16"
                out.append(f"{where(label, 'workload.' + key)}: {bits}-bit operands have no "
                           f"tensor-core path on {ctx.file or 'this GPU'}; allowed: {allowed}")
        return out

    def prepare(self, cfg: Config, file: str | None) -> Ctx:
        f = cfg.tech.frequency
        channel = SustainedDram(cfg.dram, file, f, cfg.memory.sustained)
        return Ctx(cfg, file, channel, ns_to_cycles(cfg.kernel.overhead, f),
                   cfg.sm.count * cfg.sm.ctas_per_sm, int(cfg.l2.bytes // 2),
                   cfg.l2.bandwidth / f)

    def units(self, ctx: Ctx) -> list[str]:
        return ["sms"]

    def lower(self, ctx: Ctx, ops: tuple) -> tuple:
        return tuple(fuse_attention(ops, ctx.decode, ctx.group))

    # ---- mapping ---------------------------------------------------------------------------
    def plan(self, ctx: Ctx, op) -> OpPlan:
        if isinstance(op, Gemm):
            return self._plan_gemm(ctx, op)
        if isinstance(op, Attention):
            return self._plan_attention(ctx, op)
        if isinstance(op, Elementwise):
            return self._plan_elementwise(ctx, op)
        raise TypeError(f"gpu family cannot map {type(op).__name__}")

    def _macs_per_cycle(self, ctx: Ctx, bits: int) -> float:
        """Sustained tensor MACs per cycle of one CTA slot."""
        sm = ctx.cfg.sm
        if bits <= 8:
            return sm.tensor_macs_8 * sm.tensor_efficiency_8 / sm.ctas_per_sm
        return sm.tensor_macs_16 * sm.tensor_efficiency / sm.ctas_per_sm

    def _resident(self, ctx: Ctx, nbytes: int) -> bool:
        return nbytes <= ctx.resident

    def _gemm_grid(self, ctx: Ctx, op: Gemm, bm: int, bn: int, split_k: int) -> Grid:
        rate = self._macs_per_cycle(ctx, max(op.a_bits, op.b_bits))
        kc = -(-op.k // split_k)
        ctas = op.count * -(-op.m // bm) * -(-op.n // bn) * split_k
        cycles = max(1, math.ceil(bm * bn * kc / rate))
        load, store, l2 = self._gemm_traffic(ctx, op, split_k > 1)
        if split_k > 1:  # fp32 partial outputs go to DRAM for the reduction kernel
            store = op.count * op.m * op.n * 4 * split_k
        return Grid(np.full(ctas, cycles, dtype=np.int64), load, store, l2,
                    f"{ctas} CTAs of {bm}x{bn}x{kc}" + (f" (split-K {split_k})" if split_k > 1
                                                         else ""))

    def _gemm_traffic(self, ctx: Ctx, op: Gemm, c_elsewhere: bool) -> tuple[int, int, int]:
        """(DRAM load, DRAM store, L2) bytes of a GEMM: B from DRAM, A and C in L2 when they
        fit; ``c_elsewhere``: C is written by another kernel (split-K reduction)."""
        a_l2, c_l2 = self._resident(ctx, op.a_bytes), self._resident(ctx, op.c_bytes)
        load = op.b_bytes + (0 if a_l2 else op.a_bytes)
        store = 0 if c_l2 or c_elsewhere else op.c_bytes
        l2 = (op.a_bytes if a_l2 else 0) + (op.c_bytes if c_l2 and not c_elsewhere else 0)
        return load, store, l2

    def _dram_cycles(self, ctx: Ctx, nbytes: float) -> float:
        """Cycles to stream ``nbytes`` at the sustained DRAM rate (for choosing a mapping)."""
        return nbytes / (ctx.channel.peak_bytes_per_cycle * ctx.channel.sustained)

    def _stream_k_grid(self, ctx: Ctx, op: Gemm, bm: int, bn: int) -> Grid:
        """Stream-K: the grid's MAC-loop iterations (``K_STEP`` deep) shared evenly by one CTA
        per slot; tiles split between CTAs are fixed up through L2 (fp32 partials)."""
        rate = self._macs_per_cycle(ctx, max(op.a_bits, op.b_bits))
        tiles = op.count * -(-op.m // bm) * -(-op.n // bn)
        iters = tiles * -(-op.k // K_STEP)
        ctas = min(ctx.slots, iters)
        per = -(-iters // ctas)
        cycles = max(1, math.ceil(bm * bn * K_STEP * per / rate))
        fixup = 2 * ctas * bm * bn * 4 if iters % ctas or tiles % ctas else 0
        load, store, l2 = self._gemm_traffic(ctx, op, False)
        return Grid(np.full(ctas, cycles, dtype=np.int64), load, store, l2 + fixup,
                    f"stream-K: {ctas} CTAs x {per} iterations of {bm}x{bn}x{K_STEP}")

    def _estimate(self, ctx: Ctx, grid: Grid) -> float:
        """Cycles of a grid for choosing a tiling: max(waves x CTA, DRAM time)."""
        waves = -(-len(grid.work) // ctx.slots)
        return max(waves * float(grid.work[0]), self._dram_cycles(ctx, grid.load + grid.store),
                   grid.l2_bytes / ctx.l2_per_cycle)

    def _plan_gemm(self, ctx: Ctx, op: Gemm) -> OpPlan:
        best = None
        for bm, bn in GEMM_TILES:
            s = 1
            while s <= ctx.cfg.kernel.max_split_k and -(-op.k // s) >= 64:
                grid = self._gemm_grid(ctx, op, bm, bn, s)
                est = self._estimate(ctx, grid) + (self._reduction_cycles(ctx, op, s)
                                                   if s > 1 else 0)
                if best is None or est < best[0]:
                    best = (est, grid, s)
                s *= 2
            grid = self._stream_k_grid(ctx, op, bm, bn)
            est = self._estimate(ctx, grid)
            if est < best[0]:
                best = (est, grid, 1)
        _, grid, s = best
        extra = None
        if s > 1:  # a second kernel reads the fp32 partials and writes C
            c_l2 = self._resident(ctx, op.c_bytes)
            extra = (grid.store, 0 if c_l2 else op.c_bytes,
                     self._reduction_compute(ctx, op, s))
        k_steps = max(1, -(-op.k // s) // K_CHUNK)
        return self._kernel_plan(ctx, grid, op.macs, self._macs_per_cycle(ctx, op.b_bits)
                                 * ctx.slots, k_steps,
                                 {"tensor": op.macs * ctx.mac_pj(max(op.a_bits, op.b_bits))},
                                 extra)

    def _reduction_compute(self, ctx: Ctx, op: Gemm, s: int) -> int:
        lanes = ctx.cfg.sm.count * ctx.cfg.sm.fp32_lanes
        return max(1, -(-op.count * op.m * op.n * s // lanes))

    def _reduction_cycles(self, ctx: Ctx, op: Gemm, s: int) -> float:
        return ctx.overhead + self._dram_cycles(ctx, op.count * op.m * op.n * 4 * s + op.c_bytes)

    def _plan_attention(self, ctx: Ctx, op: Attention) -> OpPlan:
        a = ctx.cfg.attention
        rate = ctx.cfg.sm.tensor_macs_16 * a.efficiency / ctx.cfg.sm.ctas_per_sm
        trip = ctx.channel.latency_cycles  # each CTA loads its Q tile before the first K tile
        lens = op.kv_lens or (op.kv_len,)
        heads = op.count  # KV heads (x requests when all requests share kv_len)
        work = []
        extra = None
        if op.q_len == 1:  # decode: split the keys so the grid fills one wave (flash-decoding)
            per = heads * len(lens)
            splits = max(1, min(ctx.slots // per, -(-max(lens) // a.block_kv)))
            if splits > 1:  # a combine kernel reads the fp32 partial outputs and their sums
                partial = per * splits * op.group * (op.head_dim + 2) * 4
                lanes = ctx.cfg.sm.count * ctx.cfg.sm.fp32_lanes
                extra = (0, 0, max(1, -(-partial // 4 // lanes))
                         + math.ceil(partial / ctx.l2_per_cycle))
            executed = 0
            per_slot = self._decode_bytes_per_cycle(ctx)
            for n_keys in lens:
                chunk = -(-n_keys // splits)
                macs = 2 * max(op.group, MMA_ROWS) * chunk * op.head_dim
                cycles = max(1, math.ceil(macs / rate))
                if per_slot:  # the kernel's own streaming rate bounds each CTA
                    kv = 2 * chunk * op.head_dim * op.kv_bits // 8
                    cycles = max(cycles, math.ceil(kv / per_slot))
                work += [trip + cycles] * (heads * splits)
                executed += macs * heads * splits
            what = f"{len(work)} CTAs (flash-decoding, {splits} key splits)"
        else:  # prefill: one CTA per query block of each query head, heavy (late) blocks first
            nq = -(-op.q_len // a.block_q)
            head = []  # one query head's CTAs; every head has the same
            executed = 0
            q_heads = heads * op.group  # grouped-query heads share their KV head through L2
            for qb in reversed(range(nq)):
                macs = 2 * _prefill_block_macs(op, qb, a.block_q, a.block_kv)
                head.append(trip + max(1, math.ceil(macs / rate)))
                executed += macs * q_heads
            work = head * q_heads
            what = f"{len(work)} CTAs of {a.block_q} queries (FlashAttention-2)"
        q_l2 = self._resident(ctx, op.q_bytes)
        kv_l2 = not ctx.decode and self._resident(ctx, op.kv_bytes)
        load = (0 if kv_l2 else op.kv_bytes) + (0 if q_l2 else op.q_bytes // 2)
        store = 0 if q_l2 else op.q_bytes // 2
        l2 = (op.kv_bytes if kv_l2 else 0) + (op.q_bytes if q_l2 else 0)
        grid = Grid(np.array(work, dtype=np.int64), load, store, l2, what)
        # the online softmax (max, exp, sum, rescale) runs on the CUDA cores for every score
        # of every tile, padded rows included: one score per 2 x head_dim executed MACs
        softmax = executed // (2 * op.head_dim) * VECTOR_OPS_PER_ELEMENT["softmax"]
        plan = self._kernel_plan(ctx, grid, executed, rate * ctx.slots, 8,
                                 {"tensor": executed * ctx.mac_pj(16),
                                  "cuda_cores": softmax * ctx.cfg.energy.pj_per_cuda_op}, extra)
        plan.macs, plan.executed_macs, plan.vector_ops = op.macs, executed, softmax
        return plan

    @staticmethod
    def _decode_bytes_per_cycle(ctx: Ctx) -> float:
        """KV bytes one CTA slot streams per cycle under ``attention.decode_bandwidth`` (0:
        no bound beyond the DRAM's)."""
        bw = ctx.cfg.attention.decode_bandwidth
        return bw / ctx.cfg.tech.frequency / ctx.slots if bw else 0.0

    def _plan_elementwise(self, ctx: Ctx, op: Elementwise) -> OpPlan:
        sm = ctx.cfg.sm
        work = op.elements * VECTOR_OPS_PER_ELEMENT[op.op]
        in_l2, out_l2 = self._resident(ctx, op.in_bytes), self._resident(ctx, op.out_bytes)
        load = op.param_read_bytes + (0 if in_l2 else op.in_bytes)
        store = op.kv_write_bytes + (0 if out_l2 else op.out_bytes)
        l2 = (op.in_bytes if in_l2 else 0) + (op.out_bytes if out_l2 else 0)
        lanes = sm.count * sm.fp32_lanes
        cycles = max(1, -(-work // lanes))
        grid = Grid(np.array([cycles], dtype=np.int64), load, store, l2,
                    f"{op.elements} elements, {VECTOR_OPS_PER_ELEMENT[op.op]} ops each")
        plan = self._kernel_plan(ctx, grid, 0, lanes, 1,
                                 {"cuda_cores": work * ctx.cfg.energy.pj_per_cuda_op})
        plan.vector_ops = work
        return plan

    def _kernel_plan(self, ctx: Ctx, grid: Grid, macs: int, peak: float, steps: int,
                     energy: dict, extra=None) -> OpPlan:
        """Tile groups of one kernel: ``steps`` x waves chunks that share the grid's makespan
        and DRAM bytes (loads of one overlap the MMAs of the one before), an optional second
        kernel ``extra = (load, store, compute)`` (split-K reduction, flash-decoding combine),
        then the launch overhead of each kernel."""
        makespan, _ = cta_schedule(grid.work, ctx.slots, ctx.cfg.sm.block_issue_gap)
        makespan = max(int(makespan), math.ceil(grid.l2_bytes / ctx.l2_per_cycle))
        waves = -(-len(grid.work) // ctx.slots)
        chunks = max(1, min(waves * steps, 256, makespan))
        counts = [1] * chunks
        load = list(split(grid.load, chunks))
        comp = list(split(makespan, chunks))
        store = list(split(grid.store, chunks))
        mapping = grid.what + f"; {makespan} cycles on {ctx.slots} slots"
        if extra is not None:
            counts += [1, 1]
            load += [0, extra[0]]
            comp += [ctx.overhead, extra[2]]
            store += [0, extra[1]]
            mapping += " + reduction kernel"
        counts, load, comp, store = coalesce(np.array(counts, dtype=np.int64), load, comp, store)
        total = grid.load + grid.store + (extra[0] + extra[1] if extra else 0)
        energy = {**energy, "l2": (grid.l2_bytes + total) * ctx.cfg.energy.pj_per_l2_byte}
        roofline = max(math.ceil(macs / peak) if macs else 0,
                       ctx.channel.peak_cycles(total))
        plan = OpPlan("sms", counts, load, comp, store, macs, peak, roofline, energy,
                      sram_read_bytes=grid.l2_bytes, mapping=mapping)
        return followed_by_gap(plan, ctx.overhead)  # the kernel's launch gap and ramp

    # ---- area and power ----------------------------------------------------------------------
    def compulsory_levels(self, ctx: Ctx) -> dict[str, tuple[str, ...]]:
        """Weights and KV stream from HBM; the kernels' shared-memory and L2 traffic is not
        counted, so only the DRAM counters carry a floor."""
        return {"weights": ("dram_read",), "kv_read": ("dram_read",),
                "kv_write": ("dram_write",)}

    def area(self, ctx: Ctx) -> dict[str, AreaItem]:
        return {"die": AreaItem(ctx.cfg.die_area, ("config: die_area",),
                                "datasheet die area (not modelled bottom-up)")}

    def static_power(self, ctx: Ctx, area_mm2: float) -> dict[str, Price]:
        """The board's measured idle power (it holds the die's leakage)."""
        return {"idle": Price(ctx.cfg.power.idle_w, (f"config: power.idle_w "
                                                    f"({POWER.fields['idle_w'].source})",))}

    def busy_power(self, ctx: Ctx) -> dict[str, Price]:
        return {"sm_active": Price(ctx.cfg.energy.active_w, (
            f"config: energy.active_w ({ENERGY.fields['active_w'].source})",))}

    def pricing(self, ctx: Ctx) -> dict[str, list[str]]:
        e = ctx.cfg.energy
        return {"tensor": [f"energy.pj_per_mac_16 {e.pj_per_mac_16} pJ, energy.pj_per_mac_8 "
                           f"{e.pj_per_mac_8} pJ ({ENERGY.fields['pj_per_mac_16'].source})"],
                "cuda_cores": [f"energy.pj_per_cuda_op {e.pj_per_cuda_op} pJ "
                               f"({ENERGY.fields['pj_per_cuda_op'].source})"],
                "l2": [f"energy.pj_per_l2_byte {e.pj_per_l2_byte} pJ/B "
                       f"({ENERGY.fields['pj_per_l2_byte'].source})"]}


def _prefill_block_macs(op: Attention, qb: int, block_q: int, block_kv: int) -> int:
    """Query-key-dim products one CTA computes for query block ``qb`` of one query head, in
    whole tiles as the kernel runs them: ``block_q`` rows times the key blocks it visits (all,
    or with ``causal`` those up to the block's last query, the diagonal block whole: the masked
    blocks after it are skipped) times ``block_kv`` keys, times ``head_dim``."""
    kv_blocks = -(-op.kv_len // block_kv)
    if op.causal:  # queries sit at the end of the keys: query i sees kv_len - q_len + i + 1
        kv_blocks = min(kv_blocks, -(-((qb + 1) * block_q + op.kv_len - op.q_len) // block_kv))
    return block_q * kv_blocks * block_kv * op.head_dim


__all__ = ["Gpu", "GEMM_TILES", "SustainedDram"]
