"""Standard-cell counting, shared by the structural unit models of the families.

A structural model describes a datapath as counts of five cells (AND2, XOR2, MUX2, full adder,
flip-flop), per bit. :func:`price` turns counts into µm² or fJ per switching event with the
NanGate 45 nm prices of ``sim/core/data/cells_nangate45.yaml``; each family then applies its own
calibration factors and the common node / supply scaling (:func:`scale`).
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import yaml

from sim.core.scaling import area_factor, energy_factor

DATA_PATH = Path(__file__).resolve().parent / "data" / "cells_nangate45.yaml"
CELLS = ("and2", "xor2", "mux2", "fa", "dff")


@lru_cache(maxsize=1)
def table() -> dict:
    """The cell price table (node_nm, vdd and one entry per cell with its source)."""
    with open(DATA_PATH, encoding="utf-8") as f:
        return yaml.safe_load(f)


def add(*parts: dict) -> dict:
    """Sum of cell-count dicts."""
    out = dict.fromkeys(CELLS, 0.0)
    for p in parts:
        for k, v in p.items():
            out[k] += v
    return out


def times(n: float, part: dict) -> dict:
    """``n`` copies of a cell-count dict."""
    return {k: n * v for k, v in part.items()}


def price(counts: dict, what: str) -> float:
    """Area (µm², ``what='area'``) or energy per switching of every cell (fJ) at 45 nm."""
    cells = table()
    key = "area_um2" if what == "area" else "energy_fj"
    return sum(n * cells[c][key] for c, n in counts.items())


def scale(node: float, vdd: float, ref_node: float, ref_vdd: float) -> tuple[float, float, float]:
    """(area, energy, clock) factors from a reference node/supply to ``node``/``vdd``: area and
    energy by the Stillmaker & Baas fits (:mod:`sim.core.scaling`), the clock inversely with
    the node (constant-field delay scaling; docs/energy_area.md says why not by their delay
    fits)."""
    return (area_factor(node, ref_node), energy_factor(node, vdd, ref_node, ref_vdd),
            ref_node / node)


def cell_scale(node: float, vdd: float) -> tuple[float, float]:
    """(area, energy) factors from the cell table's node and supply to ``node``/``vdd``."""
    t = table()
    a, e, _ = scale(node, vdd, t["node_nm"], t["vdd"])
    return a, e


# ---- datapath blocks ------------------------------------------------------------------------
def int_adder(bits: int) -> dict:
    """Ripple-carry adder of ``bits`` bits."""
    return {"fa": bits}


def int_multiplier(a_bits: int, b_bits: int) -> dict:
    """Array multiplier: a x b partial-product ANDs reduced by full adders."""
    return {"and2": a_bits * b_bits, "fa": a_bits * max(b_bits - 1, 0)}


def fp_multiplier(exp_bits: int, man_bits: int) -> dict:
    """Floating-point multiplier: (m+1)^2 significand array, exponent adder, 1-bit normalise
    shift and round incrementer (half adders counted as half a full adder)."""
    sig = man_bits + 1
    return {"and2": sig * sig, "fa": sig * man_bits + exp_bits + 1 + sig / 2, "mux2": 2 * sig}


def fp_adder(exp_bits: int, man_bits: int) -> dict:
    """Floating-point adder: exponent difference, operand swap, alignment barrel shifter,
    significand adder (with guard/round/sticky), leading-zero count, normalisation barrel
    shifter, round incrementer."""
    width = man_bits + 4
    levels = math.ceil(math.log2(width))
    return {"fa": 2 * exp_bits + width + (man_bits + 1) / 2,
            "mux2": 2 * (man_bits + 1) + 2 * width * levels, "and2": 2 * width}
