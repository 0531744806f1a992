"""Energy and area pricing with provenance and technology scaling.

All primitive costs live in ``sim/core/data/costs_45nm.yaml`` (45 nm, 0.9 V), each with a
``source``. :class:`CostModel` scales them to the configured node and supply voltage by the
Stillmaker & Baas (Integration, 2017) fits of :mod:`sim.core.scaling`. DRAM energy per bit and
PHY area are interface properties and are not scaled.

Every priced quantity is returned as a :class:`Price` that carries the names of the table
entries used, so the report can say which entry priced each component.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from sim.core.scaling import area_factor, energy_factor

TABLE_PATH = Path(__file__).resolve().parent / "data" / "costs_45nm.yaml"


@lru_cache(maxsize=1)
def load_table() -> dict:
    with open(TABLE_PATH, encoding="utf-8") as f:
        table = yaml.safe_load(f)
    for name, entry in table["entries"].items():
        if not entry.get("source"):
            raise ValueError(f"{TABLE_PATH}: entry {name} has no source")
    return table


@dataclass(frozen=True)
class Price:
    """An energy (pJ) or area (µm²) figure and the table entries it came from."""

    value: float
    entries: tuple[str, ...]
    rule: str = ""


class CostModel:
    """Primitive costs at ``node_nm`` and ``vdd``."""

    def __init__(self, node_nm: float, vdd: float):
        t = load_table()
        self.node_nm = node_nm
        self.vdd = vdd
        self.area_scale = area_factor(node_nm, t["node_nm"])
        self.energy_scale = energy_factor(node_nm, vdd, t["node_nm"], t["vdd"])
        self.entries = t["entries"]

    def _e(self, name: str) -> float:
        return self.entries[name]["energy_pj"] * self.energy_scale

    def _a(self, name: str) -> float:
        return self.entries[name]["area_um2"] * self.area_scale

    def mac(self, fmt: str, a_bits: int, b_bits: int, acc_bits: int) -> tuple[Price, Price]:
        """Energy per MAC (pJ) and area per MAC unit (µm²) of a multiplier plus accumulator adder."""
        if fmt == "fp":
            mult = "fp16_mult" if max(a_bits, b_bits) <= 16 else "fp32_mult"
            add = "fp16_add" if acc_bits <= 16 else "fp32_add"
            return (Price(self._e(mult) + self._e(add), (mult, add)),
                    Price(self._a(mult) + self._a(add), (mult, add)))
        mult_e = self._e("int_mult_per_bit2") * a_bits * b_bits
        mult_a = self._a("int_mult_per_bit2") * a_bits * b_bits
        add_e = self._e("int_add_per_bit") * acc_bits
        add_a = self._a("int_add_per_bit") * acc_bits
        names = ("int_mult_per_bit2", "int_add_per_bit")
        rule = f"int{a_bits}x{b_bits} mult + int{acc_bits} add"
        return Price(mult_e + add_e, names, rule), Price(mult_a + add_a, names, rule)

    def register_bit(self) -> tuple[Price, Price]:
        """Energy per clocked bit write (pJ) and area per bit (µm²) of a pipeline flip-flop."""
        return Price(self._e("dff_bit"), ("dff_bit",)), Price(self._a("dff_bit"), ("dff_bit",))

    def fp32_fma(self) -> tuple[Price, Price]:
        """One FP32 multiply-add lane of a vector unit."""
        names = ("fp32_mult", "fp32_add")
        return (Price(self._e("fp32_mult") + self._e("fp32_add"), names),
                Price(self._a("fp32_mult") + self._a("fp32_add"), names))


def source_of(entry: str) -> str:
    return load_table()["entries"][entry]["source"]
