"""Bit-weight and bit-slice MAC tensor engines (HPCA'25 TPEs, Stripes, Bit Fusion, Bit-Tactical,
Laconic, MixPE): ``kind: bitslice``.

``engine.organization`` picks the array and ``engine.pe`` the PE microarchitecture:

=============  =====================  ==========================================================
organization   pe                     timing of one GEMM C[M,N] = A[M,K] B[K,N]
=============  =====================  ==========================================================
systolic       mac, opt1              SCALE-Sim fold model (os: rows<-M, cols<-N; ws: rows<-K)
cube           mac, opt1              tiles of rows(M) x cols(N); ceil(K/depth) cycles each
adder_tree     mac, opt2              as cube (cols trees of depth inputs, rows tree groups)
matrix2d       mac, opt1              as cube with depth 1 (broadcast 2D PE matrix)
bit_serial     opt3, opt4c, opt4e,    rows units side by side, each with cols PEs sharing one
               stripes, tactical,     serial operand row; a unit's cycles depend on that row's
               laconic, bitfusion,    bits (:mod:`sim.families.bitslice.kernel`); a tile of rows units
               mixpe                  ends with its slowest unit
=============  =====================  ==========================================================

In ``bit_serial`` the *serial* operand is consumed term by term and the *parallel* operand sits
in the PEs. OPT3/4C/4E take either (``serial_operand``: ``auto`` uses the weights when the
other operand has enough rows to fill a unit's PEs, else the activations); Stripes and
Bit-Tactical serialise activations; Laconic both (its lanes pace on term pairs). Bit Fusion and
MixPE are value-independent: their rate follows the operand precisions.

Operand values for the value-dependent designs come from ``values`` (a distribution or a .npy
tensor). Small ops are computed on every row; large ones on ``values.sample_rows`` sampled rows,
and each tile then costs the expected maximum over its distinct rows (exact in expectation for
iid rows, see docs/bitslice.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from sim.core.components import POWER, TECH, VECTOR, sram_section, sram_word_bytes
from sim.core.config import Config, Field, Section
from sim.core.costs import CostModel, Price, source_of
from sim.core.engine import coalesce
from sim.core.errors import where
from sim.core.family import AreaItem, Family, OpPlan, memory_and_vector_area, register_family
from sim.families.bitslice.pe import PeCost, pe_cost
from sim.families.bitslice import kernel as K
from sim.families.systolic.kernel import fold_grid
from sim.memory import DRAM, DramSystem
from sim.memory.sram import SramBuffer, source as sram_source
from sim.families.bitslice.operands import draw, load_tensor, operand_section, seed_for
from sim.core.ops import Elementwise, Gemm, bits_to_bytes
from sim.core.vector_unit import plan_vector, precision_problems

ORGANIZATIONS = ("systolic", "cube", "adder_tree", "matrix2d", "bit_serial")
PES = ("mac", "opt1", "opt2", "opt3", "opt4c", "opt4e", "stripes", "tactical", "laconic",
       "bitfusion", "mixpe")
ALLOWED = {
    "systolic": ("mac", "opt1"), "cube": ("mac", "opt1"), "adder_tree": ("mac", "opt2"),
    "matrix2d": ("mac", "opt1"),
    "bit_serial": ("opt3", "opt4c", "opt4e", "stripes", "tactical", "laconic", "bitfusion",
                   "mixpe"),
}
DIGIT_SERIAL = ("opt3", "opt4c", "opt4e")
VALUE_DEPENDENT = DIGIT_SERIAL + ("tactical", "laconic")
#: pipeline depth paid once per op (cycles), read off the RTL pipelines of the HPCA'25 repo
#: (MAC PE 2 stages; OPT1 adds the sum/carry fuse; OPT2 ~5-6; OPT3/4C encoder + PE + fuse)
LATENCY = {"mac": 2, "opt1": 3, "opt2": 6, "opt3": 5, "opt4c": 5, "opt4e": 6, "stripes": 3,
           "tactical": 4, "laconic": 5, "bitfusion": 4, "mixpe": 3}

ENGINE = Section("The tensor processing engine", {
    "organization": Field("enum", "bit_serial", "Array organisation", choices=ORGANIZATIONS),
    "pe": Field("enum", "opt4c", "PE microarchitecture (allowed per organisation: see "
                "docs/bitslice.md)", choices=PES),
    "dataflow": Field("enum", "os", "systolic only: output or weight stationary",
                      choices=("os", "ws")),
    "rows": Field("int", 32, "systolic: PE rows; cube/matrix2d/adder_tree: outputs rows (M) in "
                  "parallel; bit_serial: units (columns of the HPCA'25 array), each with its own "
                  "serial stream", positive=True, maximum=65536),
    "cols": Field("int", 32, "systolic: PE columns; cube/matrix2d/adder_tree: output columns "
                  "(N) in parallel; bit_serial: PEs per unit sharing its serial stream",
                  positive=True, maximum=65536),
    "depth": Field("int", 1, "Reduction (K) lanes per PE: cube/adder_tree depth, OPT4E "
                   "streams, Stripes/Tactical/Laconic lanes; 1 elsewhere", positive=True,
                   maximum=4096),
    "serial_operand": Field("enum", "auto", "OPT3/4C/4E: which operand is digit-serial",
                            choices=("auto", "weight", "activation")),
    "encoding": Field("enum", "ent", "OPT3/4C/4E digit encoding of the serial operand "
                      "(Laconic always counts Booth terms)", choices=K.ENCODINGS),
    "act_bits": Field("int", 8, "Widest activation the PE takes", unit="bits", minimum=2,
                      maximum=16),
    "weight_bits": Field("int", 8, "Widest weight the PE takes", unit="bits", minimum=2,
                         maximum=16),
    "acc_bits": Field("int", 32, "Accumulator width (OPT3/4: each of sum and carry)",
                      unit="bits", minimum=8, maximum=64),
})

VALUES = Section("Operand values for value-dependent timing", {
    "weights": operand_section("Weight values", "absmax", 20.0, 128, "normal"),
    "activations": operand_section("Activation (and KV-cache) values", "absmax", 20.0, 0,
                                   "laplace"),
    "sample_rows": Field("int", 256, "Serial rows (or items) sampled per op when the op is "
                         "larger than exhaustive_limit", positive=True, maximum=1 << 20),
    "exhaustive_limit": Field("int", 1 << 22, "Ops with at most this many serial values (rows "
                              "x K) are timed on every row", minimum=0),
    "seed": Field("int", 0, "Seed of every draw (results are deterministic)", minimum=0),
})

SCHEMA = Section("Bit-weight / bit-slice MAC tensor engine", {
    "name": Field("str", "bitslice", "Display name of this design point"),
    "description": Field("str", None, "Free text", nullable=True),
    "tech": TECH,
    "engine": ENGINE,
    "values": VALUES,
    "sram": sram_section("On-chip SRAM buffers", {"act": 4 * 2**20, "weight": 4 * 2**20,
                                                  "out": 2 * 2**20}),
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
    pe: PeCost
    resident_bytes: int
    fma_e: Price
    fma_a: Price
    sram: dict[str, SramBuffer]
    sram_rd: dict[str, Price]
    sram_wr: dict[str, Price]
    tensors: dict
    #: sampled serial-row cycles of weight shapes, by draw label (a weight matrix's values
    #: do not change with the token count); kept while the context is
    row_costs: dict = field(default_factory=dict)


@dataclass(frozen=True)
class GemmTiming:
    """Compute tiles of one GEMM: counts and cycles of each tile group, plus busy PE cycles."""

    counts: np.ndarray
    cycles: np.ndarray
    pe_cycles: float     # sum over PEs of their busy cycles
    unit_cycles: float   # sum over units of their busy cycles (shared encoders)
    mapping: str
    sampled: bool


@register_family
class Bitslice(Family):
    kind = "bitslice"
    description = ("Bit-weight / bit-slice MAC engines: HPCA'25 TPEs (MAC, OPT1-OPT4), Stripes, "
                   "Bit Fusion, Bit-Tactical, Laconic, MixPE; value-dependent timing")
    schema = SCHEMA
    energy_components = ("pe", "encoders")

    # ---- configuration -------------------------------------------------------------------
    def check(self, cfg: Config, file: str | None) -> list[str]:
        e, out = cfg.engine, []
        if e.pe not in ALLOWED[e.organization]:
            out.append(f"{where(file, 'engine.pe')}: {e.pe!r} is not a PE of the "
                       f"{e.organization} organisation; allowed: {', '.join(ALLOWED[e.organization])}")
            return out
        if e.organization in ("systolic", "matrix2d") and e.depth != 1:
            out.append(f"{where(file, 'engine.depth')}: {e.organization} PEs reduce one k per "
                       f"cycle; allowed: 1")
        if e.organization == "bit_serial" and e.pe in ("opt3", "opt4c", "bitfusion", "mixpe") \
                and e.depth != 1:
            out.append(f"{where(file, 'engine.depth')}: {e.pe} PEs take one k lane; allowed: 1")
        if e.pe == "opt3" and e.cols != 1:
            out.append(f"{where(file, 'engine.cols')}: an OPT3 PE has its own encoder, so a unit "
                       f"is one PE; allowed: 1 (use opt4c to share an encoder across a column)")
        if e.pe in ("bitfusion", "mixpe") and max(e.act_bits, e.weight_bits) > 8:
            out.append(f"{where(file, 'engine.act_bits')}: {e.pe} fuses slices of at most 8-bit "
                       f"operands; allowed: act_bits and weight_bits <= 8")
        cost = self._pe(cfg)
        if cfg.tech.frequency > cost.fmax_hz * (1 + 1e-9):
            out.append(f"{where(file, 'tech.frequency')}: {cfg.tech.frequency / 1e6:.0f} MHz is "
                       f"above the {e.pe} PE's achievable clock at {cfg.tech.node_nm:g} nm; "
                       f"allowed: <= {cost.fmax_hz / 1e6:.0f} MHz ({cost.source})")
        for op in ("weights", "activations"):
            spec = cfg["values"][op]
            if spec.dist == "file" and not spec.file:
                out.append(f"{where(file, f'values.{op}.file')}: dist 'file' needs a path of a "
                           f".npy integer array")
        return out

    def native_bits(self, cfg: Config) -> dict[str, int]:
        return {"weight_bits": cfg.engine.weight_bits, "act_bits": cfg.engine.act_bits}

    def check_workload(self, ctx: Ctx, workload) -> list[str]:
        e = ctx.cfg.engine
        return precision_problems(workload, ctx.file, {
            "weight_bits": (e.weight_bits, "engine.weight_bits"),
            "act_bits": (e.act_bits, "engine.act_bits"),
            "kv_bits": (e.weight_bits, "engine.weight_bits"),
            "attention_bits": (e.act_bits, "engine.act_bits")}, minimum=2)

    def _pe(self, cfg: Config) -> PeCost:
        e, t = cfg.engine, cfg.tech
        org = f"systolic_{e.dataflow}" if e.organization == "systolic" else e.organization
        return pe_cost(org, e.pe, e.act_bits, e.weight_bits, e.acc_bits, e.depth, t.node_nm, t.vdd)

    def prepare(self, cfg: Config, file: str | None) -> Ctx:
        t = cfg.tech
        costs = CostModel(t.node_nm, t.vdd)
        fma_e, fma_a = costs.fp32_fma()
        sram = sram_buffers(cfg)
        tensors = {op: load_tensor(cfg["values"][op], bits, file, f"values.{op}")
                   for op, bits in (("weights", cfg.engine.weight_bits),
                                    ("activations", cfg.engine.act_bits))
                   if cfg["values"][op].dist == "file"}
        return Ctx(cfg, file, costs, DramSystem(cfg.dram, file, t.frequency), self._pe(cfg),
                   int(cfg.sram.act // 2), fma_e, fma_a, sram,
                   {b: buf.read_pj_per_bit(costs) for b, buf in sram.items()},
                   {b: buf.write_pj_per_bit(costs) for b, buf in sram.items()}, tensors)

    def units(self, ctx: Ctx) -> list[str]:
        return ["engine", "vector"]

    # ---- mapping ---------------------------------------------------------------------------
    def plan(self, ctx: Ctx, op) -> OpPlan:
        if isinstance(op, Gemm):
            return self._plan_gemm(ctx, op)
        if isinstance(op, Elementwise):
            return self._plan_vector(ctx, op)
        raise TypeError(f"bitslice family cannot map {type(op).__name__}")

    def _plan_gemm(self, ctx: Ctx, op: Gemm) -> OpPlan:
        e = ctx.cfg.engine
        timing = gemm_timing(ctx, op)
        tiles = int(timing.counts.sum())
        a_res = op.a_bytes <= ctx.resident_bytes
        c_res = op.c_bytes <= ctx.resident_bytes
        load_total = op.b_bytes + (0 if a_res else op.a_bytes)
        store_total = 0 if c_res else op.c_bytes
        # operands stream from DRAM once per op, spread evenly over the compute tiles
        load = np.full(len(timing.counts), load_total / tiles)
        store = np.full(len(timing.counts), store_total / tiles)
        counts, load_g, comp_g, store_g = _groups(timing, load, store, LATENCY[e.pe])
        a_passes, b_passes = operand_passes(e, op)
        sram_rd = {"act": op.a_bytes * a_passes, "weight": op.b_bytes * b_passes,
                   "out": 0 if c_res else op.c_bytes}
        sram_wr = {"act": 0 if a_res else op.a_bytes, "weight": op.b_bytes, "out": op.c_bytes}
        energy = {
            "pe": timing.pe_cycles * ctx.pe.energy_pj,
            "encoders": timing.unit_cycles * ctx.pe.unit_energy_pj,
            "sram": 8 * sum(sram_rd[b] * ctx.sram_rd[b].value + sram_wr[b] * ctx.sram_wr[b].value
                            for b in sram_rd),
        }
        peak = peak_macs_per_cycle(e, op.a_bits, op.b_bits)
        roofline = max(math.ceil(op.macs / peak), ctx.channel.peak_cycles(load_total + store_total))
        return OpPlan("engine", counts, load_g, comp_g, store_g, op.macs, peak, roofline, energy,
                      sram_read_bytes=int(sum(sram_rd.values())),
                      sram_write_bytes=int(sum(sram_wr.values())), mapping=timing.mapping)

    def _plan_vector(self, ctx: Ctx, op: Elementwise) -> OpPlan:
        return plan_vector(op, ctx.cfg.vector, ctx.resident_bytes, ctx.channel, ctx.fma_e.value,
                           ctx.sram_rd["act"].value, ctx.sram_wr["act"].value)

    # ---- area and power --------------------------------------------------------------------
    def area(self, ctx: Ctx) -> dict[str, AreaItem]:
        cfg, e, pe = ctx.cfg, ctx.cfg.engine, ctx.pe
        n_pe = e.rows * e.cols
        items = {"pe_array": AreaItem(n_pe * pe.area_um2 * 1e-6, ("bitslice_pe.yaml",),
                                      f"{e.rows}x{e.cols} {e.pe} PEs of {pe.area_um2:.0f} um2 "
                                      f"({pe.source})")}
        if pe.unit_area_um2 > 0:
            items["encoders"] = AreaItem(e.rows * pe.unit_area_um2 * 1e-6, ("bitslice_pe.yaml",),
                                         f"{e.rows} shared encoder/fuse units of "
                                         f"{pe.unit_area_um2:.0f} um2")
        items.update(memory_and_vector_area(cfg, ctx.costs, ctx.sram, ctx.fma_a))
        return items

    def pricing(self, ctx: Ctx) -> dict[str, list[str]]:
        fma = [f"{n}: {source_of(n)}" for n in ctx.fma_e.entries]
        return {"pe": [ctx.pe.source], "encoders": [ctx.pe.source],
                "sram": [f"sram_cacti_45nm: {sram_source()}"], "vector": fma}



# ---- timing -------------------------------------------------------------------------------
def fusion_rate(pe: str, a_bits: int, w_bits: int) -> float:
    """MACs per PE per cycle of the precision-fusing PEs (1.0 for the others).

    Bit Fusion: operands round up to 2/4/8-bit bricks, (8/pa)(8/pw) products per fusion unit
    (Sharma et al., ISCA'18). MixPE: shift-and-add over 4-bit weight slices with 8-bit
    activations, floor(8/max(pw,4)) * floor(8/max(pa,4)) (MixPE simulator, pmax 8, pmin 4).
    """
    if pe == "bitfusion":
        brick = lambda p: 2 if p <= 2 else 4 if p <= 4 else 8  # noqa: E731
        return (8 // brick(a_bits)) * (8 // brick(w_bits))
    if pe == "mixpe":
        return (8 // max(w_bits, 4)) * (8 // max(a_bits, 4))
    return 1.0


def peak_macs_per_cycle(e: Config, a_bits: int, w_bits: int) -> float:
    """Best-case MACs per cycle: every digit step of a 4-value group, or every lane chunk, at
    its minimum of one cycle."""
    lanes = e.rows * e.cols * e.depth
    if e.pe == "stripes":
        return lanes / a_bits
    if e.pe in DIGIT_SERIAL:
        return lanes * K.SPARSE_GROUP / K.n_digits(max(a_bits, w_bits), e.encoding)
    return lanes * fusion_rate(e.pe, a_bits, w_bits)


def _weight_serial(e: Config, op: Gemm) -> bool:
    if e.pe in ("stripes", "tactical", "laconic", "bitfusion", "mixpe"):
        return False
    if e.serial_operand != "auto":
        return e.serial_operand == "weight"
    return op.m >= e.cols


def gemm_timing(ctx: Ctx, op: Gemm) -> GemmTiming:
    """Compute tiles of ``op`` on the configured engine (cycles exclude memory and drain)."""
    e = ctx.cfg.engine
    if e.organization == "systolic":
        folds = fold_grid(e.dataflow, e.rows, e.cols, op.m, op.n, op.k)
        n = folds.n * op.count
        counts = np.array([1, n - 1] if n > 1 else [1], dtype=np.int64)
        cycles = np.array([folds.first_cycles, folds.later_cycles][:len(counts)], dtype=np.int64)
        return GemmTiming(counts, cycles, float(op.macs), 0.0,
                          f"systolic {e.dataflow} {e.rows}x{e.cols}: {n} folds of "
                          f"{folds.later_cycles} cycles", False)
    if e.organization != "bit_serial":
        tiles = -(-op.m // e.rows) * -(-op.n // e.cols) * op.count
        steps = -(-op.k // e.depth)
        return GemmTiming(np.array([tiles]), np.array([steps]), float(op.macs) / e.depth, 0.0,
                          f"{e.organization} {e.rows}x{e.cols}x{e.depth}: {tiles} tiles of "
                          f"{steps} cycles", False)
    return _bit_serial_timing(ctx, op)


def _bit_serial_timing(ctx: Ctx, op: Gemm) -> GemmTiming:
    cfg, e = ctx.cfg, ctx.cfg.engine
    w_serial = _weight_serial(e, op)
    # serial operand rows (K long) and parallel operand rows, per GEMM instance
    rs, rp = (op.n, op.m) if w_serial else (op.m, op.n)
    blocks = -(-rp // e.cols)
    items = rs * blocks
    tiles = -(-items // e.rows)
    ps = op.b_bits if w_serial else op.a_bits
    pp = op.a_bits if w_serial else op.b_bits
    what = "weight" if w_serial else "activation"
    mapping = (f"bit_serial {e.pe} {e.rows} units x {e.cols} PEs x {e.depth} lanes, "
               f"{what}-serial: {items} items in {tiles} tiles x {op.count}")
    if e.pe not in VALUE_DEPENDENT:
        rate = fusion_rate(e.pe, op.a_bits, op.b_bits)
        step = op.a_bits if e.pe == "stripes" else 1
        cost = -(-op.k // int(e.depth * rate)) * step
        return GemmTiming(np.array([tiles * op.count]), np.array([cost]),
                          float(cost) * rs * rp * op.count, float(cost) * items * op.count,
                          mapping + f" of {cost} cycles", False)
    (serial_spec, serial_tensor), par = _specs(ctx, op, w_serial)
    # a weight matrix's values do not depend on how many tokens meet it: with the weights
    # serial (and no parallel operand values drawn, as Laconic draws them) the draw leaves
    # the token count out, so every token count of one weight shape sees the same values
    same_weights = w_serial and e.pe != "laconic"
    label = ((op.n, op.k, op.b_bits, op.b_source, "serial weights") if same_weights else
             (op.m, op.n, op.k, op.a_bits, op.b_bits, op.b_source, w_serial))
    rng = np.random.default_rng(seed_for(cfg["values"].seed, *label))
    # values the kernel touches: every serial row, or (Laconic) every item's PE rows
    lanes_k = (items * min(e.cols, rp) if e.pe == "laconic" else rs) * op.k
    sampled = lanes_k > cfg["values"].exhaustive_limit
    if not sampled:
        serial = draw(serial_spec, ps, rs, op.k, rng, serial_tensor)
        parallel = draw(par[0], pp, rp, op.k, rng, par[1]) if e.pe == "laconic" else None
        tile_cost, item_cost = exact_tile_cycles(e, serial, parallel, ps, pp, rp)
        row_cost = item_cost
        pe_cycles = float(_pe_busy(item_cost, rp, e.cols, blocks))
        unit_cycles = float(item_cost.sum())
        tile_cost = tile_cost.astype(np.float64)
    else:
        rows = min(rs, cfg["values"].sample_rows)
        key = (label, rows, ps)
        row_cost = ctx.row_costs.get(key) if same_weights else None
        if row_cost is None:
            serial = draw(serial_spec, ps, rows, op.k, rng, serial_tensor)
            if e.pe == "laconic":
                row_cost = _laconic_costs(e, serial, par, ps, pp, rp, rng)
            else:
                row_cost = serial_row_costs(e, serial, ps)
            if same_weights:  # the next token count of this weight shape reads it here
                ctx.row_costs[key] = row_cost
        t = np.arange(tiles, dtype=np.int64)
        first_row = t * e.rows // blocks  # serial row of each tile's first and last item
        last_row = (np.minimum((t + 1) * e.rows, items) - 1) // blocks
        d_vals, inverse = np.unique(last_row - first_row + 1, return_inverse=True)
        tile_cost = K.expected_max(row_cost, d_vals)[inverse]
        mean_row = float(row_cost.mean())
        pe_cycles = mean_row * rs * rp
        unit_cycles = mean_row * items
        mapping += f"; {rows} of {rs} serial rows sampled"
    counts, cycles = _integer_tiles(tile_cost)
    mapping += f"; mean {float(row_cost.mean()) / op.k:.3f} cycles per serial value"
    return GemmTiming(counts * op.count, cycles, pe_cycles * op.count, unit_cycles * op.count,
                      mapping, sampled)


def exact_tile_cycles(e: Config, serial: np.ndarray, parallel: np.ndarray | None, ps: int,
                      pp: int, rp: int) -> tuple[np.ndarray, np.ndarray]:
    """(cycles of each tile, cycles of each item) for explicit operand values: ``serial`` is
    rows x K, ``parallel`` (Laconic only) ``rp`` x K. Items are (serial row, block of ``cols``
    parallel rows) in serial-row-major order; a tile is ``rows`` consecutive items."""
    blocks = -(-rp // e.cols)
    if e.pe == "laconic":
        pad = blocks * e.cols - rp  # a short last block: zero rows never set the pace
        par = np.concatenate([parallel, np.zeros((pad, parallel.shape[1]), np.int64)])
        par = par.reshape(blocks, e.cols, -1)
        r_idx = np.repeat(np.arange(serial.shape[0]), blocks)
        b_idx = np.tile(np.arange(blocks), serial.shape[0])
        item = K.term_pair_items(serial[r_idx] + (1 << (ps - 1)), par[b_idx] + (1 << (pp - 1)),
                                 K.term_counts(ps, "mbe"), K.term_counts(pp, "mbe"), e.depth)
    else:
        item = np.repeat(serial_row_costs(e, serial, ps), blocks)
    return K.tile_max(item, e.rows), item


def _pe_busy(item_cost: np.ndarray, rp: int, cols: int, blocks: int) -> int:
    """Busy PE cycles: each item keeps its used PEs busy for its cycles."""
    used = np.full(blocks, cols, dtype=np.int64)
    used[-1] = rp - cols * (blocks - 1)
    return int((item_cost.reshape(-1, blocks) * used).sum())


def serial_row_costs(e: Config, serial: np.ndarray, bits: int) -> np.ndarray:
    """Cycles of each serial row on one unit of the configured value-dependent PE."""
    idx = serial + (1 << (bits - 1))
    if e.pe in DIGIT_SERIAL:
        return K.digit_serial_rows(idx, K.digit_masks(bits, e.encoding),
                                   K.n_digits(bits, e.encoding), K.SPARSE_GROUP, e.depth)
    return K.lane_max_rows(idx, K.precision_span(bits, True), e.depth)  # tactical


def _laconic_costs(e: Config, serial: np.ndarray, par: tuple, ps: int, pp: int, rp: int,
                   rng: np.random.Generator) -> np.ndarray:
    """Laconic items: each sampled serial row against up to ``cols`` freshly drawn parallel
    rows (``par`` is the parallel operand's (spec, tensor))."""
    rows, k = serial.shape
    pes = min(e.cols, rp)
    w = draw(par[0], pp, rows * pes, k, rng, par[1]).reshape(rows, pes, k)
    return K.term_pair_items(serial + (1 << (ps - 1)), w + (1 << (pp - 1)),
                             K.term_counts(ps, "mbe"), K.term_counts(pp, "mbe"), e.depth)


def _specs(ctx: Ctx, op: Gemm, w_serial: bool):
    """((spec, tensor), (spec, tensor)) of the serial and the parallel operand; ``tensor`` is
    the loaded ``.npy`` array of a ``dist: file`` spec, else None."""
    v = ctx.cfg["values"]
    b_name = "weights" if op.b_source == "weight" else "activations"
    a = (v.activations, ctx.tensors.get("activations"))
    b = (v[b_name], ctx.tensors.get(b_name))
    return (b, a) if w_serial else (a, b)


def _integer_tiles(cost: np.ndarray):
    """Tile groups with integer cycles. A small op with exact costs keeps its execution order;
    otherwise equal costs merge and an expected cost c over n tiles becomes floor/ceil tiles
    whose total is round(n * c)."""
    if cost.size <= 64 and np.all(cost == np.round(cost)):
        return coalesce(np.ones(cost.size, dtype=np.int64), cost.astype(np.int64))
    out_c, out_v = [], []
    for v, n in zip(*np.unique(cost, return_counts=True)):
        total = int(round(v * n))
        lo, hi_n = total // n, total - (total // n) * n
        if n - hi_n:
            out_c.append(n - hi_n)
            out_v.append(lo)
        if hi_n:
            out_c.append(hi_n)
            out_v.append(lo + 1)
    return np.array(out_c, dtype=np.int64), np.array(out_v, dtype=np.int64)


def _groups(timing: GemmTiming, load: np.ndarray, store: np.ndarray, latency: int):
    """Tile groups plus the pipeline drain, paid once after the last tile."""
    counts = np.r_[timing.counts, 1]
    comp = np.r_[timing.cycles, latency]
    return counts, np.r_[load, 0.0], comp, np.r_[store, 0.0]


def operand_passes(e: Config, op: Gemm) -> tuple[int, int]:
    """How many times A and B are read from their buffers: once per tile of the other operand."""
    if e.organization == "bit_serial":
        w_serial = _weight_serial(e, op)
        serial_units, par_block = e.rows, e.cols
        rs, rp = (op.n, op.m) if w_serial else (op.m, op.n)
        s_passes, p_passes = -(-rp // par_block), -(-rs // serial_units)
        return (p_passes, s_passes) if w_serial else (s_passes, p_passes)
    if e.organization == "systolic" and e.dataflow == "ws":
        return -(-op.n // e.cols), 1
    return -(-op.n // e.cols), -(-op.m // e.rows)


def sram_demand(cfg: Config) -> dict[str, int]:
    """Bytes per cycle each buffer feeds the engine edge."""
    e = cfg.engine
    return {"act": bits_to_bytes(e.rows * e.depth, e.act_bits),
            "weight": bits_to_bytes(e.cols * e.depth, e.weight_bits),
            "out": bits_to_bytes(e.cols, e.acc_bits)}


def sram_buffers(cfg: Config) -> dict[str, SramBuffer]:
    s = cfg.sram
    return {b: SramBuffer(s[b], s.banks, sram_word_bytes(s, d), s.ports)
            for b, d in sram_demand(cfg).items()}
