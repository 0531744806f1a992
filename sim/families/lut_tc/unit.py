"""Area and energy of LUT tensor-core units and MAC tensor-core units (family ``lut_tc``).

Both are *structural* models: the cells of the datapath (table and operand registers, MUX trees,
negation, shifters, adders, multipliers, accumulators) counted per unit by :func:`lut_structure` /
:func:`mac_structure`, priced with the shared NanGate 45 nm cell table (:mod:`sim.core.cells`), and
multiplied by two calibration factors that make the LUT Tensor Core unit of the ISCA'25 paper's
Table 2 (W_INT2 x A_INT8, M2N64K4, TSMC 28 nm, 1 GHz) come out at its published 11,991.29 um2 and
16.22 mW. The other published unit figures (the Table 2 ablation rows, Table 3's W1A8 efficiency,
Fig. 12's DP4 densities, Table 1's TC area per SM) only check the model (docs/lut_tc.md,
docs/lut_tc_repro.py). Energy is per busy unit-cycle: every cell switches once, the calibration
absorbing the real activity. Results scale to the configured node and supply by the common rule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import yaml

from sim.core.cells import (add, cell_scale, fp_adder, fp_multiplier, int_adder, int_multiplier,
                            price, times)

DATA_PATH = Path(__file__).resolve().parent / "data" / "lut_tc.yaml"

#: activation / MAC operand formats: bits and (exponent, mantissa) bits for floating point
FORMATS = {"int8": (8, None), "int16": (16, None), "fp8": (8, (4, 3)), "fp16": (16, (5, 10))}
FP16 = (5, 10)
FP32 = (8, 23)


@lru_cache(maxsize=1)
def data() -> dict:
    with open(DATA_PATH, encoding="utf-8") as f:
        return yaml.safe_load(f)


@dataclass(frozen=True)
class LutDesign:
    """One LUT unit: an M x N x K lookup tile for weights of up to ``weight_bits`` bits.

    ``lut_bits`` is the table-entry width (None: exact entries); ``acc_bits`` the integer psum
    width; ``negation`` 'circuit' keeps the per-unit index-negation XORs that 'offline' weight
    reinterpretation removes; ``precompute`` 'in_unit' builds the tables inside the unit.
    """

    tile_m: int
    tile_n: int
    tile_k: int
    weight_bits: int
    act_format: str
    lut_bits: int | None
    acc_bits: int
    symmetric: bool = True
    negation: str = "offline"
    precompute: str = "fused"

    @property
    def entries(self) -> int:
        """Stored entries per table: 2^K, halved by symmetrization."""
        return 2 ** (self.tile_k - (1 if self.symmetric else 0))

    @property
    def act_bits(self) -> int:
        return FORMATS[self.act_format][0]

    @property
    def fp_entries(self) -> bool:
        """Tables hold FP16 sums (FP activations without table quantization)."""
        return FORMATS[self.act_format][1] is not None and self.lut_bits != 8

    @property
    def exact_bits(self) -> int:
        """Bits of an exact integer entry: the sum of K activations."""
        return self.act_bits + math.ceil(math.log2(self.tile_k))

    @property
    def entry_bits(self) -> int:
        """Bits of one stored table entry."""
        if self.fp_entries:
            return 16
        return self.lut_bits if self.lut_bits is not None else self.exact_bits

    @property
    def quantized(self) -> bool:
        """Integer entries narrower than the exact sum: tables are quantized per table."""
        return not self.fp_entries and self.entry_bits < self.exact_bits


def lut_structure(d: LutDesign, registers: bool = True) -> dict:
    """Cell counts of one LUT unit. ``registers=False`` leaves out the table and weight
    registers (a bare dot-product datapath, as in the paper's DP-unit comparison)."""
    m, n, k, w = d.tile_m, d.tile_n, d.tile_k, d.weight_bits
    e, lb = d.entries, d.entry_bits
    outputs = m * n
    cells = {"mux2": outputs * (e - 1) * lb}  # one 2^(K-sym):1 MUX tree per output bit
    if registers:
        cells = add(cells, {"dff": m * e * lb + k * n * w})  # tables + one LMMA of weights
    if d.symmetric:  # conditional negate of the looked-up entry (FP: the sign bit)
        cells = add(cells, {"xor2": outputs * (1 if d.fp_entries else lb)})
        if d.negation == "circuit":  # invert the other index bits when the sign bit is set
            cells = add(cells, {"xor2": outputs * (k - 1)})
    if d.fp_entries:  # FP16 psum: bit-plane weight by exponent add, FP16 adder (as the RTL)
        per_out = add(fp_adder(*FP16), {"fa": FP16[0] if w > 1 else 0, "dff": 16})
    else:  # integer psum: barrel shift by the bit-plane, adder, register
        levels = math.ceil(math.log2(w)) if w > 1 else 0
        per_out = add({"mux2": levels * (lb + w - 1)}, int_adder(d.acc_bits),
                      {"dff": d.acc_bits})
    cells = add(cells, times(outputs, per_out))
    if d.precompute == "in_unit":  # Gray-code table build per LMMA: entries + K - 1 adds
        adds = e + k - 1
        adder = fp_adder(*FP16) if d.fp_entries else int_adder(d.act_bits + 2)
        cells = add(cells, times(m * adds, adder))
    return cells


def mac_structure(tile_m: int, tile_n: int, tile_k: int, fmt: str,
                  registers: bool = True) -> dict:
    """Cell counts of one MAC tensor-core unit computing an M x N x K MMA per cycle.

    Per output: K multipliers, a K-input adder tree at product precision and an accumulator
    (FP32 for FP formats, INT32 for INT8), as in NVIDIA tensor cores with FP32/INT32 accumulate.
    """
    bits, fp = FORMATS[fmt]
    if fp is None:
        mult, tree, acc = int_multiplier(bits, bits), int_adder(2 * bits + 2), int_adder(32)
    else:
        ex, man = fp
        mult = fp_multiplier(ex, man)
        tree, acc = fp_adder(ex + 1, 2 * man + 1), fp_adder(*FP32)
    outputs = tile_m * tile_n
    cells = add(times(outputs * tile_k, mult), times(outputs * (tile_k - 1), tree),
                times(outputs, acc))
    if registers:
        cells = add(cells, {"dff": tile_m * tile_k * bits + tile_k * tile_n * bits + outputs * 32})
    return cells


def table2_design(row: str) -> LutDesign:
    """The Table 2 unit with the structural choices of ``row`` (unpu ... lut_tc)."""
    d = data()
    base = LutDesign(**d["table2_unit"])
    return replace(base, **d["table2"][row]["design"])


@lru_cache(maxsize=1)
def calibration() -> tuple[float, float]:
    """(area, energy) factors: the structural Table 2 LUT TC unit := its published figures."""
    d = data()
    row = d["table2"]["lut_tc"]
    a_s, e_s = cell_scale(d["node_nm"], d["vdd"])
    cells = lut_structure(table2_design("lut_tc"))
    pj_per_cycle = row["power_mw"] * 1e-3 / d["clock_hz"] * 1e12
    return (row["area_um2"] / (price(cells, "area") * a_s),
            pj_per_cycle / (price(cells, "energy") * 1e-3 * e_s))


@dataclass(frozen=True)
class UnitCost:
    """Area (µm²) and energy per busy cycle (pJ) of one unit at the configured node/supply."""

    area_um2: float
    energy_pj: float
    source: str


def priced(cells: dict, node: float, vdd: float, what: str) -> UnitCost:
    """Calibrated cost of a cell-count dict at ``node`` nm and ``vdd`` V."""
    k_area, k_energy = calibration()
    a_s, e_s = cell_scale(node, vdd)
    return UnitCost(price(cells, "area") * a_s * k_area,
                    price(cells, "energy") * 1e-3 * e_s * k_energy,
                    f"structural {what} (NanGate45 cells, calibrated to LUT TC ISCA'25 Table 2 "
                    f"W2A8 unit: 11,991.29 um2, 16.22 mW at 28 nm / 1 GHz)")


def lut_unit_cost(d: LutDesign, node: float, vdd: float) -> UnitCost:
    return priced(lut_structure(d), node, vdd, f"LUT unit M{d.tile_m}N{d.tile_n}K{d.tile_k}")


def mac_unit_cost(tile_m: int, tile_n: int, tile_k: int, fmt: str, node: float,
                  vdd: float) -> UnitCost:
    return priced(mac_structure(tile_m, tile_n, tile_k, fmt), node, vdd,
                  f"{fmt} MAC unit M{tile_m}N{tile_n}K{tile_k}")
