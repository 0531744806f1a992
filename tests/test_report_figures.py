"""The figures a report prints describe the same work, and say what they are about.

* GPU causal prefill: the op's executed MACs, bound and time agree (no op faster than its
  bound or its unit's peak) at 1024-4096 tokens, with one SM and with small attention tiles;
* concurrent units (NeuPIMs, the NPU-only prefill): the run's time is at least its bound, and
  stalls are a share of the op time they belong to;
* 8-bit GPU operands are priced as the configured format; an ideal DRAM prints no rows;
* a tensor-parallel report says it is one device; "1 token", not "1 tokens";
* ``extends:`` or ``--set`` of another ``dram.preset`` does not keep the parent's channels
  and PHY; ``dram.refresh=off`` and ``1e-3`` are read as meant;
* ``simulate ... | head`` ends quietly.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from sim import load_arch, simulate

H100 = "arch_configs/h100.yaml"


@pytest.mark.parametrize("sets", [
    ["workload.prompt_len=1024"],
    ["workload.prompt_len=2048"],
    ["workload.prompt_len=1024", "sm.count=1"],
    ["workload.prompt_len=1024", "attention.block_q=16", "attention.block_kv=16"],
    ["workload.prompt_len=1000", "attention.block_q=48", "attention.block_kv=32"],
])
def test_gpu_causal_prefill_holds_its_bounds(sets):
    arch_sets = [s for s in sets if not s.startswith("workload.")]
    work_sets = [s for s in sets if s.startswith("workload.")]
    report = simulate(load_arch(H100, arch_sets), "llama7b_prefill", work_sets)  # invariants
    attn = [r for r in report.ops if r.kind == "attention"]
    assert attn
    for r in attn:
        # the kernel skips the masked key blocks: it computes about half the full products
        assert 0.45 * r.macs < r.executed_macs < 0.8 * r.macs
        assert r.cycles >= r.roofline_cycles
    assert report.macs == sum(r.macs for r in report.ops)


@pytest.mark.parametrize("arch, workload, sets", [
    ("arch_configs/neupims.yaml", "gpt3_7b_decode",
     ["workload.batch=64", "workload.context_dist=sharegpt"]),
    ("arch_configs/npu_pim_naive.yaml", "gpt3_7b_decode",
     ["workload.batch=64", "workload.context_dist=sharegpt"]),
    ("arch_configs/npu_only.yaml", "gpt3_7b_prefill", ["workload.prompt_len=128"]),
])
def test_concurrent_units_keep_the_run_above_its_bound(arch, workload, sets):
    report = simulate(load_arch(arch), workload, sets)
    assert report.cycles >= report.roofline_cycles
    op_cycles = sum(r.cycles for r in report.ops)
    assert op_cycles > report.cycles  # units overlap
    assert report.stall_cycles <= op_cycles
    text = report.summary()
    assert "simulated / bound = 0." not in text
    assert "concurrent units' op-cycles summed" in text


def test_eight_bit_macs_are_priced_by_their_own_constant():
    """8-bit GEMMs cost ``energy.pj_per_mac_8`` per executed MAC: one more pJ adds exactly their
    MACs; attention stays on 16-bit MMAs."""
    over = ["workload.weight_bits=8", "workload.act_bits=8", "workload.context_len=64"]
    a100 = "arch_configs/a100.yaml"
    base = simulate(load_arch(a100), "llama7b_decode", over)
    pj = load_arch(a100).cfg.energy.pj_per_mac_8
    more = simulate(load_arch(a100, [f"energy.pj_per_mac_8={pj + 1} pJ"]), "llama7b_decode", over)
    gemm_macs = sum(r.executed_macs for r in base.ops if r.kind != "attention")
    extra = more.energy_breakdown["tensor"] - base.energy_breakdown["tensor"]
    assert extra == pytest.approx(gemm_macs * 1e-12, rel=1e-9)


def test_ideal_dram_prints_no_row_hits():
    report = simulate(load_arch("arch_configs/h100.yaml"), "gpt2_decode")
    assert report.dram["model"] == "ideal"
    line = [ln for ln in report.summary().splitlines() if ln.strip().startswith("DRAM HBM")][0]
    assert "row hits" not in line and "ACT" not in line


def test_tensor_parallel_report_is_labelled_one_device():
    one = simulate(load_arch("arch_configs/systolic.yaml"), "gpt2_decode")
    four = simulate(load_arch("arch_configs/systolic.yaml"), "gpt2_decode",
                    ["workload.tensor_parallel=4"])
    assert four.devices == 4 and one.devices == 1
    assert "ONE DEVICE of 4" in four.summary() and "ONE DEVICE" not in one.summary()
    assert "(1 token)" in one.summary() and "1 tokens" not in one.summary()
    per_token = [ln for ln in four.summary().splitlines() if "/token" in ln][0]
    assert "4 devices x this one" in per_token


def test_a_new_dram_preset_does_not_inherit_the_parents_organisation(tmp_path):
    child = tmp_path / "lp.yaml"
    child.write_text("extends: systolic\nname: lp\ndram:\n  preset: LPDDR5\n")
    for arch in (load_arch(str(child)), load_arch("systolic", ["dram.preset=LPDDR5"])):
        assert arch.cfg.dram.channels is None and arch.cfg.dram.phy_area == 0
    kept = load_arch(str(child), ["dram.channels=4"])
    assert kept.cfg.dram.channels == 4


def test_yaml_words_and_exponents_are_read_as_meant():
    arch = load_arch("systolic", ["dram.refresh=off", "tech.vdd=1e-0"])
    assert arch.cfg.dram.refresh == "off" and arch.cfg.tech.vdd == 1.0


def test_piping_into_head_ends_quietly():
    cmd = (f"{sys.executable} -m sim.cli.main --arch arch_configs/systolic.yaml "
           f"--workload gpt2_decode | head -1")
    proc = subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=300)
    assert proc.stdout.startswith("accelsim")
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr
