"""Quantities with units: ``"24 MiB"``, ``"1 GHz"``, ``"0.2 pJ"``, ``"450 GB/s"``.

A config field declares a *dimension* (bytes, frequency, energy, time, bandwidth, area, power)
and stores its value in that dimension's canonical unit:

============  ==========  ==========================================
dimension     canonical   accepted units
============  ==========  ==========================================
bytes         B           B, KB, MB, GB, TB (10^3), KiB, MiB, GiB, TiB (2^10), kB; bit, Kib, Mib
frequency     Hz          Hz, kHz, MHz, GHz
energy        pJ          fJ, pJ, nJ, uJ, µJ, mJ, J
time          ns          ps, ns, us, µs, ms, s
bandwidth     B/s         B/s, KB/s, MB/s, GB/s, TB/s, KiB/s, MiB/s, GiB/s, TiB/s
area          mm2         um2, um^2, µm², mm2, mm^2, mm²
power         W           uW, mW, W, kW
============  ==========  ==========================================

A bare number is taken in the canonical unit.
"""

from __future__ import annotations

import math
import re

_BYTES = {
    "B": 1,  # a bare "b" is refused: bit or byte is ambiguous
    "kB": 1e3, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
    "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40,
    "bit": 1 / 8, "bits": 1 / 8, "Kib": 2**10 / 8, "Mib": 2**20 / 8, "Gib": 2**30 / 8,
}

UNITS: dict[str, dict[str, float]] = {
    "bytes": _BYTES,
    "frequency": {"Hz": 1, "kHz": 1e3, "MHz": 1e6, "GHz": 1e9},
    "energy": {"fJ": 1e-3, "pJ": 1, "nJ": 1e3, "uJ": 1e6, "µJ": 1e6, "mJ": 1e9, "J": 1e12},
    "time": {"ps": 1e-3, "ns": 1, "us": 1e3, "µs": 1e3, "ms": 1e6, "s": 1e9},
    "bandwidth": {
        "B/s": 1, "KB/s": 1e3, "kB/s": 1e3, "MB/s": 1e6, "GB/s": 1e9, "TB/s": 1e12,
        "KiB/s": 2**10, "MiB/s": 2**20, "GiB/s": 2**30, "TiB/s": 2**40,
    },
    "area": {
        "um2": 1e-6, "um^2": 1e-6, "µm2": 1e-6, "µm²": 1e-6, "um²": 1e-6,
        "mm2": 1, "mm^2": 1, "mm²": 1,
    },
    "power": {"uW": 1e-6, "µW": 1e-6, "mW": 1e-3, "W": 1, "kW": 1e3},
}

CANONICAL = {
    "bytes": "B", "frequency": "Hz", "energy": "pJ", "time": "ns",
    "bandwidth": "B/s", "area": "mm2", "power": "W",
}

_QUANTITY = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([^\s\d].*?)?\s*$")


class UnitError(ValueError):
    """A quantity string could not be parsed for the dimension asked."""


def parse_quantity(value: object, dimension: str) -> float:
    """Convert ``value`` (number or ``"<number> <unit>"``) to the canonical unit of ``dimension``.

    Raises :class:`UnitError` with the allowed units when the unit is unknown or the value is
    not a finite number.
    """
    table = UNITS[dimension]
    if isinstance(value, bool):
        raise UnitError(f"expected a {dimension} quantity, got a boolean")
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        match = _QUANTITY.match(value)
        if not match:
            raise UnitError(
                f"cannot read {value!r} as a {dimension} quantity; write e.g. "
                f"'{example(dimension)}' (units: {', '.join(table)})"
            )
        number = float(match.group(1))
        unit = match.group(2)
        if unit:
            if unit not in table:
                raise UnitError(
                    f"unknown {dimension} unit {unit!r} in {value!r}; allowed: {', '.join(table)}"
                )
            number *= table[unit]
    else:
        raise UnitError(f"expected a {dimension} quantity such as '{example(dimension)}', "
                        f"got {type(value).__name__}")
    if not math.isfinite(number):
        raise UnitError(f"{value!r} is not a finite number")
    return number


def example(dimension: str) -> str:
    """A typical quantity string of ``dimension``, for messages."""
    return {
        "bytes": "24 MiB", "frequency": "1 GHz", "energy": "0.2 pJ", "time": "100 ns",
        "bandwidth": "450 GB/s", "area": "1.5 mm2", "power": "2 W",
    }[dimension]


def format_bytes(n: float) -> str:
    """Human-readable binary size (``12.0 MiB``)."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(n) >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n:.0f} B"


def format_si(value: float, unit: str) -> str:
    """Engineering notation with an SI prefix (``3.21 ms``, ``12.4 mJ``)."""
    if value == 0:
        return f"0 {unit}"
    for prefix, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3), ("", 1),
                          ("m", 1e-3), ("µ", 1e-6), ("n", 1e-9), ("p", 1e-12)):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}"


def ns_to_cycles(ns: float, hz: float) -> int:
    """A duration of ``ns`` nanoseconds in whole cycles of a ``hz`` clock (rounded)."""
    return int(round(ns * 1e-9 * hz))
