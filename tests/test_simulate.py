"""End-to-end properties of a simulation: conservation, totals, determinism, stalls, outputs."""

import json

import pytest

from sim import load_arch, load_workload, simulate
from sim.cli.main import main
from sim.core.errors import ConfigError, WorkloadError
from test_workloads import closed_form

from conftest import SYSTOLIC, SYSTOLIC_32

SMALL = ["workload.context_len=64"]


@pytest.fixture(scope="module")
def decode_report():
    return simulate(SYSTOLIC, "llama7b_decode", SMALL)


def test_macs_are_conserved(decode_report):
    macs, _, _, _ = closed_form("llama7b", "decode", 1, context=64)
    assert decode_report.macs == macs
    assert sum(r.macs for r in decode_report.ops) == macs


def test_totals_equal_sums_of_rows(decode_report):
    r = decode_report
    assert r.cycles == sum(o.cycles for o in r.ops)
    assert r.energy_joules == pytest.approx(sum(o.energy_joules for o in r.ops), rel=1e-12)
    assert r.energy_joules == pytest.approx(sum(r.energy_breakdown.values()), rel=1e-12)
    assert r.area_mm2 == pytest.approx(sum(v["mm2"] for v in r.area_breakdown.values()))
    assert r.stall_cycles + r.compute_cycles == r.cycles
    for o in r.ops:
        assert o.energy_joules == pytest.approx(sum(o.energy_breakdown.values()), rel=1e-12)
        assert 0.0 <= o.utilization <= 1.0
        assert o.cycles >= o.roofline_cycles, o.name
        assert o.stall_cycles >= 0
        assert all(v >= 0 for v in o.energy_breakdown.values())
    assert all(v["mm2"] > 0 for v in r.area_breakdown.values())


def test_ops_run_back_to_back_in_program_order(decode_report):
    t = 0
    for o in decode_report.ops:
        assert o.start_cycle == t
        t += o.cycles


def test_weights_are_read_from_dram_exactly_once_in_decode(decode_report):
    w = load_workload("llama7b_decode", load_arch(SYSTOLIC), SMALL)
    weight_bytes = sum(op.b_bytes for op in w.ops if getattr(op, "b_source", "") == "weight")
    gemm_reads = sum(o.bytes["dram_read"] for o in decode_report.ops
                     if o.name.endswith("proj") or o.name == "lm_head")
    assert gemm_reads == weight_bytes


def test_same_inputs_give_identical_json(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    args = ["--arch", SYSTOLIC_32, "--workload", "gpt3_7b_decode", "--set", "workload.batch=2",
            "--quiet"]
    assert main(args + ["--json", str(a)]) == 0
    assert main(args + ["--json", str(b)]) == 0
    assert a.read_bytes() == b.read_bytes()


def test_slow_dram_shows_up_as_stalls_not_compute():
    fast = simulate(load_arch(SYSTOLIC, ["dram.model=ideal", "dram.bandwidth=100 TB/s"]), "llama7b_decode", SMALL)
    slow = simulate(load_arch(SYSTOLIC, ["dram.model=ideal", "dram.bandwidth=10 GB/s"]), "llama7b_decode", SMALL)
    assert fast.compute_cycles == slow.compute_cycles
    assert slow.stall_cycles > 10 * fast.stall_cycles
    # at 10 GB/s the weight stream bounds every projection: cycles >= bytes / (bytes per cycle)
    q = next(o for o in slow.ops if o.name == "q_proj")
    assert q.cycles >= q.bytes["dram_read"] / (10e9 / 940e6)


def test_small_sram_spills_activations_to_dram():
    big = simulate(SYSTOLIC, "llama7b_prefill", ["workload.prompt_len=128"])
    small = simulate(load_arch(SYSTOLIC, ["sram.ifmap=256 KiB"]), "llama7b_prefill",
                     ["workload.prompt_len=128"])
    dram = lambda r: sum(o.bytes["dram_read"] + o.bytes["dram_write"] for o in r.ops)  # noqa: E731
    assert dram(small) > dram(big)
    assert small.compute_cycles == big.compute_cycles


def test_prefill_utilisation_matches_scalesim_figure():
    """SCALE-Sim: (2048, 4096, 4096) on 128x128 WS -> 84.28 % util (SCALE-Sim, Samajdar et al., ISPASS 2020, Sec. 5)."""
    r = simulate(load_arch(SYSTOLIC, ["dram.model=ideal", "dram.bandwidth=100 TB/s",
                                      "array.stationary_preload=serial"]), "llama7b_prefill",
                 ["workload.prompt_len=2048"])
    q = next(o for o in r.ops if o.name == "q_proj")
    assert q.compute_cycles == 2_488_320
    assert q.macs / (q.compute_cycles * 128 * 128) == pytest.approx(0.8428, abs=5e-5)


def test_cli_writes_every_output(tmp_path, capsys):
    out = tmp_path / "plots"
    args = ["--arch", SYSTOLIC, "--workload", "llama7b_prefill", "--set", "workload.prompt_len=64",
            "--json", str(tmp_path / "o.json"), "--csv", str(tmp_path / "ops.csv"),
            "--plot", str(out), "--trace-events", str(tmp_path / "t.json")]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "roofline bound" in text and "top ops by time" in text
    doc = json.loads((tmp_path / "o.json").read_text())
    for key in ("cycles", "seconds", "tokens_per_second", "energy_joules", "area_mm2",
                "energy_breakdown", "area_breakdown", "ops", "simulator_version", "input_hash",
                "config", "pricing"):
        assert key in doc
    for key in ("name", "layer", "kind", "shape", "cycles", "macs", "bytes", "energy_joules",
                "utilization", "roofline_cycles"):
        assert key in doc["ops"][0]
    assert doc["config"]["array"]["rows"] == 128
    csv_lines = (tmp_path / "ops.csv").read_text().splitlines()
    assert len(csv_lines) == len(doc["ops"]) + 1
    for png in ("layer_latency", "energy_breakdown", "area_breakdown", "roofline"):
        assert (out / f"{png}.png").stat().st_size > 1000
    trace = json.loads((tmp_path / "t.json").read_text())
    spans = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    assert {e["tid"] for e in spans} >= {0, 1, 2}


def test_describe_lists_every_field(capsys):
    assert main(["--describe", "systolic"]) == 0
    text = capsys.readouterr().out
    for key in ("array.rows", "array.dataflow", "sram.ifmap", "dram.bandwidth", "tech.frequency"):
        assert key in text


def test_precision_beyond_the_array_is_refused():
    with pytest.raises(WorkloadError, match="workload.weight_bits: 16 bits exceed array.weight_bits=8"):
        simulate(SYSTOLIC_32, "llama7b_decode", ["workload.weight_bits=16"])


def test_stationary_tile_must_fit():
    with pytest.raises(ConfigError, match="sram.filter: .* cannot hold the two 128x128"):
        load_arch(SYSTOLIC, ["sram.filter=16 KiB"])


def test_double_buffered_preload_hides_the_weight_shift_in():
    """Decode WS on 128x128: serial folds cost 2R+C+T-2 = 383, preloaded ones R+C+T-2 = 255."""
    fast_dram = ["dram.model=ideal", "dram.bandwidth=100 TB/s"]
    serial = simulate(load_arch(SYSTOLIC, fast_dram + ["array.stationary_preload=serial"]),
                      "llama7b_decode", SMALL)
    db = simulate(load_arch(SYSTOLIC, fast_dram + ["array.stationary_preload=double_buffered"]),
                  "llama7b_decode", SMALL)
    q_s = next(o for o in serial.ops if o.name == "q_proj")
    q_d = next(o for o in db.ops if o.name == "q_proj")
    assert q_s.compute_cycles == 1024 * 383
    assert q_d.compute_cycles == 383 + 1023 * 255
    assert db.area_breakdown["pe_array"]["mm2"] > serial.area_breakdown["pe_array"]["mm2"]
    with pytest.raises(ConfigError, match="stationary_preload: 'double_buffered' applies to the ws"):
        load_arch(SYSTOLIC, ["array.dataflow=os", "array.stationary_preload=double_buffered"])
