"""Simulator-vs-paper figures for the lut_tc family (used by tests and docs/lut_tc_repro.py).

Published targets come from ``sim/families/lut_tc/data/lut_tc.yaml`` (LUT Tensor Core, ISCA'25):
Table 2's ablation, Table 3's W1A8 efficiency, Fig. 12's DP4 densities, Fig. 14's W1 TC-level ratio,
Table 1's peaks, TC area per SM, energy efficiency and BitNet-3B latencies, Table 4's precompute
overhead.
"""

from __future__ import annotations

from dataclasses import replace

from sim.core.paths import PROJECT_ROOT
from sim.core.targets import Target
from sim.simulation.arch import load_arch
from sim.families.lut_tc.unit import (LutDesign, data, lut_structure, lut_unit_cost, mac_structure,
                                      mac_unit_cost, priced, table2_design)
from sim.families.lut_tc.family import lut_design, peak_ops_per_second
from sim.simulation.simulate import simulate

CONFIGS = PROJECT_ROOT / "arch_configs"
NODE, VDD = 28, 0.9


def table2() -> dict[str, tuple[float, float, float, float]]:
    """Row -> (area um2, paper area, power mW at 1 GHz, paper power)."""
    out = {}
    for row, ref in data()["table2"].items():
        c = lut_unit_cost(table2_design(row), NODE, VDD)
        out[row] = (c.area_um2, ref["area_um2"], c.energy_pj, ref["power_mw"])
    return out


def table3_tops_per_w() -> float:
    """W1 x A8 on the Table 2 unit: 2 ops per lookup-MAC, 512 per cycle, / energy per cycle."""
    c = lut_unit_cost(replace(table2_design("lut_tc"), weight_bits=1), NODE, VDD)
    return 2 * 512 / c.energy_pj  # ops per pJ = TOPS/W


def dp4_densities() -> tuple[float, float]:
    """Fig. 12 DP4 (M = N = 1, K = 4) at 1 GHz, TFLOPs/mm2: (LUT W1 x FP16, MAC FP16 x FP16).
    Datapaths only (tables are precomputed outside a DP unit, operands arrive from outside)."""
    lut = priced(lut_structure(LutDesign(1, 1, 4, 1, "fp16", 16, 16), registers=False), NODE,
                 VDD, "DP4 LUT")
    mac = priced(mac_structure(1, 1, 4, "fp16", registers=False), NODE, VDD, "DP4 MAC")
    flops = 2 * 4 * 1e9
    return flops / lut.area_um2 * 1e6 / 1e12, flops / mac.area_um2 * 1e6 / 1e12


def w1_tc_ratios() -> tuple[float, float]:
    """Fig. 14 W1 x FP16, 512-element arrays: (MAC / LUT area, MAC / LUT power per MAC)."""
    lut = lut_unit_cost(LutDesign(2, 64, 4, 1, "fp16", None, 16), NODE, VDD)
    mac = mac_unit_cost(8, 4, 16, "fp16", NODE, VDD)
    return mac.area_um2 / lut.area_um2, mac.energy_pj / lut.energy_pj


def table1_units(row: str) -> dict[str, float]:
    """Peak (TOPS), weight-path TC area per SM (mm2), density (TOPS/mm2) and weight-path
    energy efficiency (TOPS/W) of a Table 1 configuration."""
    ref = data()["table1"][row]
    cfg = load_arch(CONFIGS / f"{ref['config']}.yaml").cfg
    peak = peak_ops_per_second(cfg, ref["weight_bits"]) / 1e12
    lut = cfg.lut.units > 0
    if lut:
        unit, per_sm = lut_unit_cost(lut_design(cfg), NODE, VDD), cfg.lut.units
        macs_per_cycle = cfg.lut.tile_m * cfg.lut.tile_n * cfg.lut.tile_k / ref["weight_bits"]
    else:
        m = cfg.mac
        unit, per_sm = mac_unit_cost(m.tile_m, m.tile_n, m.tile_k, m.format, NODE, VDD), m.units
        macs_per_cycle = m.tile_m * m.tile_n * m.tile_k
    area_sm = unit.area_um2 * per_sm * 1e-6
    return {"peak": peak, "tc_area_per_sm": area_sm,
            "density": peak / (cfg.chip.clusters * area_sm),
            "tops_per_w": 2 * macs_per_cycle / unit.energy_pj}


def table1_latency_ms(row: str, column: str) -> float:
    """Simulated BitNet b1.58-3B latency (ms) of a Table 1 row: ``bs1_seq2048`` (prefill of
    2048 tokens) or ``bs1024_seq1`` (one decode step of 1024 sequences, empty cache)."""
    ref, att = data()["table1"][row], data()["table1_attention_bits"]
    sets = [f"workload.weight_bits={ref['weight_bits']}", f"workload.act_bits={ref['act_bits']}",
            f"workload.kv_bits={att}", f"workload.attention_bits={att}"]
    if column == "bs1_seq2048":
        spec, sets = "bitnet_b158_3b_prefill", sets + ["workload.prompt_len=2048"]
    else:
        spec, sets = "bitnet_b158_3b_decode", sets + ["workload.batch=1024",
                                                      "workload.context_len=0"]
    return simulate(str(CONFIGS / f"{ref['config']}.yaml"), spec, sets).seconds * 1e3


def precompute_overheads(workload: str = "llama2_13b", arch: str = "lut_tc") -> dict:
    """Table precompute overhead (%) over the ideal (free tables) run, unfused and fused, for
    a prefill (BS1, 2048 tokens) and a decoding (BS256, one step) configuration."""
    out = {}
    cases = {"prefill": (f"{workload}_prefill", ["workload.prompt_len=2048"]),
             "decode": (f"{workload}_decode", ["workload.batch=256", "workload.context_len=0"])}
    for name, (spec, sets) in cases.items():
        t = {mode: simulate(load_arch(CONFIGS / f"{arch}.yaml", [f"lut.precompute={mode}"]),
                            spec, sets).seconds for mode in ("ideal", "separate", "fused")}
        out[name] = {"unfused": 100 * (t["separate"] / t["ideal"] - 1),
                     "fused": 100 * (t["fused"] / t["ideal"] - 1)}
    return out


def issue_targets() -> list[Target]:
    """Every figure issue 26 sets for this family, at its tolerance: the headline density and
    energy ratios, Fig. 12, LUT-8X's area share, the 14 BitNet-3B latencies and Table 4's
    precompute overheads."""
    d = data()
    units = {row: table1_units(row) for row in ("a100_fp16", "a100_lut_8x")}
    t1, h, f12 = d["table1"], d["headline"], d["fig12"]
    lut, mac = dp4_densities()
    out = [
        Target("density A100-LUT-8X / FP16 TC (x)", h["density_x"],
               units["a100_lut_8x"]["density"] / units["a100_fp16"]["density"], 0.20),
        Target("Fig. 12 DP4 density LUT / MAC (x)",
               f12["lut_w1_fp16_tflops_per_mm2"] / f12["mac_fp16_fp16_tflops_per_mm2"],
               lut / mac, 0.20),
        Target("energy efficiency A100-LUT-8X / FP16 TC (x)", h["energy_x"],
               units["a100_lut_8x"]["tops_per_w"] / units["a100_fp16"]["tops_per_w"], 0.20),
        Target("LUT-8X TC area / FP16 TC area (%)",
               100 * t1["a100_lut_8x"]["tc_area_per_sm"] / t1["a100_fp16"]["tc_area_per_sm"],
               100 * units["a100_lut_8x"]["tc_area_per_sm"] / units["a100_fp16"]["tc_area_per_sm"],
               0.20)]
    latencies = [Target(f"BitNet-3B {row} {col} (ms)", ref[col + "_ms"],
                        table1_latency_ms(row, col), 0.20)
                 for row, ref in t1.items() for col in ("bs1_seq2048", "bs1024_seq1")]
    within = sum(t.passed for t in latencies)
    out += latencies
    out.append(Target(f"BitNet-3B latencies within 20 % (of {len(latencies)})", len(latencies),
                      within, len(latencies) - 12, points=True, note="target: at least 12"))
    paper = d["table4"]
    for (case, o), pu, pf in zip(precompute_overheads().items(), paper["unfused_pct"],
                                 paper["fused_pct"]):
        out.append(Target(f"precompute overhead {case}, unfused (%)", pu, o["unfused"], 5.0,
                          points=True))
        out.append(Target(f"precompute overhead {case}, fused (%)", pf, o["fused"], 5.0,
                          points=True))
    return out
