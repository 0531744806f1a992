"""Average power of LLaMA-7B decode on every family's presets, against the range a chip of its
class draws (docs/energy_area.md, "Validation against measured or published power").

Each class range names its source. A lower bound is the class's idle power: the H200 board
idles at 17.7 % of its 700 W limit (124 W measured, sim/families/gpu/data/measured/), so a chip
of a class whose limit is L draws at least 0.177 L; an upper bound is the class's limit."""

from __future__ import annotations

import pytest

from sim.simulation.arch import load_arch
from sim.simulation.simulate import simulate

#: measured H200 idle power over its board limit (h200_energy.json: 124 W of 700 W)
IDLE_SHARE = 124.0 / 700.0

#: class: (low W, high W, source)
CLASSES = {
    "H100 / H200 board": (250.0, 700.0, "issue 25: an H100-class GPU draws 250-700 W; 700 W "
                          "board limit (H100 SXM5 / H200 SXM datasheets)"),
    "A100 board": (150.0, 400.0, "A100 SXM4 TDP 400 W (datasheet); decode draws well above "
                   "idle (50-60 W)"),
    "TPUv4-class NPU": (IDLE_SHARE * 192.0, 192.0, "8 128x128 arrays at ~1 GHz with 1-1.2 TB/s "
                        "HBM2, as TPU v4: 192 W maximum (Google Cloud TPU v4 documentation); "
                        "lower bound: the H200's idle share of its limit"),
    "TPUv3 TensorCore": (61.5, 131.0, "half a TPU v3 chip (two TensorCores, each two 128x128 "
                         "MXUs, 900 GB/s HBM2): measured min / max 123 / 262 W per chip (Google "
                         "Cloud TPU v3 documentation)"),
    "wafer-scale engine": (10e3, 25e3, "issue 25: a wafer 10-25 kW; WSE-2 15 kW chip, CS-2 "
                           "20-23 kW system (Cerebras briefs)"),
}

#: why the wafers miss their class range (issue 25, open): 9.76 kW (WSE-2) and 9.79 kW (WSE-3).
#: Cerebras publishes no idle figure; the always-on power per core is estimated as the H200's
#: measured clocked-idle share of its limit (38 %) x the 30 mW core peak. Other measured
#: clocked floors (TPU v3) put it anywhere in 5.7-12 kW, either side of the floor
#: (docs/wafer_mesh.md), so the miss stays recorded rather than tuned away.
#: strict: a change that brings them into range must update the docs and drop this mark.
WAFER_MISS = ("issue 25 open: always-on power per core is an estimate (no published WSE idle "
              "figure), 9.76 / 9.79 kW vs the 10 kW floor; docs/wafer_mesh.md")

PRESETS = [
    ("h100", "H100 / H200 board"), ("h200", "H100 / H200 board"), ("a100", "A100 board"),
    ("lut_tc", "A100 board"), ("lut_tc_a100_8x", "A100 board"), ("mac_tc_a100_fp16", "A100 board"),
    ("mac_tc_a100_int8", "A100 board"), ("lut_tc_h100_4x", "H100 / H200 board"),
    ("lut_tc_h100_8x", "H100 / H200 board"), ("mac_tc_h100_fp8", "H100 / H200 board"),
    ("systolic", "TPUv3 TensorCore"), ("neupims", "TPUv4-class NPU"),
    ("npu_only", "TPUv4-class NPU"),
    ("npu_pim_naive", "TPUv4-class NPU"),
    pytest.param("wse2", "wafer-scale engine",
                 marks=pytest.mark.xfail(strict=True, reason=WAFER_MISS)),
    pytest.param("wse3", "wafer-scale engine",
                 marks=pytest.mark.xfail(strict=True, reason=WAFER_MISS)),
]

#: the densest board class: an H100 SXM5 at its 700 W limit over its 814 mm2 die (datasheet,
#: whitepaper) draws 0.86 W/mm2; no design's on-chip power may exceed 1 W/mm2 of its area
MAX_W_PER_MM2 = 1.0


@pytest.mark.slow
@pytest.mark.parametrize("preset, cls", PRESETS)
def test_decode_power_is_in_its_class_range(preset, cls):
    low, high, _ = CLASSES[cls]
    r = simulate(load_arch(f"arch_configs/{preset}.yaml"), "llama7b_decode")
    assert low <= r.average_power_w <= high, (preset, r.average_power_w)


@pytest.mark.parametrize("preset", ["systolic_32x32", "bitslice", "bitslice_stripes", "neupims",
                                    "wse2"])
def test_on_chip_power_density_is_below_the_densest_board(preset):
    """Designs without a product class (SCALE-Sim's abstract array, the research bit-slice
    engines) are checked against physics only: on-chip (non-DRAM) power per mm2 of the modelled
    area stays below the densest board's. Presets whose static power is a board's measured idle
    (HBM standby and uncore included, not part of the modelled area) are left out."""
    r = simulate(load_arch(f"arch_configs/{preset}.yaml"), "llama7b_decode")
    on_chip_w = (r.energy_joules - r.energy_breakdown.get("dram", 0.0)) / r.seconds
    assert 0 < on_chip_w <= MAX_W_PER_MM2 * r.area_mm2, (preset, on_chip_w, r.area_mm2)


def test_idle_power_replaces_the_leakage_estimate_and_the_limit_is_flagged():
    """``power.idle_w`` is the chip's static power in place of leakage x area; ``active_w`` is
    charged while ops run; a run above ``power.limit_w`` is flagged (families other than the
    GPU do not lower their clock)."""
    plain = simulate(load_arch("arch_configs/systolic_32x32.yaml"), "llama7b_decode")
    powered = simulate(load_arch("arch_configs/systolic_32x32.yaml", [
        "power.idle_w=20 W", "power.active_w=10 W", "power.limit_w=25 W"]), "llama7b_decode")
    assert plain.static_components == ["leakage"] and powered.static_components == ["idle"]
    assert powered.power["static_w"] == pytest.approx(20.0)
    assert powered.energy_breakdown["active"] == pytest.approx(10.0 * powered.seconds, rel=1e-9)
    assert powered.cycles == plain.cycles
    assert powered.power["above_limit"] and not powered.power["held_at_limit"]
    assert "ABOVE the 25 W limit" in powered.summary()
