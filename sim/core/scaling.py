"""Scaling area, energy and delay between technology nodes and supply voltages.

The rule is Stillmaker & Baas (Integration 58, 2017): for each node from 180 nm to 7 nm, fitted
equations give a gate's delay (cubic in VDD) and switching energy (quadratic in VDD), and a
table gives the area factor between nodes (``sim/core/data/node_scaling.yaml``). A factor
between two (node, VDD) points is the ratio of the fits. Nodes between the tabulated ones
(28 nm, 22 nm, 12 nm) are interpolated linearly in log(value) over log(node); nodes outside
180-7 nm (5 nm, 3 nm) are extrapolated along the nearest segment, which docs/energy_area.md
flags with a wider error bound. Below 65 nm the high-performance device fits are used.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import yaml

TABLE_PATH = Path(__file__).resolve().parent / "data" / "node_scaling.yaml"


@lru_cache(maxsize=1)
def table() -> dict:
    with open(TABLE_PATH, encoding="utf-8") as f:
        return yaml.safe_load(f)


def _nodes() -> list[int]:
    return sorted(table()["nodes"], reverse=True)  # 180 ... 7


def _fit(node: int, what: str, flavour: str) -> list[float]:
    row = table()["nodes"][node]
    return row[what] if what in row else row[flavour][what]


def _polyval(coeffs: list[float], vdd: float) -> float:
    value = 0.0
    for c in coeffs:
        value = value * vdd + c
    return value


def _bracket(node: float) -> tuple[int, int]:
    """The two tabulated nodes whose segment covers ``node`` (the nearest one beyond the ends)."""
    nodes = _nodes()
    for hi, lo in zip(nodes, nodes[1:]):
        if node >= lo:
            return hi, lo
    return nodes[-2], nodes[-1]


def _log_line(node: float, a: float, b: float, v_a: float, v_b: float) -> float:
    """The value at ``node`` on the line through (a, v_a) and (b, v_b) in log-log."""
    t = (math.log(node) - math.log(a)) / (math.log(b) - math.log(a))
    return math.exp(math.log(v_a) + t * (math.log(v_b) - math.log(v_a)))


def _log_interp(node: float, value_at) -> float:
    """``value_at(tabulated node)`` at ``node``, linear in log(value) over log(node)."""
    if node in table()["nodes"]:
        return value_at(node)
    hi, lo = _bracket(node)
    v_hi, v_lo = value_at(hi), value_at(lo)
    if v_hi <= 0 or v_lo <= 0:
        raise ValueError(f"scaling fit is not positive near {node} nm")
    return _log_line(node, hi, lo, v_hi, v_lo)


def _at(node: float, vdd: float, what: str, flavour: str) -> float:
    value = _log_interp(node, lambda n: _polyval(_fit(n, what, flavour), vdd))
    if value <= 0:
        raise ValueError(f"the {what} fit of {node:g} nm is not positive at {vdd:g} V (outside "
                         "the supply range it was fitted on)")
    return value


def area_factor(node: float, ref_node: float) -> float:
    """Area at ``node`` over area at ``ref_node`` (same design)."""
    rel = lambda n: _log_interp(n, lambda k: table()["nodes"][k]["area"])  # noqa: E731
    return rel(node) / rel(ref_node)


def energy_factor(node: float, vdd: float, ref_node: float, ref_vdd: float,
                  flavour: str = "hp") -> float:
    """Switching energy at (``node``, ``vdd``) over that at (``ref_node``, ``ref_vdd``)."""
    return _at(node, vdd, "energy", flavour) / _at(ref_node, ref_vdd, "energy", flavour)


def delay_factor(node: float, vdd: float, ref_node: float, ref_vdd: float,
                 flavour: str = "hp") -> float:
    """Gate delay at (``node``, ``vdd``) over that at (``ref_node``, ``ref_vdd``); the clock a
    design reaches scales by its inverse."""
    return _at(node, vdd, "delay", flavour) / _at(ref_node, ref_vdd, "delay", flavour)


def supply_problem(node: float, vdd: float) -> str | None:
    """Why the energy fit cannot price (``node``, ``vdd``), or None when it can."""
    try:
        _at(node, vdd, "energy", "hp")
    except ValueError as exc:
        return str(exc)
    return None


#: VDD (V) at which :func:`held_out_errors` evaluates each node's energy fit. Assumption: the
#: usual core supply of each node, not a figure from the paper; the bounds are quoted there
NOMINAL_VDD = {180: 1.8, 130: 1.3, 90: 1.2, 65: 1.1, 45: 0.9, 32: 0.9, 20: 0.9, 16: 0.8,
               14: 0.8, 10: 0.75, 7: 0.7}


def held_out_errors() -> dict[str, dict[int, tuple[float, float]]]:
    """Relative (energy, area) error of predicting a tabulated node from its neighbours the way
    an untabulated node is predicted: ``interpolated`` from the nodes on either side,
    ``extrapolated`` from the two nodes above it. The error bounds of docs/energy_area.md."""
    nodes = _nodes()
    area = {n: table()["nodes"][n]["area"] for n in nodes}

    def predict(n, a, b, values):
        return _log_line(n, a, b, values[a], values[b])

    def errors(n, a, b):
        energy = {k: _polyval(_fit(k, "energy", "hp"), NOMINAL_VDD[n]) for k in (n, a, b)}
        return (predict(n, a, b, energy) / energy[n] - 1, predict(n, a, b, area) / area[n] - 1)

    triples = list(zip(nodes, nodes[1:], nodes[2:]))
    return {"interpolated": {n: errors(n, hi, lo) for hi, n, lo in triples},
            "extrapolated": {n: errors(n, a, b) for a, b, n in triples}}


def flavour_spread() -> dict[int, float]:
    """Energy factor from 45 nm of the low-power fits over that of the high-performance fits,
    minus one, at each node that has both (the device-flavour uncertainty)."""
    return {n: energy_factor(n, NOMINAL_VDD[n], 45, 0.9, "lp")
            / energy_factor(n, NOMINAL_VDD[n], 45, 0.9, "hp") - 1
            for n in _nodes() if "hp" in table()["nodes"][n]}
