"""Area, energy per cycle and clock of bit-weight / bit-slice PEs (used by the bitslice family).

Bit-parallel TPE variants (MAC / OPT1 / OPT2 in a systolic array, 3D-Cube or adder tree) take their
per-MAC-slot figures straight from the HPCA'25 repository's SAED32 synthesis reports
(``sim/families/bitslice/data/bitslice_pe.yaml``). Every other PE is priced by a *structural* model:
the cells of its microarchitecture (AND/XOR/MUX gates, full adders, flip-flops) counted from its
datapath, times NanGate 45 nm cell prices, times two calibration factors fitted to one SAED32 report
each (area: the OPT4C N=32 column; energy: the OPT1 PE). The other reports check the fit (see
docs/bitslice.md). All figures are scaled to the configured node and supply by the common rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from sim.core.cells import CELLS, add as _add, cell_scale, price as _price, scale as _scale

DATA_PATH = Path(__file__).resolve().parent / "data" / "bitslice_pe.yaml"


@lru_cache(maxsize=1)
def data() -> dict:
    with open(DATA_PATH, encoding="utf-8") as f:
        return yaml.safe_load(f)


@dataclass(frozen=True)
class PeCost:
    """One PE (or MAC slot) and the share of its unit's common logic, at the configured node.

    ``area_um2`` / ``energy_pj`` are per PE and per active PE cycle; ``unit_area_um2`` /
    ``unit_energy_pj`` belong to each unit (column) of ``pes`` PEs (shared encoders, fuse adder).
    ``fmax_hz`` is the fastest clock at the node; ``source`` says where each figure comes from.
    """

    area_um2: float
    energy_pj: float
    unit_area_um2: float
    unit_energy_pj: float
    fmax_hz: float
    source: str


def _booth_ppg(rows: int, pp: int) -> dict:
    """Radix-4 partial-product rows: select B/2B and conditionally negate, per bit."""
    return {"mux2": rows * (pp + 1), "xor2": rows * (pp + 1)}


def _encoder(bits: int) -> dict:
    """An EN-T / Booth digit encoder for one ``bits``-bit operand: ~2 XOR + 2 AND per digit."""
    d = -(-bits // 2)
    return {"xor2": 2 * d, "and2": 2 * d}


def _sparse_encoder(bits: int) -> dict:
    """OPT3's sparse encoder for a group of 4 digits plus its buffered digit codes and positions.

    Estimate read off ``OPT3_OPT4C/pe/sparse_encoder.v``: the cal_cycle / position logic is a
    few dozen AND/OR/XOR gates; flip-flops hold 4 buffered digit codes with their signs
    (``bits + 1`` each, an upper bound) and the 2 + 2 + 2 + 1 position registers."""
    return {"and2": 24, "xor2": 12, "dff": 4 * (bits + 1) + 7}


def structure(design: str, ps: int, pp: int, acc: int, lanes: int) -> tuple[dict, dict]:
    """Cell counts (per PE, per unit) of ``design`` with serial / parallel operand widths
    ``ps`` / ``pp``, accumulator ``acc`` bits and ``lanes`` k-lanes per PE."""
    if design in ("opt3", "opt4c"):
        pe = _add(_booth_ppg(1, pp), {"fa": acc, "dff": 2 * acc + pp})
        unit = _add(_encoder(ps), _sparse_encoder(ps), {"fa": acc, "dff": acc})
        if design == "opt3":  # every PE has its own encoders and fuse adder
            return _add(pe, unit), dict.fromkeys(CELLS, 0.0)
        return pe, unit
    if design == "opt4e":  # `lanes` streams share one compressor of lanes + 2 inputs
        pe = _add(_booth_ppg(lanes, pp), {"fa": lanes * acc, "dff": 2 * acc + lanes * pp})
        unit = _add(*[_encoder(ps)] * lanes, *[_sparse_encoder(ps)] * lanes,
                    {"fa": acc, "dff": acc})
        return pe, unit
    if design in ("stripes", "tactical"):  # SIP: AND lanes, adder tree, shift-accumulate
        pe = {"and2": lanes * pp, "fa": (lanes - 1) * (pp + 2) + acc,
              "dff": acc + lanes * pp + lanes}
        if design == "tactical":  # per-lane offset shifters and the group's precision detector
            pe = _add(pe, {"mux2": lanes * pp * 2, "and2": lanes * ps})
        return pe, dict.fromkeys(CELLS, 0.0)
    if design == "laconic":  # per lane: term encoders, exponent adder, one-hot decoder
        lane = _add(_encoder(ps), _encoder(pp), {"fa": 4, "and2": 16})
        pe = _add(*[lane] * lanes, {"fa": 16 * 5 + acc, "dff": 16 * 5 + acc + lanes * (ps + pp)})
        return pe, dict.fromkeys(CELLS, 0.0)
    if design == "bitfusion":  # 16 BitBricks (2b x 2b), shift-add tree, accumulator
        pe = {"and2": 16 * 4, "fa": 16 * 2 + 15 * 12 + acc, "xor2": 16 * 2, "mux2": 16 * 4,
              "dff": acc + 16}
        return pe, dict.fromkeys(CELLS, 0.0)
    if design == "mixpe":  # shift-and-add of two 4-bit weight slices against an 8-bit act
        pe = {"and2": 2 * 4 * pp, "fa": 2 * 3 * (pp + 3) + 2 * acc, "dff": 2 * acc + pp + 8}
        return pe, dict.fromkeys(CELLS, 0.0)
    if design == "mac":  # Booth multiplier, compressor, CPA, accumulator adder
        pe = _add(_booth_ppg(-(-ps // 2), pp), _encoder(ps),
                  {"fa": 2 * (ps + pp + 2) + (ps + pp) + acc, "dff": acc + ps + pp})
        return pe, dict.fromkeys(CELLS, 0.0)
    if design == "opt1":  # Booth rows + sum/carry into one CSA tree, no CPA in the loop
        rows = -(-ps // 2)
        pe = _add(_booth_ppg(rows, pp), _encoder(ps),
                  {"fa": rows * acc, "dff": 2 * acc + ps + pp})
        return pe, dict.fromkeys(CELLS, 0.0)
    raise ValueError(f"no structural model for PE design {design!r}")


def report_pj_per_cycle(report: dict) -> float:
    """Energy per MAC slot per cycle (pJ) of a synthesis report: mW / MHz * 1e3 / slots."""
    return report["power_mw"] * 1e3 / report["mhz"] / report["slots"]


@lru_cache(maxsize=1)
def calibration() -> tuple[float, float]:
    """(area, energy) factors that make the structural model equal its calibration reports."""
    d = data()
    cal, syn = d["calibration"], d["synthesis"]
    a_s, e_s = cell_scale(d["node_nm"], d["vdd"])
    col = syn[cal["area"]]
    pe, unit = structure("opt4c", 8, 8, 26, 1)  # the released column: int8 x int8, 26-bit CSA
    area = (col["slots"] * _price(pe, "area") + _price(unit, "area")) * a_s
    ref = syn[cal["energy"]]
    pe, _ = structure("opt1", 8, 8, 24, 1)  # released OPT1 PE: 2 x 24-bit sum/carry (RTL)
    energy = _price(pe, "energy") * 1e-3 * e_s
    return col["area_um2"] / area, report_pj_per_cycle(ref) / energy


def structural_cost(design: str, ps: int, pp: int, acc: int, lanes: int, node: float,
                    vdd: float) -> tuple[float, float, float, float]:
    """Calibrated (PE area um2, PE pJ/cycle, unit area um2, unit pJ/cycle) at ``node``/``vdd``."""
    k_area, k_energy = calibration()
    a, e = cell_scale(node, vdd)
    pe, unit = structure(design, ps, pp, acc, lanes)
    return (_price(pe, "area") * a * k_area, _price(pe, "energy") * 1e-3 * e * k_energy,
            _price(unit, "area") * a * k_area, _price(unit, "energy") * 1e-3 * e * k_energy)


#: bit-parallel organisation -> design -> synthesis entry (per MAC slot)
SYNTH_SLOT = {
    ("systolic_os", "mac"): "systolic_os_mac", ("systolic_os", "opt1"): "systolic_os_opt1",
    ("systolic_ws", "mac"): "systolic_ws_mac", ("systolic_ws", "opt1"): "systolic_ws_opt1",
    ("cube", "mac"): "cube_mac", ("cube", "opt1"): "cube_opt1",
    ("adder_tree", "opt2"): "adder_tree_opt2",
}
#: bit-parallel organisations whose PEs hold `depth` MAC slots (one k lane each)
MULTI_SLOT = ("cube", "adder_tree")
#: designs without a report: the clock of the report whose critical path they share (estimate)
CLOCK_LIKE = {
    ("adder_tree", "mac"): "systolic_ws_mac", ("matrix2d", "mac"): "systolic_os_mac",
    ("matrix2d", "opt1"): "systolic_os_opt1", "stripes": "adder_tree_opt2",
    "tactical": "adder_tree_opt2", "bitfusion": "adder_tree_opt2", "mixpe": "adder_tree_opt2",
    "laconic": "opt4c_column_n32", "opt3": "opt4c_column_n32", "opt4c": "opt4c_column_n32",
    "opt4e": "opt4c_column_n32",
}


def pe_cost(organization: str, design: str, ps: int, pp: int, acc: int, lanes: int,
            node: float, vdd: float) -> PeCost:
    """Figures of one PE of ``design`` in ``organization`` at ``node`` nm and ``vdd`` V."""
    d = data()
    syn = d["synthesis"]
    a_s, e_s, f_s = _scale(node, vdd, d["node_nm"], d["vdd"])
    # a cube / adder-tree PE reduces `lanes` k per cycle in `lanes` MAC slots; the reports and
    # the one-lane structural MACs price one slot
    slots = lanes if organization in MULTI_SLOT else 1
    key = SYNTH_SLOT.get((organization, design))
    if key is not None:
        r = syn[key]
        return PeCost(r["area_um2"] / r["slots"] * a_s * slots,
                      report_pj_per_cycle(r) * e_s * slots, 0.0, 0.0,
                      r["mhz"] * 1e6 * f_s, f"SAED32 report {key} x {slots} slots per PE: "
                      f"{r['source']}")
    clock = CLOCK_LIKE.get((organization, design)) or CLOCK_LIKE[design]
    fmax = syn[clock]["mhz"] * 1e6 * f_s
    if design == "opt4e":
        fmax *= d["clock_ratios"]["opt4e_vs_opt4c"]["value"]
    area, energy, unit_area, unit_energy = structural_cost(design, ps, pp, acc, lanes, node, vdd)
    return PeCost(area * slots, energy * slots, unit_area, unit_energy, fmax,
                  f"structural cell model (NanGate45 cells, calibrated to SAED32 "
                  f"{d['calibration']['area']} area and {d['calibration']['energy']} energy); "
                  f"clock of SAED32 {clock}" + (" x OPT4E/OPT4C t_pd ratio" if design == "opt4e"
                                                else " (estimate: same critical path class)"))


def check_points() -> list[tuple[str, float, float]]:
    """(report, structural prediction, report value) for the reports that only check the model."""
    d = data()
    syn = d["synthesis"]
    node, vdd = d["node_nm"], d["vdd"]
    out = []
    pe_a, _, unit_a, _ = structural_cost("opt4c", 8, 8, 26, 1, node, vdd)
    out.append(("opt4c_column_n16 area um2", 16 * pe_a + unit_a, syn["opt4c_column_n16"]["area_um2"]))
    mac_a, mac_e, _, _ = structural_cost("mac", 8, 8, 32, 1, node, vdd)
    out.append(("mac_pe area um2", mac_a, syn["mac_pe"]["area_um2"]))
    r = syn["mac_pe"]
    out.append(("mac_pe energy pJ/cycle", mac_e, report_pj_per_cycle(r)))
    opt1_a, _, _, _ = structural_cost("opt1", 8, 8, 24, 1, node, vdd)
    out.append(("opt1_pe area um2", opt1_a, syn["opt1_pe"]["area_um2"]))
    return out

