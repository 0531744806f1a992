"""NPU + PIM system for batched LLM decoding (NeuPIMs, ASPLOS'24), with its baselines.

The NPU (``npu.arrays`` weight-stationary systolic arrays and a vector unit) runs the weight GEMMs
and element-wise ops; attention GEMVs run either on the NPU (``pim.mode: none``, the NPU-only
system) or inside the HBM banks (:mod:`sim.families.npu_pim.pim`,
:mod:`sim.families.npu_pim.kernel`).

Execution model (decoupled access / execute):

* Every DRAM read of weights or KV cache is a :class:`~sim.core.ops.Transfer` on the ``dma`` unit,
  served by the command-level DRAM model as a stream. It may run ahead of its consumer as long
  as the prefetched bytes fit in ``sram.filter``; the consuming GEMM then computes from SRAM.
* GEMMs take the systolic fold model (:mod:`sim.families.systolic.kernel`) with folds dealt to the
  arrays in rounds; element-wise ops the vector unit.
* A :class:`~sim.core.ops.PimAttention` runs every channel's PIM program (logit GEMVs, the NPU's
  softmax, attend GEMVs) on the ``pim`` unit; its time is the slowest channel's.
* ``pim.mode: single`` (Newton-style blocked mode): one row buffer per bank, so the NPU's
  memory traffic and PIM cannot overlap; transfers and PIM share one ``memory`` unit and each
  request's softmax leaves its channel idle. ``dual`` (NeuPIMs): a second row buffer, transfers
  proceed beside PIM (their bandwidth share and the PIM slowdown are measured by running the
  PIM programs beside a saturating read stream), the softmax overlaps the next request's logits.
* ``schedule.sub_batch_interleaving``: the batch is split per channel into two sub-batches
  (NeuPIMs Algorithm 3) whose op chains share the units, so one's GEMMs overlap the other's
  attention; each sub-batch streams its own weights (``weight_restream``) unless told otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from sim.core.components import POWER, TECH, VECTOR, VECTOR_OPS_PER_ELEMENT, sram_section
from sim.core.config import Config, Field, Section
from sim.core.errors import where
from sim.core.family import AreaItem, Family, OpPlan, register_family
from sim.families.systolic.family import ARRAY, Systolic
from sim.families.systolic.kernel import fold_grid
from sim.memory import DRAM
from sim.memory.energy import DramEnergy
from sim.core.ops import Elementwise, Gemm, PimAttention, Transfer, replace_attention
from sim.families.npu_pim.pim import (COMMAND_SETS, Layout, assign_channels, channel_program,
                                      instruction_count, pim_timing, run_program,
                                      split_sub_batches, PIM_TIMING_SOURCES)
from sim.core.vector_unit import plan_vector

MODES = ("none", "single", "dual")
MAPPINGS = ("per_array_tiles", "shared_activation_tile")

NPU = Section("The NPU's compute units", {
    "arrays": Field("int", 8, "Systolic arrays of array.rows x array.cols, each with a share "
                    "of the vector lanes", positive=True, maximum=1024,
                    source="NeuPIMs (ASPLOS'24) Sec. V-A: eight 128x128 systolic arrays "
                           "with SIMD vector units"),
    "mapping": Field("enum", "per_array_tiles", "How a weight GEMM meets the arrays: "
                     "per_array_tiles "
                     "(each array holds its own weight tile, the tokens stream through) or "
                     "shared_activation_tile (the arrays hold one activation tile, k x 128 "
                     "tokens, and split every streamed 128-column block of weights between "
                     "them: 1/arrays of its rows each)", choices=MAPPINGS,
                     source="shared_activation_tile: NeuPIMs' simulator (NeuPIMs@f299af3 "
                            "MatMul.cc: _is_transposed, GEMM size core_width / 8; "
                            "NeuPIMSystolicWS.cc issue_ex_inst)"),
    "fuse_qkv": Field("bool", False, "Run a layer's Q, K and V projections as one GEMM over "
                      "the concatenated weights (they read the same activations)",
                      source="true: NeuPIMs' simulator has one QKV weight of E x 3E/TP "
                             "(NeuPIMs@f299af3 Model.cc, StageProgram.cc qkv_gen_block)"),
    "attention_issue": Field("enum", "batched", "Attention GEMVs on the arrays (pim.mode none): "
                             "batched (the products of all requests and heads pipelined back to "
                             "back, each array its own key / value tile) or per_head (in-order "
                             "issue: each head's logits wait for the previous head's attend, so "
                             "every GEMV fills and drains the shared-tile arrays)",
                             choices=("batched", "per_head"),
                             source="per_head: NeuPIMs@f299af3 npu-only branch FusedMHA.cc (one "
                                    "tile per request, logit GEMV -> softmax -> attend GEMVs per "
                                    "head) on the in-order core of NeuPIMSystolicWS.cc"),
})

PIM = Section("Processing-in-memory in the HBM banks", {
    "mode": Field("enum", "dual", "none: plain HBM, attention on the NPU; single: one row "
                  "buffer per bank (Newton, blocked mode); dual: NeuPIMs' second (PIM) row "
                  "buffer", choices=MODES),
    "macs_per_bank": Field("int", 16, "FP16 multipliers per bank (+ adder tree): elements one "
                           "MAC step consumes", positive=True, maximum=1024,
                           source="NeuPIMs pim_comp_coverage 16 (NeuPIMs@f299af3 neupims.json)"),
    "gwrite_cycles": Field("int", 96, "GWRITE latency (DRAM cycles; at most 8,192: the "
                           "channel kernel serves normal reads beside every GWRITE cycle)",
                           positive=True, maximum=2**13,
                           source="(tCCD_S + tCCD_L) x 32: NeuPIMs@f299af3 "
                                  "NewtonSim configuration.cc gwrite_delay"),
    "mac_energy_vs_read": Field("float", 4.0, "Energy of one all-bank MAC command in units of "
                                "a RD command's", minimum=0,
                                source="NeuPIMs@f299af3 NewtonSim configuration.cc: "
                                       "comp_energy_inc = 4 x read ('newton paper said 4x "
                                       "power needed')"),
    "gact_energy_vs_act": Field("float", 4.0, "Energy of a G_ACT (four banks) in units of an "
                                "ACT's", minimum=0,
                                source="NeuPIMs@f299af3 NewtonSim configuration.cc: "
                                       "gact_energy_inc = 4 x act_energy_inc"),
    "read_lookahead": Field("int", 256, "Dual mode: normal 64 B reads the channel controller "
                            "sees ahead (FR-FCFS window) when it fills the command slots PIM "
                            "leaves free", positive=True, maximum=65536,
                            source="NeuPIMs: 128-deep command queues (NeuPIMs@f299af3 "
                                   "HBM2_8Gb_x128_dualpim.ini cmd_queue_size); "
                                   "256 = 16 rows per channel, where the measured read share "
                                   "beside PIM saturates (0.72; 0.42 at 32, 0.72 at 1024)"),
    "command_set": Field("enum", "composite", "PIM commands per head of a tile: composite "
                         "(NeuPIMs: one PIM_COMPS_READRES) or newton (k PIM_COMPs and a "
                         "PIM_READRES, each a separate instruction)", choices=tuple(COMMAND_SETS),
                         source="NeuPIMs@f299af3: main branch sends PIM_COMPS_READRES, npu+pim "
                                "branch (naive baseline) PIM_COMP x k + PIM_READRES "
                                "(NeuPIMSLogitSoftmax.cc, NeuPIMSAttend.cc)"),
    "dispatch_per_cycle": Field("int", 0, "PIM instructions the NPU's front end hands to the "
                                "memory channels per cycle, all channels together; 0: every "
                                "ready instruction (unbounded)", minimum=0, maximum=1 << 20,
                                source="NeuPIMs@f299af3: the npu+pim branch's core issues one "
                                       "PIM instruction per cycle (NeuPIMSystolicWS.cc "
                                       "pim_ld_queue_cycle, 'if'); main drains the queue "
                                       "each cycle ('while')"),
    "row_buffer_area": Field("float", 0.0311, "Dual mode: extra DRAM die area of the second "
                             "row buffers, as a fraction of the DRAM area (reported, not priced)",
                             minimum=0, source="NeuPIMs (ASPLOS'24): +3.11 % (CACTI 7.0, 22 nm)"),
})

SCHEDULE = Section("How the batch is run", {
    "channel_assignment": Field("enum", "greedy", "Requests to PIM channels: greedy "
                                "(NeuPIMs' min-load bin packing on the MHA estimate) or "
                                "round_robin (Newton baseline)",
                                choices=("greedy", "round_robin")),
    "sub_batch_interleaving": Field("enum", "auto", "Split the batch in two and interleave "
                                    "NPU and PIM work: never, always, or auto (when batch >= auto_min_batch)",
                                    choices=("never", "always", "auto")),
    "auto_min_batch": Field("int", 256, "auto: smallest batch that interleaves", positive=True,
                            source="NeuPIMs README: SBI enabled only when batch >= 256"),
    "weight_restream": Field("bool", True, "Each sub-batch reads the layer's weights again "
                             "(NeuPIMs' simulator); false: one read serves both"),
    "prefetch": Field("bool", True, "Transfers may run ahead of their GEMM while "
                      "sram.filter holds the prefetched bytes"),
    "prefetch_across_ops": Field("bool", True, "With prefetch, an op's transfers may start "
                                 "before the op ahead of it in the program has finished; "
                                 "false: they stream in beside that op's own compute only",
                                 source="false: NeuPIMs@f299af3 (an op's tiles, loads "
                                        "included, are issued once its inputs are produced: "
                                        "Operation::check_executable, "
                                        "StageProgram::finish_operation)"),
})

SCHEMA = Section("NPU + PIM (NeuPIMs-style) system", {
    "name": Field("str", "npu_pim", "Display name of this design point"),
    "description": Field("str", None, "Free text", nullable=True),
    "tech": TECH,
    "array": ARRAY,
    "npu": NPU,
    "sram": sram_section("On-chip SRAM: ifmap (activations), filter (prefetched weights and "
                         "KV), ofmap (partial sums)",
                         {"ifmap": 32 * 2**20, "filter": 64 * 2**20, "ofmap": 4 * 2**20}),
    "vector": VECTOR,
    "dram": DRAM,
    "pim": PIM,
    "schedule": SCHEDULE,
    "power": POWER,
})


@dataclass
class Ctx:
    cfg: Config
    file: str | None
    npu: object                    # the systolic family's context (costs, SRAM, DRAM system)
    arrays: int
    mode: str
    tm: np.ndarray                 # PIM timing vector
    geo: np.ndarray
    layout_base: dict
    dram_energy: DramEnergy
    memory_unit: str               # unit of transfers ("dma", or "memory" when blocked)
    deps: list = field(default_factory=list)
    batch: int = 0
    kv_heads: int = 0  # KV heads of one request on this device (0: unknown)
    sbi: bool = False
    pim_cache: dict = field(default_factory=dict)
    interference: dict = field(default_factory=dict)

    @property
    def channel(self):
        return self.npu.channel


@register_family
class NpuPim(Family):
    kind = "npu_pim"
    description = ("NPU (systolic arrays + vector units) with PIM HBM banks for attention "
                   "(NeuPIMs): dual row buffers, sub-batch interleaving")
    schema = SCHEMA
    energy_components = ("mac", "pe_registers", "pim")

    # ---- configuration -------------------------------------------------------------------
    def check(self, cfg: Config, file: str | None) -> list[str]:
        out = Systolic().check(cfg, file)
        if cfg.array.dataflow != "ws":
            out.append(f"{where(file, 'array.dataflow')}: {cfg.array.dataflow!r}: the NPU "
                       f"streams activations past stationary weights; allowed: ws")
        if cfg.pim.mode != "none" and cfg.dram.model != "cycle":
            out.append(f"{where(file, 'dram.model')}: PIM needs the command-level DRAM; "
                       f"allowed with pim.mode {cfg.pim.mode}: cycle")
        return out

    def native_bits(self, cfg: Config) -> dict[str, int]:
        return {"weight_bits": cfg.array.weight_bits, "act_bits": cfg.array.input_bits}

    def serving_overrides(self, cfg: Config, phase: str) -> list[tuple[str, object]]:
        """Prefill runs on the NPU, its attention too: PIM serves decode attention only
        (:meth:`check_workload`; NeuPIMs leaves prefill to standalone NPUs, a serving device
        that prefills its own requests does it on its NPU)."""
        return [("pim.mode", "none")] if phase == "prefill" and cfg.pim.mode != "none" else []

    def check_workload(self, ctx: Ctx, workload) -> list[str]:
        out = Systolic().check_workload(ctx.npu, workload)
        w = workload.cfg
        ctx.batch = w.batch // w.pipeline_parallel  # requests of one device's micro-batch
        ctx.kv_heads = workload.model.n_kv // w.tensor_parallel
        if ctx.mode != "none" and w.phase != "decode":
            out.append(f"{where(workload.source_file or 'workload ' + workload.name, 'phase')}: "
                       f"PIM runs decode attention only (NeuPIMs leaves prefill to standalone "
                       f"NPUs); allowed with pim.mode {ctx.mode}: decode")
        m = workload.model
        if ctx.mode != "none" and (m.n_kv != m.heads):
            out.append(f"{where(ctx.file, 'pim.mode')}: the PIM dataflow maps multi-head "
                       f"attention (one KV head per query head); {m.id} groups "
                       f"{m.heads // m.n_kv} query heads per KV head; allowed: pim.mode none")
        return out

    def prepare(self, cfg: Config, file: str | None) -> Ctx:
        npu = Systolic().prepare(cfg, file)
        spec = npu.channel.spec
        o = spec.org
        mode = cfg.pim.mode
        tm = pim_timing(spec.timing, mode == "dual", cfg.pim.gwrite_cycles, cfg.pim.command_set)
        geo = np.array([o["ranks"], o["bankgroups"], o["banks_per_group"]], dtype=np.int64)
        base = {"banks": int(geo.prod()), "row_elems": o["row_bytes"] * 8 // cfg.array.weight_bits,
                "macs": cfg.pim.macs_per_bank}
        unit = "memory" if mode == "single" else "dma"
        return Ctx(cfg, file, npu, cfg.npu.arrays, mode, tm, geo, base, DramEnergy.of(spec), unit)

    def units(self, ctx: Ctx) -> list[str]:
        if ctx.mode == "single":
            return ["array", "vector", "memory"]
        return ["array", "vector", "dma"] + (["pim"] if ctx.mode == "dual" else [])

    # ---- lowering: transfers, PIM attention, sub-batches ---------------------------------------
    def lower(self, ctx: Ctx, ops: tuple) -> tuple:
        if ctx.cfg.npu.fuse_qkv:
            ops = _fuse_qkv(ops)
        batch = ctx.batch or _batch_of(ops)
        ctx.batch = batch
        s = ctx.cfg.schedule
        ctx.sbi = (ctx.mode != "none" and batch >= 2 and
                   (s.sub_batch_interleaving == "always"
                    or (s.sub_batch_interleaving == "auto" and batch >= s.auto_min_batch)))
        kv_lens = _kv_lens(ops, batch)
        if ctx.mode == "none":
            groups = [list(range(batch))]
        else:
            lay = self._layout(ctx, ops)
            per_channel = assign_channels(kv_lens, ctx.channel.spec.controllers,
                                          s.channel_assignment, lay)
            parts = split_sub_batches(per_channel) if ctx.sbi else (per_channel,)
            groups = [sum(p, []) for p in parts]
        chains = []
        fused = _attention_fused(ops, batch) if ctx.mode != "none" else list(ops)
        for sb, members in enumerate(groups):
            tag = f".sb{sb + 1}" if len(groups) > 1 else ""
            frac = len(members) / batch
            lens = tuple(kv_lens[i] for i in members)
            sizes = tuple(len(reqs) for reqs in parts[sb]) if ctx.mode != "none" else ()
            chains.append([new for op in fused
                           for new in self._lower_op(ctx, op, tag, frac, lens, sizes)])
        out, ctx.deps = _schedule(chains, ctx.cfg.sram.filter // len(chains),
                                  ctx.cfg.schedule.prefetch, ctx.cfg.schedule.weight_restream,
                                  ctx.cfg.schedule.prefetch_across_ops)
        return tuple(out)

    def dependencies(self, ctx: Ctx, ops) -> list:
        return ctx.deps

    def _layout(self, ctx: Ctx, ops) -> Layout:
        att = next(op for op in ops if isinstance(op, Gemm) and op.b_source == "kv")
        return _layout(ctx, att.k, att.count if att.kv_lens else att.count // ctx.batch)

    def _lower_op(self, ctx: Ctx, op, tag: str, frac: float, lens: tuple,
                  sizes: tuple = ()) -> list:
        """One op of one sub-batch: scaled to the sub-batch, its DRAM reads split off; PIM
        attention keeps the channels (``sizes`` requests each) its KV cache was placed on."""
        name = op.name + tag
        if isinstance(op, PimAttention):
            return [replace(op, name=name, kv_lens=lens, channel_sizes=sizes,
                            softmax=_scale_vec(op.softmax, frac, op.softmax.name + tag))]
        if isinstance(op, Elementwise):
            return [_scale_vec(op, frac, name)]
        if isinstance(op, Gemm):
            chunk = ctx.cfg.sram.filter // 8
            if op.b_source == "kv":
                g, own = _own_requests(ctx, op, lens, frac)
                out = []
                for j, part in enumerate(_request_chunks(g, own, chunk)):
                    nm = f"{name}.{j}" if j else name
                    out += [Transfer(nm + ".kv", op.layer, op.role, part.b_bytes, "kv"),
                            replace(part, name=nm)]
                return out
            g = replace(op, name=name, m=max(1, round(op.m * frac)))
            if ctx.cfg.npu.mapping == "shared_activation_tile":
                return _streamed_weight_parts(g, chunk, ctx.cfg.sram.filter // 2, ctx.npu.rows,
                                              ctx.npu.cols)
            out = []
            for j, part in enumerate(_weight_chunks(g, chunk, ctx.npu.cols)):
                nm = f"{name}.{j}" if j else name
                out += [Transfer(nm + ".w", op.layer, op.role, part.b_bytes, "weights"),
                        replace(part, name=nm)]
            return out
        raise TypeError(f"npu_pim cannot lower {type(op).__name__}")

    # ---- planning ---------------------------------------------------------------------------
    def plan(self, ctx: Ctx, op) -> OpPlan:
        if isinstance(op, Transfer):
            return self._plan_transfer(ctx, op)
        if isinstance(op, Gemm):
            return self._plan_gemm(ctx, op)
        if isinstance(op, Elementwise):
            n = ctx.npu
            return plan_vector(op, ctx.cfg.vector, n.resident_bytes, n.channel, n.fma_e.value,
                               n.sram_rd["ifmap"].value, n.sram_wr["ifmap"].value)
        if isinstance(op, PimAttention):
            return self._plan_pim(ctx, op)
        raise TypeError(f"npu_pim family cannot map {type(op).__name__}")

    def _plan_transfer(self, ctx: Ctx, op: Transfer) -> OpPlan:
        scale = ctx.interference.get("dma_stretch", 1.0) if ctx.mode == "dual" else 1.0
        nbytes = op.nbytes
        plan = OpPlan(ctx.memory_unit, np.array([1]), np.array([nbytes]), np.array([0]),
                      np.array([0]), 0, 0.0, ctx.channel.peak_cycles(nbytes),
                      {"sram": 8 * nbytes * ctx.npu.sram_wr["filter"].value},
                      sram_write_bytes=nbytes, mapping=f"DMA of {op.what} into sram.filter")
        if scale != 1.0:
            # transfers beside PIM get the measured share of the channel: stretch their compute
            # slot so the DMA occupies the unit that much longer
            load, _ = ctx.channel.transfer_cycles(plan)
            extra = int(math.ceil(float(load[0]) * (scale - 1.0)))
            plan.compute_cycles = np.array([extra])
            plan.mapping += f"; {scale:.2f}x stretched beside PIM (measured)"
        return plan

    def _plan_gemm(self, ctx: Ctx, op: Gemm) -> OpPlan:
        """Compute only (operands are in SRAM), on the arrays as ``npu.mapping`` deals it."""
        sys_plan = Systolic()._plan_gemm(ctx.npu, op)
        if _per_head(ctx, op) or (op.b_source != "kv"
                                  and ctx.cfg.npu.mapping == "shared_activation_tile"):
            cycles, mapping = _shared_tile_cycles(ctx, op)
        else:
            cycles, mapping = _per_array_cycles(ctx, op)
        peak = ctx.npu.rows * ctx.npu.cols * ctx.arrays
        return OpPlan("array", np.array([1]), np.array([0]), np.array([cycles]), np.array([0]),
                      op.macs, peak, max(-(-op.macs // peak), 1), dict(sys_plan.energy_pj),
                      sram_read_bytes=sys_plan.sram_read_bytes,
                      sram_write_bytes=sys_plan.sram_write_bytes, mapping=mapping)

    def _plan_pim(self, ctx: Ctx, op: PimAttention, slowdown: float = 1.0) -> OpPlan:
        """PIM attention: every channel's program; the channels slowed ``slowdown`` times by
        normal reads beside them (dual row buffers, measured in :meth:`refine`)."""
        run = self.pim_run(ctx, op)
        accel = ctx.channel.per_dram_cycle
        # the front end and the channels work as a pipeline: the op takes the slower of the two
        channel_cycles = int(math.ceil(int(math.ceil(run["cycles"] * accel)) * slowdown))
        cycles = max(channel_cycles, run["dispatch_cycles"])
        e = ctx.dram_energy
        p = ctx.cfg.pim
        c = run["commands"]
        pim_pj = (c["MAC"] * p.mac_energy_vs_read * e.rd + c["G_ACT"] * p.gact_energy_vs_act * e.act
                  + c["GWRITE"] * (ctx.channel.spec.org["row_bytes"]
                                   // ctx.channel.spec.access_bytes) * e.rd)
        vec = ctx.npu
        soft = op.softmax
        soft_ops = soft.elements * VECTOR_OPS_PER_ELEMENT[soft.op]
        energy = {"pim": pim_pj, "vector": soft_ops * vec.fma_e.value}
        peak = self.pim_peak_macs_per_cycle(ctx)
        # every all-bank MAC step reads `macs` KV elements in each bank of its channel
        pim_read = c["MAC"] * ctx.layout_base["banks"] * p.macs_per_bank * op.kv_bits // 8
        return OpPlan("pim" if ctx.mode == "dual" else "memory", np.array([1]), np.array([0]),
                      np.array([cycles]), np.array([0]), op.macs, peak,
                      max(-(-op.macs // max(int(peak), 1)), 1), energy, vector_ops=soft_ops,
                      other_bytes={"pim_read": pim_read},
                      mapping=f"{run['channels']} channels, slowest {run['cycles']} DRAM cycles "
                              f"(mean {run['mean']:.0f}); {c['PIM_GEMV']} PIM_GEMV, "
                              f"{c['G_ACT']} G_ACT, {c['GWRITE']} GWRITE; "
                              f"{run['instructions']} {p.command_set} instructions"
                              + (f", {run['dispatch_cycles']} cycles to dispatch at "
                                 f"{p.dispatch_per_cycle}/cycle" if p.dispatch_per_cycle else "")
                              + (f"; x{slowdown:.3f} beside NPU reads (measured)"
                                 if slowdown != 1.0 else ""))

    def dispatch_cycles(self, ctx: Ctx, instructions: int) -> int:
        """Accelerator cycles the NPU's front end needs to hand out ``instructions`` PIM
        instructions at ``pim.dispatch_per_cycle`` (0: not a limit)."""
        width = ctx.cfg.pim.dispatch_per_cycle
        return -(-instructions // width) if width else 0

    def pim_peak_macs_per_cycle(self, ctx: Ctx) -> float:
        """All-bank MAC steps every tCCD_L-paced 2 DRAM cycles, in accelerator cycles."""
        spec = ctx.channel.spec
        per_dram = spec.controllers * ctx.layout_base["banks"] * ctx.cfg.pim.macs_per_bank / 2
        return per_dram / ctx.channel.per_dram_cycle

    def softmax_cycles(self, ctx: Ctx, lay: Layout, kv_len: int) -> int:
        """DRAM cycles from a request's last logit GEMV to its logits being back in DRAM: the
        softmax on one array's share of the vector lanes, the vector pipeline, and the write of
        the logit rows through the memory path."""
        v = ctx.cfg.vector
        lanes = max(1, v.lanes // ctx.arrays)
        work = lay.heads * kv_len * VECTOR_OPS_PER_ELEMENT["softmax"]
        accel = -(-work // lanes) + v.latency
        t = ctx.channel.spec.timing
        write = t["tRCDWR"] + t["CWL"] + t["tBL"]
        return int(math.ceil(accel / ctx.channel.per_dram_cycle)) + write

    def pim_run(self, ctx: Ctx, op: PimAttention, n_normal: int = 0) -> dict:
        """Run every channel's program for this op's requests (cached by lengths)."""
        key = (op.kv_lens, op.channel_sizes, op.heads, op.d_k, n_normal)
        hit = ctx.pim_cache.get(key)
        if hit is not None:
            return hit
        lay = _layout(ctx, op.d_k, op.heads)
        spec = ctx.channel.spec
        dual = ctx.mode == "dual"
        ends, normal_ends, beside = [], [], []
        total = {}
        instructions = 0
        for lens in _channel_lens(op, spec.controllers, ctx.cfg.schedule.channel_assignment, lay):
            prog = channel_program(lay, lens, [self.softmax_cycles(ctx, lay, n) for n in lens],
                                   dual, ctx.cfg.pim.command_set)
            instructions += instruction_count(prog, ctx.cfg.pim.command_set)
            r = run_program(ctx.tm, ctx.geo, dual, prog, n_normal=n_normal,
                            queue=ctx.cfg.pim.read_lookahead,
                            cols=spec.org["row_bytes"] // spec.access_bytes)
            ends.append(r.pim_end)
            normal_ends.append(r.normal_end)
            beside.append(r.reads_beside_pim)
            for k, v in r.commands.items():
                total[k] = total.get(k, 0) + v
        out = {"cycles": max(ends), "mean": float(np.mean(ends)), "commands": total,
               "channels": len(ends), "ends": ends, "beside": beside,
               "normal_ends": normal_ends, "instructions": instructions,
               "dispatch_cycles": self.dispatch_cycles(ctx, instructions)}
        ctx.pim_cache[key] = out
        return out

    # ---- the second pass: transfers beside PIM ---------------------------------------------------
    def refine(self, ctx: Ctx, ops, plans, timings) -> list | None:
        """Dual mode: measure how a saturating read stream and the PIM programs share the
        channels, then re-plan PIM ops with their slowed time and transfers that overlapped PIM
        with their stretched time. One pass (not iterated to a fixed point)."""
        if ctx.mode != "dual" or ctx.interference:
            return None
        pim_spans = [(t.start, t.end) for op, t in zip(ops, timings)
                     if isinstance(op, PimAttention)]
        dma_overlap = 0
        dma_total = 0
        for op, t in zip(ops, timings):
            if isinstance(op, Transfer):
                dma_total += t.cycles
                dma_overlap += sum(max(0, min(t.end, e) - max(t.start, s)) for s, e in pim_spans)
        if not pim_spans or dma_overlap == 0:
            ctx.interference = {"dma_stretch": 1.0, "pim_slowdown": 1.0, "read_share": 1.0,
                                "overlap": 0.0}
            return None
        first = next(op for op in ops if isinstance(op, PimAttention))
        alone = self.pim_run(ctx, first)
        n = max(1, alone["cycles"] // max(1, ctx.channel.spec.timing["tBL"]))
        both = self.pim_run(ctx, first, n_normal=n)
        share = (sum(both["beside"]) * ctx.channel.spec.timing["tBL"]
                 / max(1, sum(both["ends"])))
        overlap = dma_overlap / max(dma_total, 1)
        stretch = (1 - overlap) + overlap / max(share, 1e-3)
        slowdown = both["cycles"] / max(alone["cycles"], 1)
        ctx.interference = {"dma_stretch": stretch, "pim_slowdown": slowdown,
                            "read_share": share, "overlap": overlap}
        new = []
        for op, plan in zip(ops, plans):
            if isinstance(op, Transfer):
                new.append(self._plan_transfer(ctx, op))
            elif isinstance(op, PimAttention):
                new.append(self._plan_pim(ctx, op, slowdown))
            else:
                new.append(plan)
        return new

    def compulsory_levels(self, ctx: Ctx) -> dict[str, tuple[str, ...]]:
        """With PIM the cached keys and values are read by the banks' MAC units (``pim_read``),
        not over the bus."""
        levels = super().compulsory_levels(ctx)
        if ctx.mode != "none":
            levels["kv_read"] = ("pim_read",)
        return levels

    # ---- report extras ---------------------------------------------------------------------------
    def report_extras(self, ctx: Ctx, report) -> dict:
        cycles = max(report.cycles, 1)
        npu_macs = sum(r.macs for r in report.ops if r.unit == "array")
        pim_macs = sum(r.macs for r in report.ops if r.kind == "pim_gemv")
        npu_peak = ctx.npu.rows * ctx.npu.cols * ctx.arrays
        array_busy = sum(r.cycles for r in report.ops if r.unit == "array")
        pim_busy = sum(r.cycles for r in report.ops if r.kind == "pim_gemv")
        out = {"mode": ctx.mode, "sub_batch_interleaving": ctx.sbi, "batch": ctx.batch,
               "npu_utilization": npu_macs / (npu_peak * cycles),
               # the share of cycles the arrays hold work, as NeuPIMs' simulator counts its
               # npu_utilization (NeuPIMSystolicWS.cc update_stats: a cycle with a non-empty
               # compute pipeline counts in full)
               "npu_busy": array_busy / cycles,
               "pim_busy": pim_busy / cycles,
               "pim_utilization": (pim_macs / (self.pim_peak_macs_per_cycle(ctx) * cycles)
                                   if ctx.mode != "none" else 0.0),
               "channel_assignment": ctx.cfg.schedule.channel_assignment,
               "pim_timing_sources": PIM_TIMING_SOURCES}
        if ctx.interference:
            out["dual_row_buffer_interference"] = dict(ctx.interference)
        return out

    # ---- area and power ----------------------------------------------------------------------
    def area(self, ctx: Ctx) -> dict[str, AreaItem]:
        items = Systolic().area(ctx.npu)
        pe = items["pe_array"]
        items["pe_array"] = AreaItem(pe.mm2 * ctx.arrays, pe.entries,
                                     f"{ctx.arrays} arrays of {pe.detail}")
        return items

    def pricing(self, ctx: Ctx) -> dict[str, list[str]]:
        out = Systolic().pricing(ctx.npu)
        p = ctx.cfg.pim
        out["pim"] = [f"all-bank MAC = {p.mac_energy_vs_read} x RD energy "
                      f"({PIM.fields['mac_energy_vs_read'].source})",
                      f"G_ACT = {p.gact_energy_vs_act} x ACT energy "
                      f"({PIM.fields['gact_energy_vs_act'].source})",
                      "GWRITE = row_bytes / access_bytes x RD energy (NeuPIMs@f299af3 NewtonSim)",
                      "RD / ACT energies from the DRAM preset's IDD currents (docs/memory.md)"]
        return out


# ---- helpers ----------------------------------------------------------------------------------
def _layout(ctx: Ctx, d_k: int, heads: int) -> Layout:
    """The attention layout on this arch's PIM banks for ``heads`` heads of ``d_k``."""
    b = ctx.layout_base
    return Layout(b["banks"], b["row_elems"], b["macs"], d_k, heads)


def fold_interval(ctx: Ctx, m: int) -> int:
    """Cycles between consecutive folds on one array when folds are pipelined as in ONNXim's
    weight-stationary core (the NPU model of NeuPIMs): the next fold's M rows stream in behind
    the current one (``max(M, 4)``, ONNXim's instruction offset), and its weight tile, shifted
    in during the current fold, needs ``R`` cycles (``serial`` preload: ``R + max(M, 4)``).
    Fill and drain (``R + C - 2``) are paid once per op."""
    stream = max(m, 4)
    r = ctx.npu.rows
    if ctx.cfg.array.stationary_preload == "double_buffered":
        return max(stream, r)
    return r + stream


def _fuse_qkv(ops) -> tuple:
    """Each layer's consecutive ``q_proj``, ``k_proj``, ``v_proj`` (same tokens and input
    width) as one ``qkv_proj`` GEMM over the concatenated weight columns."""
    out: list = []
    for op in ops:
        prev = out[-2:] if len(out) >= 2 else []
        if (isinstance(op, Gemm) and op.name == "v_proj" and len(prev) == 2
                and [p.name for p in prev] == ["q_proj", "k_proj"]
                and all(p.layer == op.layer and p.m == op.m and p.k == op.k
                        and p.b_bits == op.b_bits for p in prev)):
            q, k = prev
            out[-2:] = [replace(q, name="qkv_proj", n=q.n + k.n + op.n,
                                param_elems=q.param_elems + k.param_elems + op.param_elems)]
            continue
        out.append(op)
    return tuple(out)


def _instances(op: Gemm) -> list[tuple[Gemm, int]]:
    """``(gemm, how many)`` pairs that make up ``op``: one entry per distinct KV length for
    attention products with per-request lengths (one request's heads each), else ``op``."""
    if not op.kv_lens:
        return [(op, 1)]
    return [(_sub_attention(op, (n,), 1.0), c) for n, c in _counts(op.kv_lens).items()]


def _per_array_cycles(ctx: Ctx, op: Gemm) -> tuple[int, str]:
    """Each array takes whole folds (its own weight tile), dealt in rounds; folds are pipelined
    (:func:`fold_interval`) and the fill and drain are paid once per op."""
    folds = 0
    steady = 0
    for one, c in _instances(op):
        g = fold_grid("ws", ctx.npu.rows, ctx.npu.cols, one.m, one.n, one.k,
                      ctx.cfg.array.stationary_preload)
        folds += g.n * one.count * c
        steady = max(steady, fold_interval(ctx, one.m))
    rounds = -(-folds // ctx.arrays)
    cycles = ctx.npu.rows + ctx.npu.cols - 2 + rounds * steady
    return cycles, (f"ws {ctx.npu.rows}x{ctx.npu.cols} x {ctx.arrays} arrays: {folds} folds in "
                    f"{rounds} rounds of {steady} cycles")


def _per_head(ctx: Ctx, op: Gemm) -> bool:
    """An attention product issued head by head (``npu.attention_issue: per_head``)."""
    return op.b_source == "kv" and ctx.cfg.npu.attention_issue == "per_head"


def _shared_tile_cycles(ctx: Ctx, op: Gemm) -> tuple[int, str]:
    """:func:`shared_tile_cycles` of this op's products on this NPU, and its mapping text.
    With ``npu.attention_issue: per_head`` every (request, head) attention product starts from
    an empty pipeline, as an in-order core runs them between dependent softmaxes."""
    R, C = ctx.npu.rows, ctx.npu.cols
    per_head = _per_head(ctx, op)
    shapes = [(one.m, one.n, one.k, one.count * c) for one, c in _instances(op)]
    serial = ctx.cfg.array.stationary_preload == "serial"
    cycles = shared_tile_cycles(R, C, ctx.arrays, serial, shapes, per_head)
    tiles = sum(-(-k // R) * -(-m // C) * n for m, _, k, n in shapes)
    how = "each product from an empty pipeline" if per_head else "back to back"
    return cycles, (f"{ctx.arrays} arrays of {R}x{C} share {tiles} activation tiles, "
                    f"{ctx.arrays}-way split {C}-column weight blocks, {how}")


def shared_tile_cycles(rows: int, cols: int, arrays: int, serial: bool, shapes,
                       per_product: bool = False) -> int:
    """Cycles of GEMM products ``shapes`` (``(m, n, k, count)``: m tokens, n weight columns)
    on ``arrays`` arrays that hold one activation tile (``rows`` of k x ``cols`` tokens) and
    split every streamed ``cols``-wide block of weight columns between them, in the order
    token tile, k tile, column block (NeuPIMs@f299af3 MatMul.cc, NeuPIMSystolicWS.cc).

    * A block takes ``step = max(ceil(cols / arrays), 4)`` cycles.
    * A tile's preload delays its first block ``rows`` cycles (``serial``: the instruction
      starts ``core_height`` after the previous one); double-buffered it takes one step.
    * An empty pipeline's first preload starts ``2 rows - 1`` cycles after issue (SRAM read
      and shift-in); the last block drains ``rows + cols - 2 + step`` cycles.
    * ``per_product``: every product starts from an empty pipeline (in-order issue between
      dependent ops); otherwise all are pipelined back to back.

    :func:`sim.families.npu_pim.reference.shared_tile_reference` issues the same instructions
    one by one; tests demand equal cycles."""
    step = max(-(-cols // arrays), 4)
    preload = rows if serial else step
    fill, drain = 2 * rows - 1 - preload, rows + cols - 2 + step
    cycles = 0
    for m, n, k, count in shapes:
        folds = -(-k // rows) * -(-m // cols)
        span = folds * (preload + (-(-n // cols) - 1) * step)
        cycles += (fill + span + drain) * count if per_product else span * count
    return cycles if per_product else cycles + fill + drain


def _batch_of(ops) -> int:
    """Requests in a decode graph (one token each) when no workload config told the batch."""
    first = next(op for op in ops if isinstance(op, Gemm) and op.b_source == "weight")
    return first.m


def _channel_lens(op: PimAttention, channels: int, policy: str, lay: Layout) -> list[list[int]]:
    """The KV lengths on each channel: pinned by ``op.channel_sizes``, else assigned now."""
    if op.channel_sizes:
        ends = np.cumsum((0,) + op.channel_sizes)
        return [list(op.kv_lens[a:b]) for a, b in zip(ends[:-1], ends[1:])]
    return [[op.kv_lens[i] for i in reqs]
            for reqs in assign_channels(op.kv_lens, channels, policy, lay)]


def _kv_lens(ops, batch: int) -> tuple[int, ...]:
    att = next((op for op in ops if isinstance(op, Gemm) and op.b_source == "kv"), None)
    if att is None:
        return (0,) * batch
    return att.kv_lens or (att.n,) * batch


def _tapered(parts: list[Gemm], rows: int) -> list[Gemm]:
    """``parts`` with the last one halved again and again down to ``rows`` k-rows: the compute
    left after the last transfer is then one k tile's, as when the hardware streams tile by
    tile, while the other parts keep their coarse size (few simulated ops)."""
    out = list(parts[:-1])
    last = parts[-1]
    while last.k > rows:
        k = max(rows, last.k // 2 // rows * rows)
        head = replace(last, k=k, param_elems=last.param_elems * k // last.k)
        last = replace(last, k=last.k - k, param_elems=last.param_elems - head.param_elems)
        out.append(head)
    return out + [last]


def _weight_chunks(op: Gemm, chunk: int, align: int, axis: str = "n") -> list[Gemm]:
    """A weight GEMM split along ``axis`` (``n``: output columns, ``k``: the reduction, whose
    parts' partial sums add up) so that each part's weights fit in ``chunk`` bytes; parts are
    multiples of ``align`` (the array width or height)."""
    length = getattr(op, axis)
    line_bytes = (op.k if axis == "n" else op.n) * op.b_bits / 8
    part = max(align, int(chunk // line_bytes) // align * align)
    if part >= length:
        return [op]
    return [replace(op, **{axis: min(part, length - start)},
                    param_elems=op.param_elems * min(part, length - start) // length)
            for start in range(0, length, part)]


def _streamed_weight_parts(op: Gemm, chunk: int, tile_bytes: int, rows: int,
                           cols: int) -> list:
    """A weight GEMM on arrays that hold activation tiles (``npu.mapping:
    shared_activation_tile``), in NeuPIMs' loop order: token tile, k tile, weight block.

    The weights are cut along k into L2 tiles of at most ``tile_bytes`` (NeuPIMs halves its
    largest GEMM dimension until the tile fits half the scratchpad). Within one, the first
    token tile's pass streams every weight from DRAM (transfers of ``chunk`` bytes, each
    followed by its part of the pass); the other token tiles (``.rest``) reuse the weights
    from SRAM."""
    first_m = min(op.m, cols)
    out: list = []
    j = 0
    for tile in _weight_chunks(op, tile_bytes, rows, "k"):
        for part in _tapered(_weight_chunks(replace(tile, m=first_m), chunk, rows, "k"), rows):
            nm = f"{op.name}.{j}" if j else op.name
            out += [Transfer(nm + ".w", op.layer, op.role, part.b_bytes, "weights"),
                    replace(part, name=nm)]
            j += 1
        if op.m > cols:
            out.append(replace(tile, name=f"{op.name}.{j - 1}.rest", m=op.m - cols,
                               param_elems=0))
    return out


def _own_requests(ctx: Ctx, op: Gemm, lens: tuple, frac: float) -> tuple[Gemm, tuple]:
    """An attention product of a sub-batch (``lens``, ``frac`` of the batch) and its requests'
    key counts; the whole batch keeps the product's own requests (a mixed serving step holds
    one product per prompt chunk beside one for its decodes)."""
    if frac < 1 or not ctx.kv_heads:
        return _sub_attention(op, lens, frac), lens
    keys = op.n if op.name.startswith("attn_qk") else op.k
    return op, op.kv_lens or (keys,) * max(1, op.count // ctx.kv_heads)


def _request_chunks(op: Gemm, lens: tuple, chunk: int) -> list[Gemm]:
    """An attention product split into groups of requests whose KV fits in ``chunk`` bytes."""
    if not op.kv_lens:
        per = op.count // max(len(lens), 1)
        step = max(1, int(chunk // max(op.b_bytes // max(op.count, 1) * per, 1)))
        out = []
        for start in range(0, len(lens), step):
            k = min(step, len(lens) - start)
            out.append(replace(op, count=per * k))
        return out
    out, group, size = [], [], 0
    per_key = op.count * (op.k if op.name.startswith("attn_qk") else op.n) * op.b_bits / 8
    for n in lens:
        if group and size + n * per_key > chunk:
            out.append(_sub_attention(op, tuple(group), 1.0))
            group, size = [], 0
        group.append(n)
        size += n * per_key
    if group:
        out.append(_sub_attention(op, tuple(group), 1.0))
    return out


def _counts(lens) -> dict:
    out: dict = {}
    for n in lens:
        out[n] = out.get(n, 0) + 1
    return out


def _sub_attention(op: Gemm, lens: tuple, frac: float) -> Gemm:
    """The attention product of a subset of requests (``lens``)."""
    if op.kv_lens:
        heads = op.count
        total = sum(lens)
        if op.name.startswith("attn_qk"):
            return replace(op, n=total, count=heads, kv_lens=tuple(lens))
        return replace(op, k=total, count=heads, kv_lens=tuple(lens))
    return replace(op, count=max(1, round(op.count * frac)))


def _scale_vec(op: Elementwise, frac: float, name: str) -> Elementwise:
    """An element-wise op over a fraction of the batch (parameters are read in full)."""
    def s(x):
        return int(round(x * frac))
    return replace(op, name=name, elements=max(1, s(op.elements)), in_elems=s(op.in_elems),
                   out_elems=s(op.out_elems), kv_write_elems=s(op.kv_write_elems))


def _attention_fused(ops, batch: int) -> list:
    """Each layer's QK^T, softmax and PV replaced by one PimAttention (the KV cache stays in
    the banks)."""
    def make(qk: Gemm, softmax, pv) -> PimAttention:
        lens = qk.kv_lens or (qk.n,) * batch
        heads = qk.count if qk.kv_lens else qk.count // batch
        return PimAttention("attention", qk.layer, "attention", tuple(lens), heads, qk.k,
                            qk.b_bits, softmax)
    return replace_attention(ops, make)


def _schedule(chains: list[list], capacity: int, prefetch: bool, restream: bool,
              across_ops: bool = True):
    """Merge the sub-batch op chains (interleaved op by op, the units' program order) and
    return ``(ops, deps)``.

    A compute op waits for the previous compute op of its chain and for its transfer. A
    transfer waits until the SRAM share ``capacity`` (bytes) can hold it beside the transfers
    whose consumers have not finished (without ``prefetch``: until the previous compute op is
    done). Without ``restream`` later sub-batches reuse the first one's weight transfer.
    Without ``across_ops`` a transfer also waits for the last compute op of the op before its
    own (parts ``name.N`` and ``name.N.rest`` are one op).
    """
    out, deps, index = [], [], {}
    shared: dict = {}
    for pos in range(max(len(c) for c in chains)):
        for sb, chain in enumerate(chains):
            if pos >= len(chain):
                continue
            op = chain[pos]
            key = (op.layer, op.name.split(".sb")[0])
            if isinstance(op, Transfer) and op.what == "weights" and not restream and sb:
                index[(sb, pos)] = shared[key]
                continue
            index[(sb, pos)] = len(out)
            if isinstance(op, Transfer):
                shared[key] = len(out)
            out.append(op)
            deps.append(())
    for sb, chain in enumerate(chains):
        prev = None
        held: list = []       # [consumer index, bytes] of transfers in SRAM, in order
        tile_start = 0        # first entry of held that the next ``.rest`` part re-reads
        last = {}             # (layer, op name) -> its last compute op so far
        before = None         # the last compute op of the op before the current one
        pending = None
        for pos, op in enumerate(chain):
            i = index[(sb, pos)]
            if isinstance(op, Transfer):
                if not restream and sb and op.what == "weights":
                    pending = i
                    continue
                wait = None
                if not prefetch:
                    wait = prev
                else:
                    total = sum(b for _, b in held) + op.nbytes
                    for consumer, b in held:
                        if total <= capacity:
                            break
                        wait, total = consumer, total - b
                owner = (op.layer, _op_base(op.name.rsplit(".", 1)[0]))  # "X.w" feeds X
                if owner not in last:
                    before = prev
                waits = {wait, None if across_ops else before} - {None}
                deps[i] = tuple(sorted(waits))
                pending = i
                held.append([None, op.nbytes])
                continue
            d = {prev} if prev is not None else set()
            if pending is not None:
                d.add(pending)
                for h in held:
                    if h[0] is None:
                        h[0] = i
                pending = None
            if op.name.endswith(".rest"):
                # the other token tiles re-read the tile's weights: they stay in SRAM until
                # this part is done
                for h in held[tile_start:]:
                    h[0] = i
                tile_start = len(held)
            deps[i] = tuple(sorted(x for x in d if x is not None))
            prev = i
            last[(op.layer, _op_base(op.name))] = i
    return out, deps


def _op_base(name: str) -> str:
    """The op a lowered part belongs to: ``fc1.sb1.2.rest`` and ``fc1.sb1.2`` -> ``fc1.sb1``."""
    parts = name.split(".")
    if parts[-1] == "rest":
        parts.pop()
    if len(parts) > 1 and parts[-1].isdigit():
        parts.pop()
    return ".".join(parts)
