"""The memory system shared by every family: command-level DRAM and banked SRAM."""

from sim.memory.spec import DRAM, DramSpec, load_presets, preset_names, resolve_spec
from sim.memory.system import DramSystem, run_requests, run_stream

__all__ = ["DRAM", "DramSpec", "DramSystem", "load_presets", "preset_names", "resolve_spec",
           "run_requests", "run_stream"]
