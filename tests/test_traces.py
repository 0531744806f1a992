"""Traces: replay of the shipped traces, the cross-check against the generator, bad input, and
(when torch is installed) re-extraction that reproduces every shipped trace byte for byte."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from sim import load_arch, load_workload, simulate
from sim.cli.main import main
from sim.core.config import Config
from sim.core.errors import WorkloadError
from sim.core.ops import Gemm
from sim.workloads.traces import cross_check, read_trace, trace_macs

ROOT = Path(__file__).resolve().parent.parent
TRACES = ROOT / "traces"
SHIPPED = sorted(p.name for p in TRACES.glob("*.jsonl.gz"))
#: shipped trace -> (generator workload, overrides giving the same sizes)
GENERATED = {
    "llama7b_decode.jsonl.gz": ("llama7b_decode", ["workload.context_len=128"]),
    # transformers computes prefill logits for every prompt token unless told otherwise
    "llama7b_prefill.jsonl.gz": ("llama7b_prefill", ["workload.prompt_len=64", "workload.logits=all"]),
    "llama3_8b_decode.jsonl.gz": ("llama3_8b_decode", ["workload.context_len=256", "workload.batch=4"]),
    "opt6_7b_decode.jsonl.gz": ("opt6_7b_decode", ["workload.context_len=128"]),
    "gpt2_decode.jsonl.gz": ("gpt2_decode", ["workload.context_len=64", "workload.batch=2"]),
}
#: how each shipped trace was extracted (the test re-extracts them)
EXTRACTION = {
    "llama7b_decode.jsonl.gz": ("llama", "llama7b.json", "decode", 1, 128, 128),
    "llama7b_prefill.jsonl.gz": ("llama", "llama7b.json", "prefill", 1, 128, 64),
    "llama3_8b_decode.jsonl.gz": ("llama", "llama3_8b.json", "decode", 4, 256, 128),
    "opt6_7b_decode.jsonl.gz": ("opt", "opt6_7b.json", "decode", 1, 128, 128),
    "gpt2_decode.jsonl.gz": ("gpt2", "gpt2.json", "decode", 2, 64, 128),
    "mixtral_small_decode.jsonl.gz": ("mixtral", "mixtral_small.json", "decode", 2, 64, 128),
}


def test_the_shipped_set():
    assert set(SHIPPED) == set(EXTRACTION)
    for name in SHIPPED:
        header, records = read_trace(TRACES / name)
        assert header["ops"] == len(records) > 0
        assert {"model_type", "config", "phase", "batch", "dtype", "libraries"} <= set(header)
        assert {"torch", "transformers", "accelsim"} <= set(header["libraries"])
        assert (TRACES / name).stat().st_size < 20_000


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_trace_and_generator_agree_op_for_op(name):
    arch = load_arch("systolic")
    trace = load_workload(str(TRACES / name), arch)
    spec, overrides = GENERATED[name]
    generated = load_workload(spec, arch, overrides)
    rows = cross_check(trace, generated)
    assert rows and all(r["match"] for r in rows), [r for r in rows if not r["match"]][:3]
    assert sum(op.macs for op in trace.ops) == sum(op.macs for op in generated.ops)


def test_moe_trace_routes_each_token_to_top_k_experts():
    header, _ = read_trace(TRACES / "mixtral_small_decode.jsonl.gz")
    c = header["config"]
    trace = load_workload(str(TRACES / "mixtral_small_decode.jsonl.gz"), load_arch("systolic"))
    experts = [op for op in trace.ops if isinstance(op, Gemm) and op.name.startswith("expert")]
    tokens = header["batch"]
    per_token = 3 * c["hidden_size"] * c["intermediate_size"]  # gate, up and down
    for layer in range(c["num_hidden_layers"]):
        mine = [op for op in experts if op.layer == layer]
        assert sum(op.macs for op in mine) == tokens * c["num_experts_per_tok"] * per_token
        routed = {op.name.split(".")[0] for op in mine}
        assert 1 <= len(routed) <= min(c["num_local_experts"], tokens * c["num_experts_per_tok"])
        # only the routed experts' weights are read
        assert sum(op.param_elems for op in mine) == len(routed) * per_token


@pytest.mark.parametrize("arch", ["systolic", "h100", "mac_tc_a100_fp16"])
def test_every_shipped_trace_replays(arch):
    for name in SHIPPED:
        report = simulate(arch, str(TRACES / name))
        assert report.cycles > 0 and math.isfinite(report.energy_joules)
        assert report.macs == sum(op.macs for op in report.ops)


def test_replay_cli_matches_the_api(tmp_path):
    out = tmp_path / "r.json"
    path = str(TRACES / "gpt2_decode.jsonl.gz")
    assert main(["--arch", "arch_configs/systolic.yaml", "--workload", path, "--quiet",
                 "--json", str(out), "--set", "workload.weight_bits=8"]) == 0
    report = json.loads(out.read_text())
    assert report["cycles"] == simulate(load_arch("systolic"), load_workload(
        path, load_arch("systolic"), ["workload.weight_bits=8"])).cycles
    assert report["workload_config"]["weight_bits"] == 8


HEADER = ('{"format": "accelsim-trace", "version": 1, "model_type": "gpt2", "config": {}, '
          '"phase": "decode", "batch": 1, "context_len": 4, "ops": 1}\n')


@pytest.mark.parametrize("content, message", [
    ('{"format": "other"}\n', "line 1: format: expected 'accelsim-trace'"),
    ('{"format": "accelsim-trace", "version": 9}\n', "line 1: version: 9"),
    ('{"format": "accelsim-trace", "version": 1}\n{"fn": "add"}\n', "line 1: model_type: expected"),
    (HEADER + '{"fn": "add"}\n', "line 2: layer: expected an integer >= -1, got None"),
    (HEADER + '{"fn": "add", "layer": 0, "role": "x", "inputs": [], "outputs": [{"shape": [2, -1]}]}\n',
     "line 2: outputs[0].shape: expected a list of at most 8 non-negative integers"),
    (HEADER + '{"fn": "linear", "layer": 0, "role": "x", "inputs": [{"shape": [2], '
     '"source": "activation"}], "outputs": [{"shape": [2]}]}\n',
     "line 2: linear: its tensors do not have the shapes a linear needs (IndexError"),
    (HEADER + '{"fn": "add", "layer": 0, "role": "x", "inputs": [], "outputs": [{"shape": [0]}]}\n',
     "line 2: add: replays as model.add add[0] with an empty dimension"),
    ('{"format": "accelsim-trace", "version": 1}\nnot json\n', "not JSON"),
])
def test_bad_traces_name_the_file_and_line(tmp_path, content, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(WorkloadError) as err:
        load_workload(str(path))
    assert str(path) in str(err.value) and message in str(err.value)


def test_a_trace_fixes_its_shapes(capsys):
    path = str(TRACES / "gpt2_decode.jsonl.gz")
    assert main(["--arch", "arch_configs/systolic.yaml", "--workload", path,
                 "--set", "workload.batch=8"]) == 2
    err = capsys.readouterr().err
    assert "workload.batch: a trace's shapes are fixed" in err and len(err.splitlines()) == 1
    assert main(["--arch", "arch_configs/systolic.yaml", "--workload", "traces/none.jsonl"]) == 2


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXTRACTION))
def test_extractor_reproduces_the_shipped_trace(name, tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    model, config, phase, batch, context, prompt = EXTRACTION[name]
    out = tmp_path / name
    assert main(["trace-extract", "--model", model, "--config", str(TRACES / "configs" / config),
                 "--phase", phase, "--batch", str(batch), "--context", str(context),
                 "--prompt", str(prompt), "--out", str(out)]) == 0
    shipped_header, shipped = read_trace(TRACES / name)
    header, records = read_trace(out)
    assert records == shipped
    assert {k: v for k, v in header.items() if k != "libraries"} == \
        {k: v for k, v in shipped_header.items() if k != "libraries"}


@pytest.mark.slow
def test_extractor_rejects_an_unknown_model_type(tmp_path, capsys):
    pytest.importorskip("transformers")
    assert main(["trace-extract", "--model", "lama", "--config", str(TRACES / "configs" / "gpt2.json"),
                 "--out", str(tmp_path / "x.jsonl")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("error: --model lama: not a transformers model_type (did you mean 'llama'?); "
                   "e.g. llama, mistral, mixtral, qwen2, opt, gpt2")


def test_a_tiny_model_extracts_and_replays_with_closed_form_macs(tmp_path):
    """Extraction end to end on a 2-layer GQA LLaMA (seconds, so it also runs in the JIT-off
    coverage run): the recorded MACs equal the generator's closed form for the same model."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from sim.workloads.extract import extract, write_trace
    from sim.workloads.model import closed_form_macs
    config = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
              "num_key_value_heads": 2, "intermediate_size": 128, "vocab_size": 100,
              "max_position_embeddings": 256}
    for phase in ("decode", "prefill"):
        header, records = extract("llama", config, phase, batch=2, context_len=16, prompt_len=8)
        path = tmp_path / f"tiny_{phase}.jsonl.gz"
        write_trace(path, header, records)
        w = load_workload(str(path), load_arch("systolic"))
        cfg = Config({**w.cfg.to_dict(), "logits": "all"})  # HF prefill: logits of every token
        assert trace_macs(read_trace(path)[1]) == closed_form_macs(w.model, cfg) > 0
        assert simulate(load_arch("systolic"), w).macs == w.closed_form_macs
