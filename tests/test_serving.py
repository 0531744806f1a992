"""Serving simulation (issue 28): closed forms, conservation, Little's law, limits, errors."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from sim import load_arch, simulate
from sim.cli.main import main
from sim.core.config import parse_override
from sim.core.errors import ConfigError, WorkloadError
from sim.serving import serve
from sim.serving.metrics import LogHistogram
from sim.serving.requests import request_stream
from sim.serving.serve import _base_workload
from sim.serving.spec import load_serving_spec
from sim.serving.stepcost import StepCost, grid_nodes, layers_affine, representative
from sim.simulation.simulate import load_workload
from sim.workloads.loader import step_workload

FAST = "h100"  # the quickest family to simulate


def _rows(arch, model, overrides, spec=None):
    rows = []
    report = serve(arch, model, spec, overrides, sink=rows.append)
    return report, rows


def test_burst_of_equal_requests_is_the_sum_of_its_steps():
    """All requests at once, equal lengths, no memory pressure: one prefill step, then decode
    steps of the whole batch; every time equals the step simulations added up exactly."""
    n, prompt, output = 4, 32, 5
    report, rows = _rows(FAST, "llama7b", [
        "requests.arrival=burst", f"requests.num_requests={n}", "requests.lengths=fixed",
        f"requests.prompt_len={prompt}", f"requests.output_len={output}", "step_cost=exact"])
    arch = load_arch(FAST)
    base = load_workload("llama7b_decode", arch)
    prefill = simulate(arch, step_workload(base, "prefill", (prompt,) * n))
    t = prefill.seconds
    energy = prefill.energy_joules
    for j in range(output - 1):
        step = simulate(arch, step_workload(base, "decode", (prompt + j,) * n))
        t += step.seconds
        energy += step.energy_joules
    assert len(rows) == n
    for row in rows:
        assert row["first_token_s"] == prefill.seconds
        assert row["finish_s"] == t
        assert row["tpot_s"] == pytest.approx((t - prefill.seconds) / (output - 1), rel=1e-12)
    assert report.metrics["prefill_steps"] == 1
    assert report.metrics["decode_steps"] == output - 1
    assert report.metrics["step_energy_j"] == pytest.approx(energy, rel=1e-12)
    assert sum(r["energy_j"] for r in rows) == pytest.approx(energy, rel=1e-12)


@pytest.mark.parametrize("preemption", ["recompute", "swap"])
def test_every_request_finishes_once_with_its_tokens(preemption):
    """Conservation under memory pressure: each request finishes exactly once with its own
    output length, and evictions happened."""
    over = ["requests.num_requests=120", "requests.rate=50", "scheduler.kv_capacity=3000",
            f"scheduler.preemption={preemption}", "requests.seed=3"]
    report, rows = _rows(FAST, "llama7b", over)
    spec = load_serving_spec(None, [parse_override(o) for o in over])
    drawn = [c for c in request_stream(spec, 2048)]
    outputs = np.concatenate([c.output for c in drawn])
    assert sorted(r["id"] for r in rows) == list(range(120))
    assert {r["id"]: r["output_tokens"] for r in rows} == dict(enumerate(outputs.tolist()))
    assert report.metrics["output_tokens"] == int(outputs.sum())
    assert report.metrics["preemptions"] > 0
    assert sum(r["preemptions"] for r in rows) == report.metrics["preemptions"]
    for r in rows:
        assert r["arrival_s"] <= r["first_token_s"] <= r["finish_s"]


def test_littles_law_on_a_steady_run():
    """Mean requests in the system = arrival rate x mean time in it, within 2 %."""
    report = serve(FAST, "llama7b", overrides=["requests.num_requests=1500", "requests.rate=8",
                                               "requests.seed=1"])
    m = report.metrics
    rate = m["requests"] / m["duration_s"]
    assert m["mean_in_system"] == pytest.approx(rate * m["e2e_s"]["mean"], rel=0.02)


def test_kv_cache_too_small_for_one_request_is_an_error():
    with pytest.raises(WorkloadError, match="scheduler.kv_capacity: request 0 needs 263"):
        serve(FAST, "llama7b", overrides=[
            "scheduler.kv_capacity=200", "requests.lengths=fixed", "requests.prompt_len=200",
            "requests.output_len=64", "requests.num_requests=3"])


def test_runs_are_deterministic():
    over = ["requests.num_requests=200", "requests.rate=20", "requests.arrival=gamma"]
    a = serve("lut_tc", "llama7b", overrides=over).to_dict()
    b = serve("lut_tc", "llama7b", overrides=over).to_dict()
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def test_kv_capacity_comes_from_the_device_memory():
    """The family's capacity check bounds the KV cache: one more token than found does not
    fit beside the weights."""
    arch = load_arch("systolic")
    base = _base_workload(arch, "llama7b", [])
    cost = StepCost(arch, base)
    from sim.serving.serve import kv_capacity_tokens
    spec = load_serving_spec(None, [("scheduler.memory_fraction", 1.0)])
    tokens = kv_capacity_tokens(cost, spec)
    assert cost.fits("decode", (tokens - 1,)) == []
    assert cost.fits("decode", (tokens,)) != []


@pytest.mark.parametrize("arch", ["systolic", "bitslice", "lut_tc", "h100", "neupims", "wse2"])
def test_step_cost_is_affine_in_the_layer_count(arch):
    """The interpolation simulates one and two layers and extends to all: every family must
    run identical layers identically (three layers = one + 2 x the per-layer increment)."""
    a = load_arch(arch)
    base = _base_workload(a, "llama7b", [])
    cost = StepCost(a, base)
    for phase, lens in (("decode", (40, 90, 17)), ("prefill", (24, 9))):
        one, two, three = (cost._run(phase, cost._layers(n), lens, None, check=False)
                           for n in (1, 2, 3))
        affine = layers_affine(one, two, 3)
        assert affine.seconds == pytest.approx(three.seconds, rel=1e-9)
        assert affine.joules == pytest.approx(three.joules, rel=1e-5)


def test_interpolated_cost_is_exact_on_a_grid_node():
    a = load_arch("lut_tc")
    base = _base_workload(a, "llama7b", [])
    fast, exact = StepCost(a, base), StepCost(a, base, "exact")
    lens = (64,) * 8  # 8 requests (exact below 16), mean 64 (a node), no spread
    got = fast.decode(8, sum(lens), 64, lambda: lens)
    truth = exact.exact("decode", lens)
    assert got.seconds == pytest.approx(truth.seconds, rel=1e-9)
    assert got.joules == pytest.approx(truth.joules, rel=1e-6)


def test_grid_and_representative_batches():
    for x in (1, 7, 16, 17, 100, 1000, 12345):
        lo, hi = grid_nodes(x)
        assert lo <= x <= hi
    for d, c, r in ((5, 100, 1.0), (5, 100, 2.0), (41, 350, 2.5), (40, 2, 20.0), (2, 5, 1.9)):
        lens = representative(d, c, r)
        assert len(lens) == d and sum(lens) == d * c and min(lens) >= 1
        assert lens == tuple(sorted(lens, reverse=True))


def test_step_workload_counts_each_prompt_on_its_own():
    arch = load_arch(FAST)
    base = load_workload("llama7b_decode", arch)
    step = step_workload(base, "prefill", (100, 20, 20))
    assert step.tokens == 140
    assert sum(op.macs for op in step.ops) == step.closed_form_macs
    attention = [op for op in step.ops if op.name == "attn_qk" and op.layer == 0]
    assert sorted((op.m, op.n) for op in attention) == [(20, 20), (100, 100)]
    decode = step_workload(base, "decode", (10, 300))
    assert sum(op.macs for op in decode.ops) == decode.closed_form_macs
    assert decode.kv_tokens == 312


def test_histogram_percentiles_within_a_bin():
    rng = np.random.default_rng(0)
    values = rng.lognormal(0, 1, 20_000)
    h = LogHistogram()
    for v in values:
        h.add(float(v))
    for q in (50, 90, 99):
        assert h.percentile(q) == pytest.approx(np.percentile(values, q, method="inverted_cdf"),
                                                rel=0.001)
    assert h.mean == pytest.approx(values.mean(), rel=1e-12)


def test_trace_file_requests(tmp_path):
    trace = tmp_path / "t.csv"
    trace.write_text("arrival,prompt_len,output_len\n0.0,10,3\n0.5,20,2\n0.5,5,1\n")
    report, rows = _rows(FAST, "llama7b", ["requests.arrival=trace", "requests.lengths=trace",
                                           f"requests.trace={trace}"])
    assert report.metrics["requests"] == 3
    assert {r["id"]: (r["prompt_tokens"], r["output_tokens"]) for r in rows} == \
        {0: (10, 3), 1: (20, 2), 2: (5, 1)}
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"arrival": 0, "prompt_len": 4, "output_len": 2}\n'
                   '{"arrival": 1, "prompt_len": 0, "output_len": 2}\n')
    with pytest.raises(ConfigError, match=r"bad.jsonl:2: .*prompt_len"):
        serve(FAST, "llama7b", overrides=["requests.arrival=trace", "requests.lengths=trace",
                                          f"requests.trace={bad}"])


def test_spec_errors_name_the_key(tmp_path):
    with pytest.raises(ConfigError, match="requests.rat: unknown key"):
        load_serving_spec(None, [("requests.rat", 3)])
    with pytest.raises(ConfigError, match="scheduler.preemption"):
        load_serving_spec({"scheduler": {"preemption": "drop"}})


def test_serve_command(tmp_path, capsys):
    out, rows = tmp_path / "s.json", tmp_path / "r.csv"
    assert main(["serve", "--arch", "lut_tc", "--model", "llama7b", "--num-requests", "30",
                 "--set", "requests.rate=10", "--json", str(out),
                 "--requests-csv", str(rows)]) == 0
    printed = capsys.readouterr().out
    assert "TTFT" in printed and "goodput" in printed
    report = json.loads(out.read_text())
    assert report["metrics"]["requests"] == 30
    assert len(rows.read_text().splitlines()) == 31
    assert main(["serve", "--arch", "lut_tc", "--model", "llama7b",
                 "--set", "scheduler.max_bach=3"]) == 2
    assert "scheduler.max_bach: unknown key" in capsys.readouterr().err


def test_npu_pim_prefills_on_its_npu():
    """PIM serves decode attention only; a serving device prefills on its NPU."""
    report = serve("neupims", "llama7b", overrides=["requests.num_requests=5",
                                                    "requests.rate=5"])
    assert report.metrics["prefill_steps"] >= 1
    assert math.isfinite(report.metrics["ttft_s"]["p50"])
    assert dataclasses.is_dataclass(report)
