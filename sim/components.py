"""Components shared by every family: technology, DRAM channel, SRAM buffers, vector unit.

Each shared component declares its config section once here; families compose these sections
into their schema. The DRAM channel is a bandwidth + latency model; the cycle-level DRAM model
plugs in behind the same two methods (:meth:`DramChannel.occupancy_cycles`,
:attr:`DramChannel.latency_cycles`).
"""

from __future__ import annotations

import math

import numpy as np

from sim.config import Config, Field, Section
from sim.costs import CostModel, Price, dram_standards

TECH = Section("Technology and clock", {
    "node_nm": Field("float", 45.0, "Process node used to scale the 45 nm cost tables", unit="nm",
                     positive=True, maximum=1000),
    "vdd": Field("float", 0.9, "Supply voltage used to scale dynamic energy", unit="V",
                 positive=True, maximum=5),
    "frequency": Field("frequency", 1e9, "Clock of the accelerator (one cycle = 1/frequency)",
                       positive=True),
    "leakage_w_per_mm2": Field("float", 0.05, "Static power per mm2 of on-chip area", unit="W/mm2",
                               minimum=0,
                               source="estimate: order of datacenter-accelerator idle power per "
                                      "die area (e.g. ~50 W over an 826 mm2 A100 die); an upper "
                                      "bound on pure leakage"),
})

DRAM = Section("Off-chip memory channel (bandwidth + latency model)", {
    "standard": Field("enum", "HBM2", "DRAM standard; selects the energy per bit",
                      choices=tuple(dram_standards())),
    "bandwidth": Field("bandwidth", 450e9, "Peak transfer rate of all channels together",
                       positive=True),
    "latency": Field("time", 100.0, "Idle read latency (request to first data)", minimum=0),
    "energy_per_bit": Field("energy", None, "Energy per bit moved; null = the standard's table entry",
                            nullable=True, minimum=0),
    "phy_area": Field("area", 0.0, "On-die PHY + controller area attributed to this chip",
                      minimum=0),
})

VECTOR = Section("Vector unit for softmax, norms, activations, residual adds", {
    "lanes": Field("int", 128, "FP32 operations per cycle", positive=True),
    "latency": Field("int", 16, "Pipeline depth paid once per op", unit="cycles", minimum=0),
    "tile_elements": Field("int", 16384, "Elements per DMA tile when streaming from DRAM",
                           positive=True),
})

#: Vector operations per element by op kind. Estimates: exp = 4 ops (range reduction + cubic
#: polynomial), divide = 1 op (reciprocal unit); see docs/energy_area.md.
VECTOR_OPS_PER_ELEMENT = {
    "add": 1,
    "relu": 1,
    "rope": 3,       # x*cos - y*sin: 2 multiplies + 1 add
    "rmsnorm": 4,    # square-accumulate, 1/sqrt scale, multiply by x, multiply by weight
    "layernorm": 7,  # mean, centre, square-accumulate, scale, weight, bias, 1 for rsqrt/mean
    "softmax": 8,    # max, subtract, exp (4), sum, divide
    "silu_mul": 8,   # sigmoid = exp (4) + add + divide; x*sigmoid; *up
    "gelu": 10,      # tanh approximation: cube, 2 multiply-adds, tanh via exp (4), scale, multiply
    "gather": 0,     # DMA only
    "copy": 0,       # DMA only
}


class DramChannel:
    """Bandwidth + latency DRAM: a transfer of B bytes occupies the channel ceil(B / bytes-per-cycle)
    cycles; its data is usable ``latency_cycles`` later."""

    def __init__(self, cfg: Config, frequency_hz: float):
        self.bytes_per_cycle = cfg.bandwidth / frequency_hz
        self.latency_cycles = int(math.ceil(cfg.latency * frequency_hz / 1e9))
        self.standard = cfg.standard

    def occupancy_cycles(self, nbytes: np.ndarray) -> np.ndarray:
        """Cycles the channel is busy moving ``nbytes`` (int64 array in, int64 array out)."""
        return np.ceil(np.asarray(nbytes, dtype=np.float64) / self.bytes_per_cycle).astype(np.int64)


def dram_energy_per_bit(cfg: Config, costs: CostModel) -> Price:
    """The configured override, else the standard's table entry (pJ/bit)."""
    if cfg.energy_per_bit is not None:
        return Price(cfg.energy_per_bit, ("config: dram.energy_per_bit",))
    return costs.dram_bit_energy(cfg.standard)


def sram_section(desc: str, defaults: dict[str, float], banks: int = 8) -> Section:
    """Section with one capacity field per named buffer plus the bank count."""
    fields = {name: Field("bytes", size, f"Capacity of the {name} buffer", positive=True)
              for name, size in defaults.items()}
    fields["banks"] = Field("int", banks, "Banks per buffer (bank size sets energy per access)",
                            positive=True)
    return Section(desc, fields)
