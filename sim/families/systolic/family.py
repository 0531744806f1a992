"""TPU-like NPU: an R x C systolic array (OS / WS / IS), SRAM buffers, vector unit, DRAM.

Compute timing is SCALE-Sim v3's fold model (see :mod:`sim.families.systolic.kernel`), proven exact
by the register-level model in :mod:`sim.families.systolic.reference` and against the ``scalesim``
package. Memory timing comes from the event core: each fold is a tile whose operands are streamed
from DRAM through double-buffered SRAM (:mod:`sim.core.pipeline_kernel`), so a small SRAM or a slow
DRAM shows up as stall cycles, reported apart from compute cycles.

Mapping (per GEMM, column folds outer, row folds inner, like SCALE-Sim):

* os: rows <- M, cols <- N, time <- K. The A block of a row fold is reused across column folds
  when the whole A fits in half the ifmap buffer; the B block of a column fold is kept across its
  row folds when it fits in half the filter buffer. Each fold writes its R x C outputs.
* ws: rows <- K, cols <- N, time <- M. The weight tile is loaded once per fold; the A block of a
  row fold is reused across column folds when A fits in half the ifmap buffer; partial sums of a
  column fold stay in the ofmap buffer across row folds (spilled to DRAM if they do not fit).
* is: rows <- K, cols <- M, time <- N. As ws with A stationary and B streaming.

Activations (GEMM inputs and outputs, vector-op operands) stay on chip when the tensor fits in
half the ifmap buffer, otherwise they go through DRAM; weights and the KV cache always come from
DRAM.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.core.components import POWER, TECH, VECTOR, sram_section, sram_word_bytes
from sim.core.config import Config, Field, Section
from sim.core.costs import CostModel, Price, source_of
from sim.core.engine import coalesce
from sim.core.errors import ConfigError, where
from sim.core.family import AreaItem, Family, OpPlan, register_family
from sim.families.systolic.kernel import DATAFLOWS, PRELOADS, Folds, fold_grid, spatial_map
from sim.memory import DRAM, DramSystem
from sim.memory.sram import SramBuffer, source as sram_source
from sim.core.ops import Elementwise, Gemm, bits_to_bytes
from sim.core.vector_unit import plan_vector, precision_problems

ARRAY = Section("The systolic PE array", {
    "rows": Field("int", 128, "PE rows (R)", positive=True, maximum=65536),
    "cols": Field("int", 128, "PE columns (C)", positive=True, maximum=65536),
    "dataflow": Field("enum", "ws", "Which operand stays in the PEs", choices=DATAFLOWS),
    "stationary_preload": Field(
        "enum", "serial",
        "ws/is: 'serial' loads each fold's stationary tile before it streams (SCALE-Sim); "
        "'double_buffered' shifts it into shadow registers during the previous fold",
        choices=PRELOADS),
    "number_format": Field("enum", "fp", "Multiplier arithmetic", choices=("int", "fp")),
    "input_bits": Field("int", 16, "Activation operand width", unit="bits", minimum=1, maximum=32),
    "weight_bits": Field("int", 16, "Weight / KV operand width", unit="bits", minimum=1, maximum=32),
    "acc_bits": Field("int", 32, "Accumulator and partial-sum width", unit="bits", minimum=1,
                      maximum=64),
})

SCHEMA = Section("Systolic-array NPU", {
    "name": Field("str", "systolic", "Display name of this design point"),
    "description": Field("str", None, "Free text", nullable=True),
    "tech": TECH,
    "array": ARRAY,
    "sram": sram_section("On-chip SRAM buffers (SCALE-Sim's three scratchpads)",
                         {"ifmap": 8 * 2**20, "filter": 8 * 2**20, "ofmap": 4 * 2**20}),
    "vector": VECTOR,
    "dram": DRAM,
    "power": POWER,
})


@dataclass
class Ctx:
    """Everything a plan needs, computed once per arch."""

    cfg: Config
    file: str | None
    costs: CostModel
    channel: DramSystem
    rows: int
    cols: int
    dataflow: str
    resident_bytes: int
    mac_e: Price
    mac_a: Price
    reg_e: Price
    reg_a: Price
    fma_e: Price
    fma_a: Price
    sram: dict[str, SramBuffer]
    sram_rd: dict[str, Price]
    sram_wr: dict[str, Price]


@register_family
class Systolic(Family):
    kind = "systolic"
    description = "TPU-like NPU: R x C systolic array (os/ws/is), SRAM buffers, vector unit, DRAM"
    schema = SCHEMA
    energy_components = ("mac", "pe_registers")

    # ---- configuration -------------------------------------------------------------------
    def check(self, cfg: Config, file: str | None) -> list[str]:
        a, s = cfg.array, cfg.sram
        out = []
        tile = a.rows * a.cols
        if a.dataflow == "ws":
            need, buf, what = 2 * bits_to_bytes(tile, a.weight_bits), "filter", "weight"
        elif a.dataflow == "is":
            need, buf, what = 2 * bits_to_bytes(tile, a.input_bits), "ifmap", "input"
        else:
            need, buf, what = bits_to_bytes(tile, a.acc_bits), "ofmap", "output"
        if s[buf] < need:
            out.append(f"{where(file, 'sram.' + buf)}: {s[buf]:.0f} B cannot hold the "
                       f"{'two ' if a.dataflow != 'os' else ''}{a.rows}x{a.cols} stationary "
                       f"{what} tile{'s' if a.dataflow != 'os' else ''} of the {a.dataflow} "
                       f"dataflow; needs >= {need} B")
        stream = 2 * bits_to_bytes(max(a.rows, a.cols), max(a.input_bits, a.weight_bits))
        for name in ("ifmap", "filter"):
            if s[name] < stream:
                out.append(f"{where(file, 'sram.' + name)}: {s[name]:.0f} B cannot double-buffer "
                           f"one operand column ({stream} B)")
        if a.dataflow == "os" and a.stationary_preload != "serial":
            out.append(f"{where(file, 'array.stationary_preload')}: "
                       f"{a.stationary_preload!r} applies to the ws and is dataflows only; "
                       f"allowed with os: 'serial'")
        demand = sram_demand(cfg)
        for name, buf in sram_buffers(cfg).items():
            need = demand[name]
            if buf.bytes_per_cycle < need:
                out.append(f"{where(file, 'sram.width')}: {buf.banks} banks x {buf.width} B x "
                           f"{buf.ports} port(s) = {buf.bytes_per_cycle} B/cycle cannot feed the "
                           f"{name} edge of the array ({need} B/cycle); allowed: width >= "
                           f"{-(-need // (buf.banks * buf.ports))} B, more banks, or null")
        if a.acc_bits < max(a.input_bits, a.weight_bits):
            out.append(f"{where(file, 'array.acc_bits')}: {a.acc_bits} is narrower than the "
                       f"operands ({max(a.input_bits, a.weight_bits)} bits)")
        return out

    def native_bits(self, cfg: Config) -> dict[str, int]:
        return {"weight_bits": cfg.array.weight_bits, "act_bits": cfg.array.input_bits}

    def check_workload(self, ctx: Ctx, workload) -> list[str]:
        a = ctx.cfg.array
        return precision_problems(workload, ctx.file, {
            "weight_bits": (a.weight_bits, "array.weight_bits"),
            "act_bits": (a.input_bits, "array.input_bits"),
            "kv_bits": (a.weight_bits, "array.weight_bits"),
            "attention_bits": (a.input_bits, "array.input_bits")})

    def prepare(self, cfg: Config, file: str | None) -> Ctx:
        t, a = cfg.tech, cfg.array
        costs = CostModel(t.node_nm, t.vdd)
        mac_e, mac_a = costs.mac(a.number_format, a.input_bits, a.weight_bits, a.acc_bits)
        reg_e, reg_a = costs.register_bit()
        fma_e, fma_a = costs.fp32_fma()
        sram = sram_buffers(cfg)
        rd = {b: buf.read_pj_per_bit(costs) for b, buf in sram.items()}
        wr = {b: buf.write_pj_per_bit(costs) for b, buf in sram.items()}
        return Ctx(cfg, file, costs, DramSystem(cfg.dram, file, t.frequency), a.rows, a.cols,
                   a.dataflow, int(cfg.sram.ifmap // 2), mac_e, mac_a, reg_e, reg_a, fma_e, fma_a,
                   sram, rd, wr)

    def units(self, ctx: Ctx) -> list[str]:
        return ["array", "vector"]

    # ---- mapping ---------------------------------------------------------------------------
    def plan(self, ctx: Ctx, op) -> OpPlan:
        if isinstance(op, Gemm):
            return self._plan_gemm(ctx, op)
        if isinstance(op, Elementwise):
            return self._plan_vector(ctx, op)
        raise TypeError(f"systolic family cannot map {type(op).__name__}")

    def _plan_gemm(self, ctx: Ctx, op: Gemm) -> OpPlan:
        cfg, R, C, df = ctx.cfg, ctx.rows, ctx.cols, ctx.dataflow
        acc = cfg.array.acc_bits
        _check_fold_count(ctx, op)
        folds = fold_grid(df, R, C, op.m, op.n, op.k, cfg.array.stationary_preload)
        first_cpf, cpf = folds.first_cycles, folds.later_cycles
        a_resident = op.a_bytes <= ctx.resident_bytes
        c_resident = op.c_bytes <= ctx.resident_bytes
        if df == "os":
            load, store, sram = _os_traffic(cfg, op, folds, C, a_resident, c_resident)
            stationary_loads = 0
        else:
            load, store, sram = _stationary_traffic(cfg, op, folds, C, df, a_resident, c_resident)
            # each fold shifts its stationary tile down through R rows of R x C registers
            stat_bits = op.b_bits if df == "ws" else op.a_bits
            stationary_loads = folds.n * R * C * R * stat_bits
        n_folds = folds.n
        reps = op.count
        counts, load_g, comp_g, store_g = _first_tile_cycles(_repeat_groups(
            coalesce(np.ones(n_folds, dtype=np.int64), load,
                     np.full(n_folds, cpf, dtype=np.int64), store), reps), first_cpf)
        # ---- pricing (pJ) ----
        macs = op.macs
        sram_pj = sum(reps * 8 * (rw[0] * ctx.sram_rd[b].value + rw[1] * ctx.sram_wr[b].value)
                      for b, rw in sram.items())
        reg_bits = macs * (op.a_bits + acc) + reps * stationary_loads
        energy = {  # DRAM energy is priced by the DRAM system once the op's time is known
            "mac": macs * ctx.mac_e.value,
            "pe_registers": reg_bits * ctx.reg_e.value,
            "sram": float(sram_pj),
        }
        compulsory = op.b_bytes + (0 if a_resident else op.a_bytes) + (0 if c_resident else op.c_bytes)
        roofline = max(math.ceil(macs / (R * C)), ctx.channel.peak_cycles(compulsory))
        mapping = (f"{df} {R}x{C}: {n_folds} folds x {reps} of {cpf} cycles"
                   f"{f' (first {first_cpf})' if first_cpf != cpf else ''}; "
                   f"A {'on chip' if a_resident else 'DRAM'}, C {'on chip' if c_resident else 'DRAM'}")
        return OpPlan("array", counts, load_g, comp_g, store_g, macs, R * C, roofline, energy,
                      sram_read_bytes=int(reps * sum(v[0] for v in sram.values())),
                      sram_write_bytes=int(reps * sum(v[1] for v in sram.values())),
                      mapping=mapping)

    def _plan_vector(self, ctx: Ctx, op: Elementwise) -> OpPlan:
        return plan_vector(op, ctx.cfg.vector, ctx.resident_bytes, ctx.channel, ctx.fma_e.value,
                           ctx.sram_rd["ifmap"].value, ctx.sram_wr["ifmap"].value)

    # ---- area and power ----------------------------------------------------------------------
    def area(self, ctx: Ctx) -> dict[str, AreaItem]:
        cfg, a = ctx.cfg, ctx.cfg.array
        # input, stationary operand and partial-sum registers, plus a shadow copy of the
        # stationary operand when the next tile is preloaded during the current fold
        reg_bits = a.input_bits + a.weight_bits + a.acc_bits
        if a.stationary_preload == "double_buffered":
            reg_bits += a.weight_bits if a.dataflow == "ws" else a.input_bits  # shadow tile
        pe_um2 = ctx.mac_a.value + reg_bits * ctx.reg_a.value
        items = {
            "pe_array": AreaItem(ctx.rows * ctx.cols * pe_um2 * 1e-6,
                                 ctx.mac_a.entries + ctx.reg_a.entries,
                                 f"{ctx.rows}x{ctx.cols} PEs of {pe_um2:.0f} um2 "
                                 f"(MAC + {reg_bits} register bits)"),
        }
        for b in ("ifmap", "filter", "ofmap"):
            buf = ctx.sram[b]
            p = buf.area_mm2(ctx.costs)
            items[f"sram_{b}"] = AreaItem(p.value, p.entries,
                                          f"{cfg.sram[b] / 2**20:.3g} MiB in {buf.banks} banks of "
                                          f"{buf.width} B words, {buf.ports} port(s)")
        items["vector_unit"] = AreaItem(cfg.vector.lanes * ctx.fma_a.value * 1e-6, ctx.fma_a.entries,
                                        f"{cfg.vector.lanes} FP32 FMA lanes")
        if cfg.dram.phy_area > 0:
            items["dram_phy"] = AreaItem(cfg.dram.phy_area, ("config: dram.phy_area",),
                                         "as configured (not node-scaled)")
        return items

    def pricing(self, ctx: Ctx) -> dict[str, list[str]]:
        def cite(price: Price) -> list[str]:
            return [f"{e}: {source_of(e)}" if not e.startswith("config:") else e
                    for e in price.entries] + ([price.rule] if price.rule else [])
        return {"mac": cite(ctx.mac_e), "pe_registers": cite(ctx.reg_e),
                "sram": [f"sram_cacti_45nm: {sram_source()}"],
                "vector": cite(ctx.fma_e)}


def sram_demand(cfg: Config) -> dict[str, int]:
    """Bytes per cycle each scratchpad feeds the array's edge: ifmap a column of R inputs,
    filter a row of C weights, ofmap C partial sums."""
    a = cfg.array
    return {"ifmap": bits_to_bytes(a.rows, a.input_bits),
            "filter": bits_to_bytes(a.cols, a.weight_bits),
            "ofmap": bits_to_bytes(a.cols, a.acc_bits)}


def sram_buffers(cfg: Config) -> dict[str, SramBuffer]:
    """The three scratchpads, each wide enough (unless configured) for :func:`sram_demand`."""
    s = cfg.sram
    return {b: SramBuffer(s[b], s.banks, sram_word_bytes(s, d), s.ports)
            for b, d in sram_demand(cfg).items()}


def _os_traffic(cfg: Config, op: Gemm, g: Folds, cols: int, a_resident: bool,
                c_resident: bool):
    """Output stationary: per-fold DRAM load/store bytes and per-buffer SRAM [read, write] bytes.

    The A block of a row fold is reused across column folds when the whole A fits in half the
    ifmap buffer; the B block of a column fold is kept across its row folds when it fits in half
    the filter buffer.
    """
    a_blk = _nbytes(g.r_used * g.t, op.a_bits)
    a_reuse = bits_to_bytes(op.m * op.k, op.a_bits) <= cfg.sram.ifmap / 2
    a_fetch = np.where(g.first_col_pass | (not a_reuse), a_blk, 0)
    b_blk = _nbytes(g.t * g.c_used, op.b_bits)
    b_keep = bits_to_bytes(g.t * cols, op.b_bits) <= cfg.sram.filter / 2
    b_fetch = np.where((g.i == 0) | (not b_keep), b_blk, 0)
    load = (0 if a_resident else a_fetch) + b_fetch
    out = _nbytes(g.r_used * g.c_used, op.c_bits)
    store = np.zeros_like(out) if c_resident else out
    sram = {"ifmap": [a_blk.sum(), a_fetch.sum()], "filter": [b_blk.sum(), b_fetch.sum()],
            "ofmap": [store.sum(), out.sum()]}
    return load, store, sram


def _stationary_traffic(cfg: Config, op: Gemm, g: Folds, cols: int, df: str,
                        a_resident: bool, c_resident: bool):
    """Weight or input stationary: per-fold DRAM bytes and per-buffer SRAM [read, write] bytes.

    ws keeps B in the PEs and streams A; is keeps A and streams B. The streamed block of a row
    fold is reused across column folds when its whole tensor fits in half its buffer; partial
    sums of a column fold stay in the ofmap buffer across row folds, or spill to DRAM.
    """
    acc = cfg.array.acc_bits
    i = g.i
    last_row = i == g.row_folds - 1
    a_inst = bits_to_bytes(op.m * op.k, op.a_bits)
    b_inst = bits_to_bytes(op.k * op.n, op.b_bits)
    if df == "ws":
        stat_bits, stream_bits, stream_fits = op.b_bits, op.a_bits, a_inst <= cfg.sram.ifmap / 2
        stat_buf, stream_buf = "filter", "ifmap"
    else:
        stat_bits, stream_bits, stream_fits = op.a_bits, op.b_bits, b_inst <= cfg.sram.filter / 2
        stat_buf, stream_buf = "ifmap", "filter"
    stat = _nbytes(g.r_used * g.c_used, stat_bits)
    stream = _nbytes(g.t * g.r_used, stream_bits)
    stream_fetch = np.where(g.first_col_pass | (not stream_fits), stream, 0)
    psum = _nbytes(g.t * g.c_used, acc)
    keep_psum = bits_to_bytes(g.t * cols, acc) <= cfg.sram.ofmap
    spill_w = np.where(~last_row & (not keep_psum), psum, 0)
    spill_r = np.where((i > 0) & (not keep_psum), psum, 0)
    out = np.where(last_row, _nbytes(g.t * g.c_used, op.c_bits), 0)
    stat_dram = np.zeros_like(stat) if (df == "is" and a_resident) else stat
    stream_dram = np.zeros_like(stream) if (df == "ws" and a_resident) else stream_fetch
    load = stat_dram + stream_dram + spill_r
    store = (np.zeros_like(out) if c_resident else out) + spill_w
    sram = {stat_buf: [stat.sum(), stat_dram.sum()],
            stream_buf: [stream.sum(), stream_fetch.sum()],
            "ofmap": [np.where(i > 0, psum, 0).sum() + (0 if c_resident else out.sum())
                      + spill_w.sum(),
                      np.where(last_row, 0, psum).sum() + out.sum() + spill_r.sum()]}
    return load, store, sram


def _repeat_groups(groups: tuple, reps: int) -> tuple:
    """Tile groups of one GEMM instance repeated for ``reps`` identical instances."""
    counts, *cols = groups
    if len(counts) == 1:
        return (counts * reps, *cols)
    return coalesce(np.tile(counts, reps), *[np.tile(c, reps) for c in cols])


#: folds one GEMM may take: the plan holds a few integers per fold, so this bounds its memory
#: (about 1 GB at the limit); LLaMA-7B's FFN on a 4x4 array has 2.8 million
MAX_FOLDS = 2**22


def _check_fold_count(ctx: Ctx, op: Gemm) -> None:
    """Refuse a GEMM that would fold onto the array more than :data:`MAX_FOLDS` times."""
    sr, sc, _ = spatial_map(ctx.dataflow, op.m, op.n, op.k)
    folds = -(-sr // ctx.rows) * -(-sc // ctx.cols)
    if folds > MAX_FOLDS:
        raise ConfigError(f"{where(ctx.file, 'array.rows')}: op {op.name} ({op.shape}) folds "
                          f"{folds:,} times onto the {ctx.rows}x{ctx.cols} array; the simulator "
                          f"plans at most {MAX_FOLDS:,} folds per GEMM (memory grows with "
                          f"folds); allowed: a larger array or a smaller workload")


def _first_tile_cycles(groups: tuple, first_cycles: int) -> tuple:
    """Give the op's first tile ``first_cycles`` of compute (it pays the unhidden preload)."""
    counts, load, comp, store = groups
    if comp[0] == first_cycles:
        return groups
    head = (np.array([1]), load[:1], np.array([first_cycles]), store[:1])
    counts = counts.copy()
    counts[0] -= 1
    keep = counts > 0
    return tuple(np.concatenate([h, x[keep]]) for h, x in zip(head, (counts, load, comp, store)))


def _nbytes(elems: np.ndarray, bits: int) -> np.ndarray:
    return (np.asarray(elems, dtype=np.int64) * bits + 7) // 8
