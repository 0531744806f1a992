"""Components shared by every family: technology, SRAM buffers, vector unit.

Each shared component declares its config section once here; families compose these sections
into their schema. The DRAM section and model live in :mod:`sim.memory` (``DRAM``,
:class:`~sim.memory.DramSystem`).
"""

from __future__ import annotations

from sim.core.config import Config, Field, Section

TECH = Section("Technology and clock", {
    "node_nm": Field("float", 45.0, "Process node used to scale the 45 nm cost tables", unit="nm",
                     minimum=1, maximum=1000),
    "vdd": Field("float", 0.9, "Supply voltage used to scale dynamic energy", unit="V",
                 minimum=0.1, maximum=5),
    "frequency": Field("frequency", 1e9, "Clock of the accelerator (one cycle = 1/frequency)",
                       positive=True),
    "leakage_w_per_mm2": Field("float", 0.05, "Static power per mm2 of on-chip area", unit="W/mm2",
                               minimum=0,
                               source="estimate: order of datacenter-accelerator idle power per "
                                      "die area (e.g. ~50 W over an 826 mm2 A100 die); an upper "
                                      "bound on pure leakage"),
})

POWER = Section("Power of the chip (or board) as a whole, where the design models a real one", {
    "idle_w": Field("power", None, "Power drawn with nothing running: leakage, clock tree, control, "
                    "PHY and memory standby. Static, charged for the whole run; when set it "
                    "replaces the leakage estimate (tech.leakage_w_per_mm2 x area), which it "
                    "contains. Give a measured or datasheet figure and its source",
                    nullable=True, minimum=0),
    "active_w": Field("power", 0.0, "Power drawn on top of idle_w while any op runs, whatever it "
                      "computes (clocks, schedulers, uncore of an active chip); dynamic",
                      minimum=0),
    "limit_w": Field("power", None, "Power limit (TDP); a run whose average power exceeds it is "
                     "flagged in the summary", nullable=True, positive=True),
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
    # unfused kernels of replayed traces (sim/workloads/traces.py), on the same assumptions as above
    "mul": 1,        # multiply, divide, square
    "transcendental": 4,  # exp / rsqrt / sin / cos / sigmoid / tanh: the exp cost assumed above
    "reduce": 1,     # one accumulate (or compare) per input element: mean, sum, max, top-k
    "silu": 7,       # x * sigmoid(x): silu_mul without the final multiply by up
    "cast": 1,       # a dtype conversion per element (e.g. RMSNorm's fp32 round trip)
}


def sram_section(desc: str, defaults: dict[str, float], banks: int = 8) -> Section:
    """Section with one capacity field per named buffer plus banking (banks, word width, ports)."""
    fields = {name: Field("bytes", size, f"Capacity of the {name} buffer", positive=True)
              for name, size in defaults.items()}
    fields["banks"] = Field("int", banks, "Banks per buffer (bank size sets energy per access)",
                            positive=True, maximum=4096)
    fields["width"] = Field("bytes", None, "Word width of one bank access; null = the narrowest "
                            "power of two >= 4 B whose banks together feed the compute unit "
                            "each cycle", nullable=True, positive=True)
    fields["ports"] = Field("int", 1, "Read/write ports per bank", positive=True, maximum=4)
    return Section(desc, fields)


def sram_word_bytes(cfg: Config, demand_bytes_per_cycle: int) -> int:
    """The configured word width, or the narrowest power of two >= 4 B that lets ``banks`` banks
    with ``ports`` ports deliver ``demand_bytes_per_cycle``. The 4 B floor keeps words within
    half an octave of the CACTI grid's narrowest point (8 B)."""
    if cfg.width is not None:
        return int(cfg.width)
    need = -(-demand_bytes_per_cycle // (cfg.banks * cfg.ports))
    return max(4, 1 << max(0, int(need - 1).bit_length()))
