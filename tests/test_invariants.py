"""The invariant check on every report (sim/core/invariants.py): it passes on real runs, and a
family bug of each kind (lost MACs, missing traffic, time below a bound, a fraction above 1, a
NaN) is caught and names the op."""

import dataclasses
import glob

import numpy as np
import pytest

from sim import load_arch, simulate
from sim.core.config import override_pairs
from sim.cli.main import EXIT_INVARIANT, main
from sim.families.systolic.family import Systolic
from sim.core.invariants import InvariantError, compulsory_bytes
from sim.core.ops import Elementwise, Gemm
from sim.simulation.simulate import load_workload
from sim.workloads.traces import read_trace, trace_macs, trace_ops
from sim.workloads.loader import load_workload as gen_workload
from sim.workloads.model import available_models, closed_form_macs

from conftest import ROOT, SYSTOLIC

SMALL = ["workload.context_len=64"]


def buggy_plan(monkeypatch, op_name, change):
    """Make the systolic mapper return a wrong plan for ops called ``op_name``."""
    real = Systolic.plan

    def plan(self, ctx, op):
        p = real(self, ctx, op)
        if op.name == op_name:
            p = dataclasses.replace(p)
            change(p)
        return p
    monkeypatch.setattr(Systolic, "plan", plan)


def violations(arch=SYSTOLIC, workload="llama7b_decode", over=SMALL):
    with pytest.raises(InvariantError) as info:
        simulate(arch, workload, over)
    assert all(ln.startswith("accelsim bug: ")
               for ln in str(info.value).splitlines())
    return info.value.violations


def test_lost_macs_name_the_layer_and_ops(monkeypatch):
    def drop_pv(self, ctx, ops):
        return tuple(op for op in ops if not (op.name == "attn_pv" and op.layer == 3))
    monkeypatch.setattr(Systolic, "lower", drop_pv)
    lines = violations()
    assert any("MACs: layer 3 attention ops (attn_qk, softmax)" in ln and "the workload has" in ln
               for ln in lines), lines


def test_wrong_macs_in_a_plan_name_the_op(monkeypatch):
    def halve(p):
        p.macs //= 2
    buggy_plan(monkeypatch, "down_proj", halve)
    lines = violations()
    assert any("ffn ops (gate_proj, up_proj, act, down_proj) report" in ln for ln in lines)


def test_missing_weight_traffic_is_caught(monkeypatch):
    def no_loads(p):
        p.load_bytes = np.zeros_like(p.load_bytes)
    buggy_plan(monkeypatch, "down_proj", no_loads)
    lines = violations()
    assert any("bytes: layer 0 ops" in ln and "down_proj" in ln and "of dram_read, below the "
               "compulsory" in ln for ln in lines), lines


def test_time_below_the_roofline_is_caught(monkeypatch):
    def bound(p):
        p.roofline_cycles = 10**12
    buggy_plan(monkeypatch, "o_proj", bound)
    lines = violations()
    assert any("time: op o_proj (layer 0) takes" in ln and "below its roofline bound" in ln
               for ln in lines), lines


def test_faster_than_peak_and_over_unit_utilization_are_caught(monkeypatch):
    def fast(p):
        p.peak_macs_per_cycle = 1.0
    buggy_plan(monkeypatch, "q_proj", fast)
    lines = violations()
    assert any("time: op q_proj (layer 0) computes" in ln and "above the unit's peak" in ln
               for ln in lines)
    assert any("fractions: utilization of op q_proj (layer 0)" in ln for ln in lines)


def test_nan_and_negative_energy_are_caught(monkeypatch):
    def nan(p):
        p.energy_pj = {**p.energy_pj, "sram": float("nan")}
    buggy_plan(monkeypatch, "o_proj", nan)
    lines = violations()
    assert any("finite: op o_proj (layer 0).energy_breakdown.sram = nan" in ln for ln in lines)

    def negative(p):
        p.energy_pj = {**p.energy_pj, "sram": -1.0}
    buggy_plan(monkeypatch, "gate_proj", negative)
    assert any("energy: op gate_proj (layer 0) has negative components" in ln
               for ln in violations())


def test_many_violations_are_capped(monkeypatch):
    def halve(p):
        p.macs //= 2
    buggy_plan(monkeypatch, "q_proj", halve)
    with pytest.raises(InvariantError) as info:
        simulate(SYSTOLIC, "llama7b_decode", SMALL)
    lines = str(info.value).splitlines()
    assert len(info.value.violations) > 10 and len(lines) == 11 and "more violations of the same run" in lines[-1]


def test_cli_exits_3_on_a_violation_and_no_check_skips_it(monkeypatch, capsys):
    def halve(p):
        p.macs //= 2
    buggy_plan(monkeypatch, "q_proj", halve)
    args = ["--arch", SYSTOLIC, "--workload", "llama7b_decode", "--set",
            "workload.context_len=64", "--quiet"]
    assert main(args) == EXIT_INVARIANT
    err = capsys.readouterr().err
    assert "accelsim bug: invariant violated" in err and "Traceback" not in err
    assert main(args + ["--no-check"]) == 0
    report = simulate(SYSTOLIC, "llama7b_decode", SMALL, check=False)
    assert report.macs < load_workload("llama7b_decode", load_arch(SYSTOLIC), SMALL).closed_form_macs


@pytest.mark.parametrize("arch", sorted(glob.glob(str(ROOT / "arch_configs" / "*.yaml"))),
                         ids=lambda p: p.rsplit("/", 1)[-1][:-5])
def test_shipped_configs_hold_the_invariants_on_a_small_decode(arch):
    report = simulate(arch, "llama7b_decode", ["workload.batch=2", "workload.context_len=100"])
    assert report.macs == load_workload("llama7b_decode", load_arch(arch), [
        "workload.batch=2", "workload.context_len=100"]).closed_form_macs


def test_npu_only_prefill_keeps_its_attention():
    """Found by the MAC invariant: npu_pim with pim.mode none read the batch from the token
    count and dealt zero heads to each request in prefill."""
    r = simulate(ROOT / "arch_configs" / "npu_only.yaml", "llama7b_prefill",
                 ["workload.prompt_len=64", "workload.batch=2"])
    att = sum(o.macs for o in r.ops if o.role == "attention")
    assert att == 32 * 2 * 2 * 32 * 64 * 64 * 128


def test_ideal_dram_reports_its_configured_peak():
    """Found by the bandwidth bound: an ideal pipe's report showed the preset's peak."""
    r = simulate(load_arch(SYSTOLIC, ["dram.model=ideal", "dram.bandwidth=100 TB/s"]),
                 "llama7b_decode", SMALL)
    assert r.dram["peak_bandwidth"] == pytest.approx(100e12)
    assert 0 <= r.dram["bandwidth_utilization"] <= 1


OVERRIDES = [[], ["workload.batch=8", "workload.tensor_parallel=4"],
             ["workload.batch=8", "workload.pipeline_parallel=4"],
             ["workload.batch=16", "workload.context_dist=sharegpt", "workload.seed=3"],
             ["workload.phase=prefill", "workload.prompt_len=100", "workload.logits=all"],
             ["workload.phase=prefill", "workload.batch=3"]]


@pytest.mark.parametrize("model", available_models())
def test_closed_form_macs_match_the_lowered_graph(model):
    for over in OVERRIDES:
        pairs = override_pairs(over, "workload")
        try:
            w = gen_workload(f"{model}_decode", pairs)
        except Exception as exc:  # a split that does not divide this model
            assert "does not divide" in str(exc)
            continue
        assert sum(op.macs for op in w.ops) == closed_form_macs(w.model, w.cfg), (model, over)


@pytest.mark.parametrize("path", sorted(glob.glob(str(ROOT / "traces" / "*.jsonl.gz"))),
                         ids=lambda p: p.rsplit("/", 1)[-1])
def test_trace_macs_from_tensors_match_the_replay(path):
    header, records = read_trace(path)
    w = load_workload(path, load_arch(SYSTOLIC))
    assert trace_macs(records) == sum(op.macs for op in trace_ops(records, w.cfg)) > 0


def test_compulsory_bytes_of_decode_and_prefill():
    ops = [Gemm("q", 0, "qkv", m=1, n=8, k=8, param_elems=64),
           Gemm("qk", 0, "attention", m=1, n=10, k=8, b_source="kv")]
    ops.append(Elementwise("kv_append", 0, "kv_cache", "copy", 16, in_elems=16,
                           kv_write_elems=16))
    need = compulsory_bytes(ops, "decode")[0]
    assert need == {"weights": 128, "kv_read": 160 - 32, "kv_write": 32}
    assert compulsory_bytes(ops, "prefill")[0]["kv_read"] == 0
