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
from sim.serving.engine import ServingEngine, limits_from
from sim.serving.metrics import LogHistogram, TimeSeries
from sim.serving.requests import request_stream
from sim.serving.serve import _base_workload
from sim.serving.spec import load_serving_spec
from sim.serving.stepcost import Cost, StepCost, grid_nodes, layers_affine, representative
from sim.simulation.simulate import load_workload
from sim.workloads.loader import step_workload

FAST = "h100"  # the quickest family to simulate


def _rows(arch, model, overrides, spec=None):
    rows = []
    report = serve(arch, model, spec, overrides, sink=rows.append)
    return report, rows


@pytest.mark.jit_heavy
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


@pytest.mark.jit_heavy
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


@pytest.mark.jit_heavy
def test_littles_law_on_a_steady_run():
    """Mean requests in the system = arrival rate x mean time in it, within 2 %."""
    report = serve(FAST, "llama7b", overrides=["requests.num_requests=1500", "requests.rate=8",
                                               "requests.seed=1"])
    m = report.metrics
    rate = m["requests"] / m["duration_s"]
    assert m["mean_in_system"] == pytest.approx(rate * m["e2e_s"]["mean"], rel=0.02)


@pytest.mark.jit_heavy
def test_kv_cache_too_small_for_one_request_is_an_error():
    with pytest.raises(WorkloadError, match="scheduler.kv_capacity: request 0 needs 263"):
        serve(FAST, "llama7b", overrides=[
            "scheduler.kv_capacity=200", "requests.lengths=fixed", "requests.prompt_len=200",
            "requests.output_len=64", "requests.num_requests=3"])


@pytest.mark.jit_heavy
def test_runs_are_deterministic():
    over = ["requests.num_requests=200", "requests.rate=20", "requests.arrival=gamma"]
    a = serve("lut_tc", "llama7b", overrides=over).to_dict()
    b = serve("lut_tc", "llama7b", overrides=over).to_dict()
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


@pytest.mark.jit_heavy
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


@pytest.mark.jit_heavy
@pytest.mark.parametrize("arch", ["systolic", "bitslice", "lut_tc", "h100", "neupims", "wse2"])
def test_step_cost_is_affine_in_the_layer_count(arch):
    """The interpolation simulates one and two layers and extends to all: every family must
    run identical layers identically (three layers = one + 2 x the per-layer increment)."""
    a = load_arch(arch)
    base = _base_workload(a, "llama7b", [])
    cost = StepCost(a, base)
    for phase, lens, prior in (("decode", (40, 90, 17), ()), ("prefill", (24, 9), ()),
                               ("prefill", (24, 1, 1), (30, 40, 9))):  # a mixed step
        one, two, three = (cost._run(phase, cost._layers(n), lens, None, check=False,
                                     prior=prior) for n in (1, 2, 3))
        affine = layers_affine(one, two, 3)
        assert affine.seconds == pytest.approx(three.seconds, rel=1e-9)
        assert affine.joules == pytest.approx(three.joules, rel=1e-5)


@pytest.mark.jit_heavy
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


@pytest.mark.jit_heavy
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


@pytest.mark.jit_heavy
def test_serve_command(tmp_path, capsys):
    out, rows = tmp_path / "s.json", tmp_path / "r.csv"
    assert main(["serve", "--arch", "lut_tc", "--model", "llama7b", "--num-requests", "30",
                 "--set", "requests.rate=10", "--json", str(out),
                 "--requests-csv", str(rows), "--plot", str(tmp_path / "plots"),
                 "--trace-events", str(tmp_path / "t.json")]) == 0
    trace = json.loads((tmp_path / "t.json").read_text())["traceEvents"]
    assert sum(e["ph"] == "b" and e["name"].startswith("request") for e in trace) == 30
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == \
        ["latency_cdf.png", "occupancy.png"]
    printed = capsys.readouterr().out
    assert "TTFT" in printed and "goodput" in printed
    report = json.loads(out.read_text())
    assert report["metrics"]["requests"] == 30
    for cdf in report["distributions"].values():  # non-decreasing, ending at every request
        assert cdf["x"] == sorted(cdf["x"]) and cdf["p"] == sorted(cdf["p"])
        assert cdf["p"][-1] == 1.0
    assert len(rows.read_text().splitlines()) == 31
    assert main(["serve", "--arch", "lut_tc", "--model", "llama7b",
                 "--set", "scheduler.max_bach=3"]) == 2
    assert "scheduler.max_bach: unknown key" in capsys.readouterr().err


@pytest.mark.jit_heavy
def test_npu_pim_prefills_on_its_npu():
    """PIM serves decode attention only; a serving device prefills on its NPU."""
    report = serve("neupims", "llama7b", overrides=["requests.num_requests=5",
                                                    "requests.rate=5"])
    assert report.metrics["prefill_steps"] >= 1
    assert math.isfinite(report.metrics["ttft_s"]["p50"])
    assert dataclasses.is_dataclass(report)


# ---- the scheduler and the interpolation on closed-form step costs (fast with the JIT off) --
class _LinearCost:
    """Step costs of a closed form: 1 ms + 10 us per prompt token (prefill); 2 ms + 1 us per
    request + 10 ns per cached token (decode); 1 J per second."""

    static_w = 1.0

    def prefill(self, lens):
        return Cost(1e-3 + 1e-5 * sum(lens), 1e-3 + 1e-5 * sum(lens))

    def decode(self, requests, cached, longest, lens):
        t = 2e-3 + 1e-6 * requests + 1e-8 * cached
        return Cost(t, t)

    def mixed(self, chunks, requests, cached, longest, lens):
        """1 ms + 10 us per chunk token + 1 ns per token cached before a chunk, plus a decode's
        per-request and per-cached-token terms."""
        t = 1e-3 + sum(1e-5 * c + 1e-9 * b for c, b in chunks) + 1e-6 * requests \
            + 1e-8 * cached
        return Cost(t, t)


def _engine_run(overrides, sink=None, on_span=None, on_step=None):
    spec = load_serving_spec(None, [parse_override(o) for o in overrides])
    limits = limits_from(spec, spec.scheduler.kv_capacity, 1024.0, 2048)
    engine = ServingEngine(_LinearCost(), limits, 1.0, 0.05, sink, on_span=on_span,
                           on_step=on_step)
    return engine.run(request_stream(spec, 2048)), spec


@pytest.mark.parametrize("preemption", ["recompute", "swap"])
def test_scheduler_conserves_requests_and_tokens(preemption):
    rows = []
    over = ["requests.num_requests=400", "requests.rate=200", "scheduler.kv_capacity=4000",
            f"scheduler.preemption={preemption}", "scheduler.max_batch=64"]
    totals, spec = _engine_run(over, rows.append)
    outputs = np.concatenate([c.output for c in request_stream(spec, 2048)])
    assert sorted(r["id"] for r in rows) == list(range(400))
    assert {r["id"]: r["output_tokens"] for r in rows} == dict(enumerate(outputs.tolist()))
    assert totals.output_tokens == int(outputs.sum())
    assert totals.preemptions > 0
    assert totals.swap_s > 0 if preemption == "swap" else totals.swap_s == 0
    t, kv = totals.kv.points()
    assert max(kv) <= 4000 // 16  # never more pages than the cache holds
    t, batch = totals.batch.points()
    assert max(batch) <= 64


def test_scheduler_littles_law_and_closed_form():
    totals, _ = _engine_run(["requests.num_requests=3000", "requests.rate=40",
                             "requests.lengths=alpaca"])
    rate = totals.requests / (totals.last_finish - totals.first_arrival)
    mean_in = totals.in_system.time_average(totals.last_finish)
    assert mean_in == pytest.approx(rate * totals.e2e.mean, rel=0.02)
    rows = []  # two equal requests at once: one prefill, then decodes of both
    _engine_run(["requests.arrival=burst", "requests.num_requests=2", "requests.lengths=fixed",
                 "requests.prompt_len=10", "requests.output_len=3"], rows.append)
    first = 1e-3 + 1e-5 * 20
    decode = [2e-3 + 2e-6 + 1e-8 * 2 * (10 + j) for j in range(2)]
    assert [r["first_token_s"] for r in rows] == [first, first]
    assert [r["finish_s"] for r in rows] == [first + decode[0] + decode[1]] * 2


def test_streamed_requests_are_seeded_and_bounded(tmp_path):
    spec = load_serving_spec(None, [("requests.num_requests", 10_000), ("requests.rate", 5.0),
                                    ("requests.arrival", "gamma"), ("requests.max_len", 600)])
    chunks = list(request_stream(spec, 2048))
    again = list(request_stream(spec, 2048))
    arrival = np.concatenate([c.arrival for c in chunks])
    assert len(arrival) == 10_000 and max(len(c) for c in chunks) <= 4096
    assert np.array_equal(arrival, np.concatenate([c.arrival for c in again]))
    assert np.all(np.diff(arrival) >= 0)
    assert 10_000 / arrival[-1] == pytest.approx(5.0, rel=0.1)
    total = np.concatenate([c.prompt + c.output for c in chunks])
    assert total.max() <= 600
    spec = load_serving_spec(None, [("requests.duration", 2e9), ("requests.rate", 10.0)])
    assert max(np.concatenate([c.arrival for c in request_stream(spec, 2048)])) < 2.0


class _FakeStepCost(StepCost):
    """The interpolation machinery over a closed form with a tile edge at 32 tokens."""

    def __init__(self):
        self.mode = "interpolate"
        self.simulations = 0
        self._cache, self._spread, self.static_w = {}, None, 0.0

    def _simulate(self, phase, lens, keep=None, prior=()):
        self.simulations += 1
        tokens = sum(lens)
        if keep is not None and phase == "prefill":  # a part: linear with a step at 32
            t = 1e-3 + 1e-5 * tokens + (2e-4 if tokens > 32 else 0.0)
            if keep(type("Op", (), {"role": "attention"})()):
                t = 1e-9 * tokens * tokens
            elif keep(type("Op", (), {"role": "lm_head"})()):  # the LM head: per prompt
                t = 1e-7 * len(lens)
            return Cost(t, t)
        t = 2e-3 + 1e-6 * len(lens) + 1e-8 * tokens + (1e-4 if len(lens) > 40 else 0.0)
        return Cost(t, t)

    def fits(self, phase, lens):
        return [] if sum(lens) <= 100_000 else ["too big"]


def test_interpolation_finds_tile_edges_and_extrapolates_at_the_memory_limit():
    cost = _FakeStepCost()
    for tokens in (20, 33, 47, 100, 333):
        got = cost.prefill((tokens,)).seconds
        truth = 1e-3 + 1e-5 * tokens + (2e-4 if tokens > 32 else 0.0) + 1e-9 * tokens ** 2 \
            + 1e-7
        assert got == pytest.approx(truth, rel=1e-9)
    for d, k in ((30, 9000), (41, 12345), (50, 99_000)):  # 50 x 2048 nodes exceed the memory
        got = cost.decode(d, k, k // d, lambda: ()).seconds
        truth = 2e-3 + 1e-6 * d + 1e-8 * k + (1e-4 if d > 40 else 0.0)
        assert got == pytest.approx(truth, rel=1e-9)


def test_histogram_cdf_and_series_thinning():
    h = LogHistogram()
    for v in (0.0, 1.0, 2.0, 2.0, 5.0):
        h.add(v)
    xs, ps = h.cdf()
    assert ps[-1] == 1.0 and xs[0] == 0.0 and xs == sorted(xs)
    series = TimeSeries()
    for i in range(10_000):
        series.add(float(i), 3.0)
    t, v = series.points()
    assert len(t) <= 4096 + 1 and set(v) == {3.0}
    assert series.time_average(10_000.0) == pytest.approx(3.0)


def test_request_rows_stream_to_parquet_in_row_groups(tmp_path, monkeypatch):
    pq = pytest.importorskip("pyarrow.parquet")
    from sim.serving import rows as rows_module
    monkeypatch.setattr(rows_module, "PARQUET_BATCH", 3)
    path = tmp_path / "r.parquet"
    with rows_module.RowWriter(str(path)) as w:
        for i in range(7):
            w.write({"id": i, "arrival_s": 0.5 * i, "prompt_tokens": 10 + i, "output_tokens": 2,
                     "first_token_s": 0.5 * i + 0.1, "finish_s": 0.5 * i + 0.2, "ttft_s": 0.1,
                     "tpot_s": 0.1, "e2e_s": 0.2, "energy_j": 1.5, "preemptions": 0})
    f = pq.ParquetFile(path)
    assert f.metadata.num_rows == 7 and f.metadata.num_row_groups == 3
    table = f.read()
    assert table.column("id").to_pylist() == list(range(7))
    assert table.column("arrival_s").to_pylist()[3] == 1.5


def test_serving_plots_draw_from_a_report(tmp_path):
    from sim.output.serving_plots import write_serving_plots
    from sim.serving.rows import RowWriter
    report = {"model": "m", "arch_name": "a", "metrics": {"requests": 2},
              "spec": {"slo": {"ttft": 1e9, "tpot": 5e7}},
              "distributions": {k: {"x": [0.01, 0.02], "p": [0.5, 1.0]}
                                for k in ("ttft_s", "tpot_s", "e2e_s")},
              "series": {"t_s": [0.0, 1.0], "batch": [1, 2], "in_system": [1, 2],
                         "kv_occupancy": [0.1, 0.2]}}
    written = write_serving_plots(report, tmp_path)
    assert [p.rsplit("/", 1)[-1] for p in written] == ["latency_cdf.png", "occupancy.png"]
    with RowWriter(str(tmp_path / "r.csv")) as rows:
        rows.write({"id": 0, "arrival_s": 0.5, "prompt_tokens": 3, "output_tokens": 2,
                    "first_token_s": 1.0, "finish_s": 2.0, "ttft_s": 0.5, "tpot_s": 1.0,
                    "e2e_s": 1.5, "energy_j": 3.0, "preemptions": 0})
    assert (tmp_path / "r.csv").read_text().splitlines()[1].startswith("0,0.5,3,2,1,2")


def test_a_small_model_served_both_ways(tmp_path, capsys):
    """GPT-2 on the GPU (quick with the JIT off): interpolated and exact step costs agree
    (decode on grid nodes exactly, the 48-token prefill between nodes within 0.1 %), and the
    command writes what it says."""
    over = ["requests.num_requests=6", "requests.arrival=burst", "requests.lengths=fixed",
            "requests.prompt_len=8", "requests.output_len=3"]
    fast = serve(FAST, "gpt2", overrides=over)
    exact = serve(FAST, "gpt2", overrides=over + ["step_cost=exact"])
    assert fast.metrics["e2e_s"]["max"] == pytest.approx(exact.metrics["e2e_s"]["max"],
                                                         rel=1e-3)
    assert "goodput" in fast.summary() and fast.kv_capacity_tokens > 0
    out = tmp_path / "s.json"
    assert main(["serve", "--arch", FAST, "--model", "gpt2", "--num-requests", "4",
                 "--duration", "10 s", "--json", str(out), "--quiet"]) == 0
    assert json.loads(out.read_text())["metrics"]["requests"] == 4
    assert main(["serve", "--arch", FAST, "--model", "gpt2", "--json",
                 str(tmp_path / "missing" / "s.json")]) == 2
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(WorkloadError, match="pipeline_parallel"):
        serve(FAST, "gpt2", overrides=["workload.pipeline_parallel=2"])


def test_trace_files_are_read_and_checked(tmp_path):
    good = tmp_path / "t.jsonl"
    good.write_text('{"arrival": 0, "prompt_len": 4, "output_len": 2}\n\n'
                    '{"arrival": 1.5, "prompt_len": 7, "output_len": 1}\n')
    spec = load_serving_spec(None, [("requests.arrival", "trace"),
                                    ("requests.lengths", "trace"), ("requests.trace", str(good))])
    (chunk,) = list(request_stream(spec, 2048))
    assert chunk.arrival.tolist() == [0.0, 1.5] and chunk.prompt.tolist() == [4, 7]
    cases = {"a.csv": ("arrival,prompt_len\n0,3\n", r"a.csv:1: header lacks output_len"),
             "b.csv": ("arrival,prompt_len,output_len\n1,3,2\n0,3,2\n", r"b.csv:3: arrival 0"),
             "c.csv": ("arrival,prompt_len,output_len\nx,3,2\n", r"c.csv:2: "),
             "d.csv": ("arrival,prompt_len,output_len\n-1,3,2\n", r"d.csv:2: arrival"),
             "e.jsonl": ("{not json\n", r"e.jsonl:1: not JSON"),
             "f.jsonl": ("[1, 2]\n", r"f.jsonl:1: expected an object")}
    for name, (text, message) in cases.items():
        path = tmp_path / name
        path.write_text(text)
        spec = load_serving_spec(None, [("requests.arrival", "trace"),
                                        ("requests.lengths", "trace"),
                                        ("requests.trace", str(path))])
        with pytest.raises(ConfigError, match=message):
            list(request_stream(spec, 2048))
    with pytest.raises(ConfigError, match="requests.trace: missing"):
        load_serving_spec(None, [("requests.arrival", "trace")])
    with pytest.raises(ConfigError, match="prompt_min: 9 is above prompt_max 3"):
        load_serving_spec(None, [("requests.prompt_min", 9), ("requests.prompt_max", 3)])
    spec = load_serving_spec(None, [("requests.arrival", "trace"),
                                    ("requests.trace", str(tmp_path / "none.csv"))])
    with pytest.raises(ConfigError, match="file not found"):
        list(request_stream(spec, 2048))
    uniform = load_serving_spec(None, [("requests.lengths", "uniform"),
                                       ("requests.arrival", "uniform"),
                                       ("requests.num_requests", 50)])
    (chunk,) = list(request_stream(uniform, 2048))
    assert chunk.prompt.min() >= 1 and chunk.prompt.max() <= 1024
    assert np.allclose(np.diff(chunk.arrival), 1.0)


def test_host_launch_and_overhead_closed_form():
    """An eager prefill step lasts the longer of the device time and the host's issue time,
    plus the per-step overhead; decode steps add the overhead only."""
    rows = []
    _engine_run(["requests.arrival=burst", "requests.num_requests=2", "requests.lengths=fixed",
                 "requests.prompt_len=10", "requests.output_len=3",
                 "scheduler.step_overhead=0.1 ms", "scheduler.prefill_launch=5 ms",
                 "scheduler.prefill_launch_per_prompt=1 ms"], rows.append)
    first = max(1e-3 + 1e-5 * 20, 5e-3 + 2 * 1e-3) + 1e-4
    decode = [2e-3 + 2e-6 + 1e-8 * 2 * (10 + j) + 1e-4 for j in range(2)]
    assert [r["first_token_s"] for r in rows] == [first, first]
    assert [r["finish_s"] for r in rows] == [pytest.approx(first + sum(decode), rel=1e-12)] * 2
    rows = []  # a launch shorter than the device's time hides behind it
    _engine_run(["requests.arrival=burst", "requests.num_requests=2", "requests.lengths=fixed",
                 "requests.prompt_len=10", "requests.output_len=3",
                 "scheduler.prefill_launch=0.1 ms"], rows.append)
    assert rows[0]["first_token_s"] == 1e-3 + 1e-5 * 20


def test_host_launch_jitter_is_seeded_and_spreads():
    def prefill_ends(seed, sigma):
        rows = []
        _engine_run(["requests.arrival=uniform", "requests.rate=5", "requests.num_requests=200",
                     "requests.lengths=fixed", "requests.prompt_len=10",
                     "requests.output_len=1", f"requests.seed={seed}",
                     "scheduler.prefill_launch=20 ms", f"scheduler.prefill_launch_sigma={sigma}"],
                    rows.append)
        return np.array([r["ttft_s"] for r in rows])
    steady = prefill_ends(0, 0)
    assert np.allclose(steady, 20e-3)  # one prompt per step, nothing queued
    a, b = prefill_ends(0, 0.3), prefill_ends(0, 0.3)
    assert np.array_equal(a, b)  # deterministic
    assert not np.array_equal(a, prefill_ends(1, 0.3))
    logs = np.log(a / 20e-3)
    assert abs(logs.mean()) < 0.1 and logs.std() == pytest.approx(0.3, rel=0.2)


@pytest.mark.jit_heavy
def test_decode_attention_bandwidth_bounds_the_kernel():
    """attention.decode_bandwidth caps the KV stream of decode attention: null leaves the step
    as the DRAM prices it; a cap makes a KV-heavy step at least KV bytes / cap long."""
    arch = load_arch("h200")
    base = load_workload("llama7b_decode", arch)
    step = step_workload(base, "decode", (2000,) * 32)
    free = simulate(arch, step)
    capped = simulate(load_arch("h200", [("attention.decode_bandwidth", 1e12)]), step)
    kv = 2 * 32 * 2001 * 4096 * 2 * 32  # K and V, 32 requests, 32 layers, bf16
    assert free.seconds < kv / 1e12 <= capped.seconds
    assert simulate(load_arch("h200", [("attention.decode_bandwidth", 1e15)]), step).seconds \
        == free.seconds


def test_serving_trace_has_every_step_and_request(tmp_path):
    """The Perfetto trace: steps back to back on the device track (each as long as the clock
    moved), one span per request from arrival to finish, split at its first token."""
    from sim.output.perfetto import ServingTraceWriter
    path = tmp_path / "trace.json"
    rows = []
    with ServingTraceWriter(path, "test") as trace:
        def sink(row):
            rows.append(row)
            trace.request(row)
        totals, _ = _engine_run(["requests.num_requests=60", "requests.rate=50",
                                 "scheduler.step_overhead=0.1 ms"], sink, trace.step)
    events = json.loads(path.read_text())["traceEvents"]
    steps = [e for e in events if e["ph"] == "X"]
    assert len(steps) == totals.prefill_steps + totals.decode_steps
    assert sum(e["name"] == "prefill" for e in steps) == totals.prefill_steps
    ends = [e["ts"] + e["dur"] for e in steps]
    assert all(b["ts"] >= a - 1e-6 for a, b in zip(ends, steps[1:]))  # in order, no overlap
    assert max(ends) == pytest.approx(totals.last_finish * 1e6)
    spans = {}
    for e in events:
        if e["ph"] in "be" and e["name"].startswith("request"):
            spans.setdefault(e["id"], []).append(e["ts"])
    assert sorted(spans) == list(range(60))
    by_id = {r["id"]: r for r in rows}
    for rid, (start, end) in spans.items():
        assert start == pytest.approx(by_id[rid]["arrival_s"] * 1e6)
        assert end == pytest.approx(by_id[rid]["finish_s"] * 1e6)
    parts = [e for e in events if e["ph"] == "b" and not e["name"].startswith("request")]
    assert len(parts) == 120
    with ServingTraceWriter(None) as nothing:  # no path: writes nothing
        nothing.step("decode", 0.0, 1.0, 1, 1)


def test_serving_sweep_points_and_max_rate():
    """A serve: section makes serving keys axes of their own; the helper picks the highest
    rate meeting the SLO per design."""
    from sim.sweeps.runner import check_axis_keys, max_rate_under_slo, resolve_points
    from sim.sweeps.spec import load_sweep
    from sim.core.errors import SweepError
    spec = load_sweep({"arch": "h100", "workload": "llama7b", "serve": {"slo": {"ttft": "1 s"}},
                       "grid": {"requests.rate": [1, 2], "sm.count": [66, 132]}})
    points = spec.points()
    assert [p.serving_overrides for p in points][:2] == [(("requests.rate", 1),)] * 2
    assert points[1].arch_overrides == (("sm.count", 132),)
    check_axis_keys(spec, points)
    resolved, dropped = resolve_points(spec, points)
    tasks = [t for _, t, _ in resolved]
    assert not dropped and len({t.key for t in tasks}) == 4
    assert tasks[0].serving["requests"]["rate"] == 1 and tasks[0].serving["slo"]["ttft"] == 1e9
    bad = load_sweep({"arch": "h100", "workload": "llama7b", "serve": {},
                      "grid": {"requests.rat": [1]}})
    with pytest.raises(SweepError, match="unknown serving key 'requests.rat'"):
        check_axis_keys(bad, bad.points())
    rows = [{"sm.count": c, "requests.rate": r, "status": "ok", "slo_attainment": a,
             "goodput_rps": r * a, "energy_per_request_j": 1.0}
            for c, r, a in ((66, 1, 1.0), (66, 2, 0.5), (132, 1, 1.0), (132, 2, 0.95),
                            (132, 4, 0.2))] + [{"sm.count": 32, "requests.rate": 1,
                                                "status": "ok", "slo_attainment": 0.1}]
    best = max_rate_under_slo(rows, axes=["sm.count", "requests.rate"])
    assert [(b["sm.count"], b["max_rate"]) for b in best] == [(66, 1), (132, 2), (32, None)]
    with pytest.raises(SweepError, match="no 'requests.rate' column"):
        max_rate_under_slo([{"x": 1}])


@pytest.mark.jit_heavy
def test_serving_sweep_runs_serve_per_point(tmp_path):
    from sim import max_rate_under_slo, sweep
    result = sweep({"arch": "h100", "workload": "llama7b",
                    "serve": {"requests": {"num_requests": 20}},
                    "grid": {"requests.rate": [2, 4]}}, out=tmp_path, workers=1,
                   progress=False)
    assert [r["status"] for r in result.rows] == ["ok", "ok"]
    assert all(r["requests"] == 20 and r["ttft_s.p90"] > 0 for r in result.rows)
    direct = serve("h100", "llama7b", {"requests": {"num_requests": 20, "rate": 4}})
    assert result.rows[1]["ttft_s.p90"] == direct.metrics["ttft_s"]["p90"]
    assert max_rate_under_slo(result)[0]["max_rate"] == 4


def test_step_costs_kept_across_calls_change_nothing():
    """serve(costs=...) reuses one design's simulated steps across rates: same report, fewer
    simulations (closed-form engine: the StepCost cache is keyed by the design)."""
    from sim.serving.serve import _step_costs
    arch = load_arch("h100")
    base = load_workload("llama7b_decode", arch)
    costs = {}
    first = _step_costs(costs, arch, "llama7b", [], base, "interpolate")
    assert _step_costs(costs, arch, "llama7b", [], base, "interpolate") is first
    assert _step_costs(costs, arch, "llama7b", [], base, "exact") is not first
    other = load_arch("h100", [("sm.count", 66)])
    assert _step_costs(costs, other, "llama7b", [], base, "interpolate") is not first
    assert _step_costs(None, arch, "llama7b", [], base, "interpolate") is not first


# ---- chunked prefill and decode priority ------------------------------------------------------
@pytest.mark.parametrize("priority", ["decode", "prefill"])
@pytest.mark.parametrize("preemption", ["recompute", "swap"])
def test_chunked_prefill_conserves_requests_tokens_and_pages(priority, preemption):
    rows, steps = [], []
    over = ["requests.num_requests=400", "requests.rate=200", "scheduler.kv_capacity=4000",
            f"scheduler.preemption={preemption}", "scheduler.max_batch=64",
            "scheduler.max_tokens=256", "scheduler.chunked_prefill=true",
            f"scheduler.priority={priority}"]
    totals, spec = _engine_run(over, rows.append,
                               on_step=lambda phase, lens, cost: steps.append((phase, lens)))
    drawn = list(request_stream(spec, 2048))
    outputs = np.concatenate([c.output for c in drawn])
    prompts = np.concatenate([c.prompt for c in drawn])
    assert sorted(r["id"] for r in rows) == list(range(400))
    assert {r["id"]: r["output_tokens"] for r in rows} == dict(enumerate(outputs.tolist()))
    assert totals.output_tokens == int(outputs.sum())
    assert totals.prompt_tokens >= int(prompts.sum())  # re-prefills add to it
    assert totals.preemptions > 0 and totals.mixed_steps > 0
    assert totals.prefill_steps + totals.decode_steps + totals.mixed_steps == len(steps)
    for phase, lens in steps:
        if phase == "decode":
            continue
        chunks, decodes = lens
        tokens = sum(c for c, _ in chunks) + len(decodes)
        assert tokens <= 256 and len(chunks) + len(decodes) <= 64
    assert any(b > 0 for phase, lens in steps if phase != "decode" for _, b in lens[0])
    t, kv = totals.kv.points()
    assert max(kv) <= 4000 // 16
    for r in rows:
        assert r["arrival_s"] <= r["first_token_s"] <= r["finish_s"]


def test_chunked_priorities_trade_first_token_for_token_pace():
    """Long prompts, four chunks each: prefill priority gives a prompt the whole step budget
    (first tokens sooner, running requests stall), decode priority keeps the running
    requests' pace (the chunks take what the decodes leave)."""
    ttft, tpot = {}, {}
    for priority in ("prefill", "decode"):
        totals, _ = _engine_run(["requests.num_requests=200", "requests.rate=10",
                                 "requests.lengths=fixed", "requests.prompt_len=1024",
                                 "requests.output_len=64", "scheduler.max_batch=64",
                                 "scheduler.max_tokens=256", "scheduler.chunked_prefill=true",
                                 f"scheduler.priority={priority}"])
        ttft[priority], tpot[priority] = totals.ttft.percentile(50), totals.tpot.percentile(50)
    assert ttft["prefill"] < ttft["decode"] and tpot["decode"] < tpot["prefill"]


def test_chunked_prefill_closed_form():
    """One request of 300 prompt tokens, 128 per step: three chunks (the later ones attend to
    the tokens cached before them), its first token after the third, then two decodes."""
    rows, steps = [], []
    _engine_run(["requests.arrival=burst", "requests.num_requests=1", "requests.lengths=fixed",
                 "requests.prompt_len=300", "requests.output_len=3", "scheduler.max_batch=8",
                 "scheduler.max_tokens=128", "scheduler.chunked_prefill=true"], rows.append,
                on_step=lambda phase, lens, cost: steps.append((phase, lens)))
    assert [lens for _, lens in steps[:3]] == [(((128, 0),), ()), (((128, 128),), ()),
                                              (((44, 256),), ())]
    first = sum(1e-3 + 1e-5 * c + 1e-9 * b for c, b in ((128, 0), (128, 128), (44, 256)))
    decode = [2e-3 + 1e-6 + 1e-8 * (300 + j) for j in range(2)]
    assert rows[0]["first_token_s"] == pytest.approx(first, rel=1e-12)
    assert rows[0]["finish_s"] == pytest.approx(first + sum(decode), rel=1e-12)


def test_decode_priority_without_chunking_admits_only_an_empty_batch(tmp_path):
    trace = tmp_path / "t.csv"
    trace.write_text("arrival,prompt_len,output_len\n0,10,50\n0,10,50\n0.001,10,5\n")
    over = ["requests.arrival=trace", "requests.lengths=trace", f"requests.trace={trace}"]
    for priority in ("prefill", "decode"):
        rows = []
        _engine_run(over + [f"scheduler.priority={priority}"], rows.append)
        by_id = {r["id"]: r for r in rows}
        late_first = by_id[2]["first_token_s"]
        if priority == "decode":
            assert late_first > max(by_id[0]["finish_s"], by_id[1]["finish_s"])
        else:
            assert late_first < by_id[0]["finish_s"]
    with pytest.raises(ConfigError, match="max_tokens: 16 is below max_batch 64"):
        load_serving_spec(None, [("scheduler.chunked_prefill", True),
                                 ("scheduler.max_tokens", 16), ("scheduler.max_batch", 64)])


def test_mixed_step_lowering_counts_decodes_as_one_token_chunks():
    """A mixed step: a chunk after cached tokens attends to them and itself; decodes (one
    token after their cache) form one product over their concatenated keys, as in decode."""
    arch = load_arch(FAST)
    base = load_workload("llama7b_decode", arch)
    step = step_workload(base, "prefill", (300, 1, 1), (200, 50, 70))
    assert sum(op.macs for op in step.ops) == step.closed_form_macs
    assert step.kv_tokens == 300 + 200 + 51 + 71 and step.tokens == 302
    qk = sorted((op.m, op.n, op.kv_lens) for op in step.ops
                if op.name == "attn_qk" and op.layer == 0)
    assert qk == [(1, 122, (71, 51)), (300, 500, ())]
    decode = step_workload(base, "decode", (50, 70))
    only = step_workload(base, "prefill", (1, 1), (50, 70))
    assert sum(op.macs for op in only.ops if op.role == "attention") == \
        sum(op.macs for op in decode.ops if op.role == "attention")


@pytest.mark.jit_heavy
def test_chunked_prefill_on_a_device_is_its_mixed_step_simulations():
    """Exact step costs: the first token of a chunked prompt comes after the simulations of
    its chunks, each one prefill pass; interpolation meets those simulations within 0.5 %."""
    rows = []
    report = serve(FAST, "llama7b", overrides=[
        "requests.arrival=burst", "requests.num_requests=1", "requests.lengths=fixed",
        "requests.prompt_len=300", "requests.output_len=2", "scheduler.max_batch=8",
        "scheduler.max_tokens=128", "scheduler.chunked_prefill=true", "step_cost=exact"],
        sink=rows.append)
    arch = load_arch(FAST)
    base = load_workload("llama7b_decode", arch)
    first = sum(simulate(arch, step_workload(base, "prefill", (c,), (b,))).seconds
                for c, b in ((128, 0), (128, 128), (44, 256)))
    assert rows[0]["first_token_s"] == first
    assert report.metrics["prefill_steps"] == 3
    cost = StepCost(arch, _base_workload(arch, "llama7b", []))
    for chunks, decodes in ((((700, 1300), (40, 0)), tuple(range(10, 500, 9))),
                            (((1500, 0),), (300, 20, 900, 45)), (((12, 2000),), (100,) * 30)):
        exact = simulate(arch, step_workload(base, "prefill",
                                             tuple(c for c, _ in chunks) + (1,) * len(decodes),
                                             tuple(b for _, b in chunks) + decodes))
        guess = cost.mixed(chunks, len(decodes), sum(decodes), max(decodes),
                           lambda: decodes)
        assert guess.seconds == pytest.approx(exact.seconds, rel=0.005)
        assert guess.joules == pytest.approx(exact.energy_joules, rel=0.005)


@pytest.mark.jit_heavy
@pytest.mark.parametrize("arch", ["systolic", "bitslice", "lut_tc", "h100", "neupims", "wse2"])
def test_simulate_cost_is_the_report_totals_bit_for_bit(arch):
    """The serving layer's report-free path gives the report's seconds, joules and static
    power exactly, also when one session (context, area, power) and plan cache serve several
    workloads in turn."""
    from sim.simulation.simulate import simulate_cost
    a = load_arch(arch)
    base = _base_workload(a, "llama7b", [])
    small = StepCost(a, base)._layers(1)
    session, plans = {}, {}
    for phase, lens in (("decode", (40, 90, 17)), ("decode", (5,)), ("decode", (40, 90, 17))):
        w = step_workload(small, phase, lens)
        report = simulate(a, w)
        assert simulate_cost(a, w, plans, session) == (
            report.seconds, report.energy_joules, report.power["static_w"])


# ---- disaggregated prefill and decode ---------------------------------------------------------
def _pair_run(overrides, sink=None, kv_bytes=1024.0):
    from sim.serving.engine import disaggregated_limits
    from sim.serving.serve import _run_pair
    spec = load_serving_spec(None, [parse_override(o) for o in overrides])
    limits = limits_from(spec, spec.scheduler.kv_capacity, kv_bytes, 2048)
    prefill = ServingEngine(_LinearCost(), disaggregated_limits(limits, "prefill", spec, kv_bytes),
                            1.0, 0.05, sink)
    decode = ServingEngine(_LinearCost(), disaggregated_limits(limits, "decode", spec, kv_bytes),
                           1.0, 0.05, sink)
    decode.totals = prefill.totals
    prefill.handoff = decode.deliver
    return _run_pair(prefill, decode, request_stream(spec, 2048)), spec, prefill, decode


def test_disaggregated_closed_form():
    """Prefill on one device, the KV over the link (latency + bytes / bandwidth), decodes on
    the other; a second request's prefill overlaps the first one's decodes."""
    rows = []
    trace = ["requests.arrival=burst", "requests.num_requests=1", "requests.lengths=fixed",
             "requests.prompt_len=100", "requests.output_len=3", "kv_link.bandwidth=1024000",
             "kv_link.latency=1 ms", "kv_link.pj_per_bit=2"]
    totals, *_ = _pair_run(trace, rows.append)
    prefill = 1e-3 + 1e-5 * 100
    link = 1e-3 + 100 * 1024 / 1024000
    decode = [2e-3 + 1e-6 + 1e-8 * (100 + j) for j in range(2)]
    assert rows[0]["first_token_s"] == prefill
    assert rows[0]["finish_s"] == pytest.approx(prefill + link + sum(decode), rel=1e-12)
    assert totals.link_energy_j == pytest.approx(100 * 1024 * 8 * 2e-12, rel=1e-12)
    assert totals.prefill_steps == 1 and totals.decode_steps == 2


@pytest.mark.parametrize("preemption", ["recompute", "swap"])
def test_disaggregated_conserves_requests_and_pages(preemption):
    rows = []
    over = ["requests.num_requests=400", "requests.rate=200", "scheduler.kv_capacity=4000",
            f"scheduler.preemption={preemption}", "scheduler.max_batch=64"]
    totals, spec, prefill, decode = _pair_run(over, rows.append)
    outputs = np.concatenate([c.output for c in request_stream(spec, 2048)])
    assert sorted(r["id"] for r in rows) == list(range(400))
    assert {r["id"]: r["output_tokens"] for r in rows} == dict(enumerate(outputs.tolist()))
    assert totals.output_tokens == int(outputs.sum()) and totals.preemptions > 0
    in_flight = sum(pages for _, pages in prefill._releases)  # the last transfers' pages
    assert prefill.used_blocks == in_flight and decode.used_blocks == 0
    t, kv = totals.kv.points()
    assert max(kv) <= 4000 // 16
    for r in rows:
        assert r["arrival_s"] <= r["first_token_s"] <= r["finish_s"]
    with pytest.raises(WorkloadError, match="chunked_prefill: true mixes"):
        serve(FAST, "llama7b", overrides=["scheduler.chunked_prefill=true",
                                          "requests.num_requests=2"], decode_arch=FAST)


@pytest.mark.jit_heavy
def test_disaggregated_serving_is_its_devices_simulations():
    """Exact step costs: the first token after the prefill device's simulation, the rest
    after the transfer and the decode device's simulations."""
    from sim.serving.serve import kv_bytes_per_token
    rows = []
    report = serve(FAST, "llama7b", overrides=[
        "requests.arrival=burst", "requests.num_requests=1", "requests.lengths=fixed",
        "requests.prompt_len=64", "requests.output_len=3", "step_cost=exact",
        "kv_link.bandwidth=50e9"], sink=rows.append, decode_arch="lut_tc")
    h100, lut = load_arch(FAST), load_arch("lut_tc")
    base = load_workload("llama7b_decode", h100)
    first = simulate(h100, step_workload(base, "prefill", (64,))).seconds
    link = 64 * kv_bytes_per_token(base) / 50e9
    lut_base = load_workload("llama7b_decode", lut)
    decodes = sum(simulate(lut, step_workload(lut_base, "decode", (64 + j,))).seconds
                  for j in range(2))
    assert rows[0]["first_token_s"] == first
    assert rows[0]["finish_s"] == pytest.approx(first + link + decodes, rel=1e-12)
    assert report.kind == "gpu -> lut_tc" and report.metrics["kv_link_s"] == link
