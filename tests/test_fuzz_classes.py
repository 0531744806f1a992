"""Generated bad and extreme inputs, class by class (docs/hardening.md lists the classes and
the counts each CI run makes).

Every case runs the ``simulate`` command in-process (``sim.cli.main.main``) and must end either in
exit 0 (a report that passed the invariant check) or in exit 2 with one ``error: ...`` line per
problem that names the file or flag and the key — never a traceback, another exit code, or a
run past 60 s. Hypothesis examples are derandomised, so CI runs the same cases every time.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import time
from collections import Counter
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings, strategies as st

import fuzzing as F
from sim.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
SCALE = float(os.environ.get("ACCELSIM_FUZZ_SCALE", "1"))
#: outcomes per class, reported by test_class_counts (and copied into docs/hardening.md)
OUTCOMES: dict[str, Counter] = {}
#: generated cases per class at scale 1 (the hypothesis budgets below); test_class_counts
#: checks that each class that ran reached its number
CASES = {"os paths": 60, "yaml": 90, "cli": 40, "workload and model files": 40, "traces": 90,
         "value files": 25, "sweeps": 80}
GPT2 = ["--workload", "gpt2_decode", "--set", "workload.context_len=48"]
SYSTOLIC = str(ROOT / "arch_configs" / "systolic.yaml")
TRACE = ROOT / "traces" / "gpt2_decode.jsonl.gz"


def budget(n: int):
    return settings(max_examples=max(1, int(n * SCALE)), deadline=None, database=None,
                    derandomize=True, phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=list(HealthCheck))


def run(klass: str, argv: list[str], seconds: int = 60) -> tuple[int, str, str]:
    """Run ``simulate argv`` in-process; check the outcome; count it under ``klass``."""
    argv = [str(a) for a in argv]
    out, err = io.StringIO(), io.StringIO()
    started = time.perf_counter()
    with F.time_limit(seconds, f"simulate {' '.join(argv)[:200]}"), \
            redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse's own exit for a malformed command line
            code = exc.code
    elapsed = time.perf_counter() - started
    text = err.getvalue()
    assert code in (0, 2), f"exit {code} for {argv}: {text[-2000:]}"
    assert "Traceback" not in text, text
    if code == 2:
        lines = [ln for ln in text.splitlines() if not ln.startswith("warning: ")]
        assert lines, f"exit 2 without a message for {argv}"
        for line in lines:
            assert line.startswith("error: ") and len(line) < 2000, line
            rest = line[len("error: "):]
            assert ": " in rest, f"names no file, flag or key: {line!r}"
    OUTCOMES.setdefault(klass, Counter())["refused" if code else "ran"] += 1
    assert elapsed < seconds
    return code, out.getvalue(), text


# ---- 1. OS-level path errors ----------------------------------------------------------------
@pytest.fixture(scope="module")
def paths(tmp_path_factory) -> dict[str, str]:
    """Bad paths of every kind, made once."""
    d = tmp_path_factory.mktemp("paths")
    (d / "file.txt").write_text("x")
    os.symlink(d / "loop_b", d / "loop_a")
    os.symlink(d / "loop_a", d / "loop_b")
    big = d / "big.yaml"
    with open(big, "w") as f:
        f.write("kind: systolic\n" + "# padding\n" * 600_000)
    (d / "dir.yaml").mkdir()
    bomb = d / "bomb.jsonl.gz"
    with gzip.open(bomb, "wb", compresslevel=9) as f:
        chunk = b" " * 2**20
        for _ in range(300):
            f.write(chunk)
    return {"long": "a" * 300 + ".yaml", "long_dir": "/".join(["b" * 255] * 20) + "/x.yaml",
            "through_file": str(d / "file.txt" / "x.yaml"), "loop": str(d / "loop_a"),
            "dev_zero": "/dev/zero", "dev_null": "/dev/null", "big": str(big),
            "dir": str(d / "dir.yaml"), "gzip_bomb": str(bomb), "missing": str(d / "no.yaml")}


PATH_KINDS = ("long", "long_dir", "through_file", "loop", "dev_zero", "dev_null", "big", "dir",
              "gzip_bomb", "missing")
PATH_USES = ("arch", "workload_yaml", "workload_trace", "sweep", "values", "json_out")


@budget(CASES["os paths"])
@given(kind=st.sampled_from(PATH_KINDS), use=st.sampled_from(PATH_USES))
def test_os_path_errors(paths, kind, use):
    p = paths[kind]
    if use == "workload_trace" and not p.endswith(".gz"):
        p = p + ".jsonl.gz" if kind not in ("dev_zero", "dev_null", "loop", "dir") else p
    argv = {"arch": ["--arch", p, *GPT2],
            "workload_yaml": ["--arch", SYSTOLIC, "--workload", p],
            "workload_trace": ["--arch", SYSTOLIC, "--workload", p],
            "sweep": ["sweep", p, "--dry-run"],
            "values": ["--arch", "bitslice", *GPT2, "--set", "values.weights.dist=file",
                       "--set", f"values.weights.file={p}"],
            "json_out": ["--arch", SYSTOLIC, *GPT2, "--quiet", "--json", p + "/"]}[use]
    code, _, _ = run("os paths", argv)
    assert code == 2


# ---- 2. YAML: bombs, tags, nesting, duplicates --------------------------------------------------
def alias_bomb(depth: int, width: int) -> str:
    lines = ["a0: &a0 [x, x]"]
    for i in range(1, depth):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    return "\n".join(lines)


TAGS = ("!!int abc", "!!float x1", "!!timestamp 2020-13-45", "2021-02-30", "!!binary '###'",
        "!!python/object/apply:os.system ['true']", "!!set {a: 1}", "!!omap [1, 2]",
        "!!bool maybe", "!!null x", "!!str [1]", "2020-99-99 25:61:61")


@st.composite
def yaml_case(draw):
    kind = draw(st.sampled_from(["bomb", "bomb_set", "tag", "tag_set", "nest", "dup_top",
                                 "dup_nested", "recursive"]))
    base = "kind: systolic\nname: fuzz\n"
    if kind == "bomb":
        text = base + alias_bomb(draw(st.integers(6, 12)), draw(st.integers(6, 16))) + "\n"
        return kind, text, []
    if kind == "bomb_set":
        d, w = draw(st.integers(6, 10)), draw(st.integers(8, 16))
        items = ["&a0 [x, x]"] + [f"&a{i} [" + ",".join([f"*a{i - 1}"] * w) + "]"
                                  for i in range(1, d)]
        key = draw(st.sampled_from(["name", "array.rows", "workload.batch", "dram.preset"]))
        return kind, None, [f"{key}=[{', '.join(items)}]"]
    if kind in ("tag", "tag_set"):
        tag = draw(st.sampled_from(TAGS))
        key = draw(st.sampled_from(["name", "array.rows", "tech.frequency", "description"]))
        if kind == "tag_set":
            return kind, None, [f"{key}={tag}"]
        section, _, leaf = key.rpartition(".")
        body = f"{section}:\n  {leaf}: {tag}\n" if section else f"{leaf}: {tag}\n"
        return kind, "kind: systolic\n" + body, []
    if kind == "nest":
        depth = draw(st.integers(65, 5000))
        opener = draw(st.sampled_from(["[", "{a: "]))
        closer = "]" if opener == "[" else "}"
        return kind, base + "array: " + opener * depth + "1" + closer * depth + "\n", []
    if kind == "dup_top":
        section = draw(st.sampled_from(["array", "dram", "tech", "sram"]))
        return kind, base + f"{section}: {{}}\n{section}: {{}}\n", []
    if kind == "dup_nested":
        return kind, base + "array:\n  rows: 64\n  cols: 64\n  rows: 32\n", []
    return kind, base + "description: &r [*r]\n", []


@budget(CASES["yaml"])
@given(case=yaml_case())
def test_yaml_junk(tmp_path_factory, case):
    kind, text, sets = case
    arch = SYSTOLIC
    if text is not None:
        arch = tmp_path_factory.mktemp("yaml") / "arch.yaml"
        arch.write_text(text)
    argv = ["--arch", arch, *GPT2, "--quiet"] + [a for s in sets for a in ("--set", s)]
    code, _, err = run("yaml", argv)
    if kind in ("bomb", "bomb_set", "nest", "dup_top", "dup_nested", "recursive"):
        assert code == 2
    if kind.startswith("dup"):
        assert "duplicate key" in err and "line" in err


# ---- 3. command-line arguments ---------------------------------------------------------------
@budget(CASES["cli"])
@given(data=st.data())
def test_cli_arguments(tmp_path_factory, data):
    kind = data.draw(st.sampled_from(["repeat", "top", "json_dir", "unknown_flag", "numbers"]))
    if kind == "repeat":
        key = data.draw(st.sampled_from(["array.rows", "workload.batch", "dram.channels"]))
        a, b = data.draw(st.integers(1, 64)), data.draw(st.integers(65, 128))
        code, _, err = run("cli", ["--arch", SYSTOLIC, *GPT2, "--quiet", "--set", f"{key}={a}",
                                   "--set", f"arch.{key}={b}" if "workload" not in key
                                   else f"{key}={b}"])
        assert code == 2 and "given twice" in err
    elif kind == "top":
        top = data.draw(st.sampled_from(["-1", "-100", "x", "1.5", ""]))
        assert run("cli", ["--arch", SYSTOLIC, *GPT2, "--top", top])[0] == 2
    elif kind == "json_dir":
        d = tmp_path_factory.mktemp("out")
        target = data.draw(st.sampled_from([str(d) + "/", str(d), str(d / "new") + "/",
                                            str(d / "missing" / "x.json")]))
        assert run("cli", ["--arch", SYSTOLIC, *GPT2, "--quiet", "--json", target])[0] == 2
    elif kind == "unknown_flag":
        flag = data.draw(st.sampled_from(["--archs", "--bogus", "-x", "--set"]))
        assert run("cli", ["--arch", SYSTOLIC, *GPT2, flag])[0] == 2
    else:  # numbers in forms YAML 1.1 leaves as strings, and YAML booleans for enums
        value = data.draw(st.sampled_from(["1e-0", "1E0", "+1e0", "1.0e+0"]))
        code, _, _ = run("cli", ["--arch", SYSTOLIC, *GPT2, "--quiet", "--set",
                                 f"tech.vdd={value}", "--set", "dram.refresh=off"])
        assert code == 0


# ---- 4. workload and model files ---------------------------------------------------------------
MODEL = {"name": "m", "source": "fuzz", "style": "llama", "hidden": 256, "layers": 2,
         "heads": 4, "kv_heads": 4, "ffn": 512, "vocab": 1000, "max_positions": 256,
         "positional": "rope"}


@st.composite
def model_case(draw):
    model = dict(MODEL)
    how = draw(st.sampled_from(["drop", "heads", "kv_heads", "context", "empty", "null",
                                "list", "valid"]))
    if how == "drop":
        model.pop(draw(st.sampled_from(["hidden", "layers", "heads", "ffn", "vocab"])))
    elif how == "heads":
        model["heads"] = draw(st.sampled_from([3, 5, 7, 384]))
    elif how == "kv_heads":
        model["kv_heads"] = 3
    elif how == "null":
        model[draw(st.sampled_from(["hidden", "heads", "layers"]))] = None
    positional = draw(st.sampled_from(["rope", "learned"]))
    model["positional"] = positional
    context = draw(st.integers(1, 600)) if how == "context" else 32
    text = {"empty": "", "list": "[1, 2]"}.get(how, json.dumps(model))
    return how, text, context, positional


@budget(CASES["workload and model files"])
@given(case=model_case(), without_model=st.booleans())
def test_model_and_workload_files(tmp_path_factory, case, without_model):
    how, text, context, positional = case
    d = tmp_path_factory.mktemp("models")
    (d / "fuzzmodel.yaml").write_text(text)
    work = d / "w.yaml"
    work.write_text(("" if without_model else "model: fuzzmodel\n")
                    + f"phase: decode\ncontext_len: {context}\n")
    with mock.patch("sim.workloads.model.MODEL_DIR", d):
        code, _, err = run("workload and model files", ["--arch", SYSTOLIC, "--workload", work,
                                                         "--quiet"])
    if without_model or how in ("drop", "heads", "kv_heads", "empty", "null", "list"):
        assert code == 2
    elif how == "context":  # a learned table has no rows past it; RoPE runs, with a warning
        beyond = context + 1 > MODEL["max_positions"]
        assert code == (2 if beyond and positional == "learned" else 0), err
        assert ("warning: " in err) == (beyond and positional == "rope"), err


# ---- 5. traces --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trace_lines() -> list[str]:
    return gzip.decompress(TRACE.read_bytes()).decode().splitlines()


@st.composite
def trace_case(draw, n_lines: int):
    how = draw(st.sampled_from(["gzip_flip", "gzip_cut", "no_ops", "truncated", "shapes",
                                "config_null", "config_object", "unknown_fn", "ops_count",
                                "too_many"]))
    line = draw(st.integers(1, n_lines - 1))
    return how, line, draw(st.integers(0, 10**6))


@budget(CASES["traces"])
@given(data=st.data())
def test_damaged_traces(tmp_path_factory, trace_lines, data):
    how, line, noise = data.draw(trace_case(len(trace_lines)))
    header, records = json.loads(trace_lines[0]), [json.loads(x) for x in trace_lines[1:]]
    d = tmp_path_factory.mktemp("trace")
    path = d / "t.jsonl.gz"
    if how == "no_ops":
        header["ops"], records = 0, []
    elif how == "truncated":
        records = records[:line]
    elif how == "ops_count":
        header["ops"] = len(records) + 1 + noise % 100
    elif how == "too_many":
        header["ops"] = 200_001 + noise
    elif how == "shapes":
        linear = [r for r in records if r["fn"] in ("linear", "addmm", "matmul")]
        rec = linear[noise % len(linear)]
        target = rec["outputs"][0]["shape"] if noise % 2 else rec["inputs"][-1]["shape"]
        target[-1] += 1 + noise % 7
    elif how in ("config_null", "config_object"):
        key = sorted(header["config"])[noise % len(header["config"])]
        header["config"][key] = None if how == "config_null" else {"x": [1]}
    elif how == "unknown_fn":
        vec = [r for r in records if r["fn"] not in ("linear", "addmm", "matmul",
                                                     "scaled_dot_product_attention")]
        vec[noise % len(vec)]["fn"] = f"made_up_{noise % 97}"
    text = "\n".join(json.dumps(x) for x in [header, *records]) + "\n"
    blob = gzip.compress(text.encode())
    if how == "gzip_flip":
        b = bytearray(blob)
        b[10 + noise % (len(b) - 20)] ^= 0xFF
        blob = bytes(b)
    elif how == "gzip_cut":
        blob = blob[:10 + noise % (len(blob) - 10)]
    path.write_bytes(blob)
    code, _, err = run("traces", ["--arch", SYSTOLIC, "--workload", path, "--quiet"])
    if how in ("no_ops", "truncated", "ops_count", "shapes", "unknown_fn", "gzip_cut",
               "too_many"):
        assert code == 2, how


# ---- 6. operand value files --------------------------------------------------------------------
@budget(CASES["value files"])
@given(how=st.sampled_from(["npz", "uint64", "float", "empty", "object", "text", "scalar",
                            "int8_ok"]), seed=st.integers(0, 1000))
def test_value_files(tmp_path_factory, how, seed):
    d = tmp_path_factory.mktemp("values")
    path = d / "w.npy"
    rng = np.random.default_rng(seed)
    if how == "npz":
        with open(path, "wb") as f:
            np.savez(f, a=rng.integers(-8, 8, 100))
    elif how == "uint64":
        np.save(path, np.array([2**64 - 1 - seed, 1], dtype=np.uint64))
    elif how == "float":
        np.save(path, rng.normal(size=100))
    elif how == "empty":
        np.save(path, np.zeros(0, dtype=np.int8))
    elif how == "object":
        path.write_bytes(b"\x93NUMPY\x01\x00v\x00{'descr': '|O', 'fortran_order': False, "
                         b"'shape': (2,), }" + b" " * 60 + b"\n" + b"\x80\x04N." * 2)
    elif how == "text":
        path.write_text("1 2 3\n")
    elif how == "scalar":
        np.save(path, np.int8(3))
    else:
        np.save(path, rng.integers(-128, 128, 4096).astype(np.int8))
    code, _, _ = run("value files", ["--arch", "bitslice", *GPT2, "--quiet", "--set",
                                     "values.weights.dist=file", "--set",
                                     f"values.weights.file={path}"])
    assert code == (0 if how in ("int8_ok", "scalar") else 2), how


# ---- 7. valid but huge parameters ----------------------------------------------------------------
HUGE = [  # each must end in a result or a refusal that names the limit, within 60 s
    ("neupims", "gpt3_7b_decode", ["pim.gwrite_cycles=1000000000"]),
    ("neupims", "gpt3_7b_decode", ["pim.gwrite_cycles=8192", "workload.context_len=64"]),
    ("lut_tc", "llama7b_prefill", ["lut.block_m=1", "lut.block_n=1", "lut.block_k=1"]),
    ("lut_tc", "llama7b_prefill", ["lut.block_m=2", "lut.block_n=2", "lut.block_k=2"]),
    ("systolic", "llama7b_prefill", ["array.rows=1", "array.cols=1"]),
    ("systolic", "llama7b_prefill", ["array.rows=2", "array.cols=2"]),
    ("npu_only", "gpt3_7b_prefill", ["array.rows=1", "array.cols=1"]),
    ("systolic", "gpt2_decode", ["dram.channels=1024", "dram.pseudo_channels=16",
                                 "dram.ranks=64", "dram.bankgroups=64",
                                 "dram.banks_per_group=64", "dram.rows=16777216",
                                 "dram.row_bytes=65536", "dram.address_mapping=rorabgbapcchco"]),
    ("systolic", "gpt2_decode", ["dram.queue_depth=4096"]),
    ("systolic", "gpt2_decode", ["dram.timing.tREFI=65536", "dram.timing.tRFC=65000"]),
    ("h100", "llama7b_prefill", ["sm.count=1", "workload.prompt_len=2048"]),
    ("wse2", "llama3_8b_decode", ["mesh.rows=4", "mesh.cols=4"]),
    ("systolic", "llama7b_decode", ["workload.batch=1048576"]),
]


@pytest.mark.jit_heavy
@pytest.mark.parametrize("arch,workload,sets", HUGE, ids=[" ".join(c[2])[:60] for c in HUGE])
def test_huge_parameters(arch, workload, sets):
    argv = ["--arch", arch, "--workload", workload, "--quiet"]
    for s in sets:
        argv += ["--set", s]
    run("huge parameters", argv, seconds=60)


# ---- 8. sweeps ---------------------------------------------------------------------------------
EXPRESSIONS = ("1 / (array.rows - array.rows) > 0", "log2(array.rows - array.rows) > 0",
               "array.dataflow > 3", "9 ** 9 ** 9 > 1", "'a' * 10 ** 9 == 'b'",
               "[1] * 10 ** 9 == [1]", "min() > 0", "array.rows ** -1 > 0",
               "(" * 300 + "1" + ")" * 300 + " > 0", "x" * 3000, "array.nope > 1",
               "array.rows % 0 == 1", "abs('x') > 1", "-'x' > 1", "max(array) > 1")


@st.composite
def sweep_case(draw):
    how = draw(st.sampled_from(["constraint", "random", "pareto", "name", "grid", "set_axis"]))
    base = {"arch": "systolic", "workload": "gpt2_decode",
            "grid": {"array.rows": [32, 64]}}
    if how == "constraint":
        base["constraints"] = [draw(st.sampled_from(EXPRESSIONS))]
    elif how == "random":
        kind = draw(st.sampled_from(["randint", "pow2", "uniform", "loguniform", "choice"]))
        lo = draw(st.sampled_from([5, 0, -1, 1e308, float("nan")]))
        hi = draw(st.sampled_from([3, 7, 5, 1e308]))
        arg = [] if kind == "choice" else [lo, hi]
        base["random"] = {"samples": draw(st.sampled_from([3, 0, 10**9, -1, "x"])),
                          "axes": {"array.cols": {kind: arg}}}
    elif how == "pareto":
        base["pareto"] = {draw(st.sampled_from(["tokens_per_secnd", "bogus", "area", "1"])):
                          "max", "area_mm2": draw(st.sampled_from(["min", "smallest"]))}
    elif how == "name":
        base["name"] = draw(st.sampled_from(["../x", "a/b", "..", "/abs", "ok\nname", "", "."]))
    elif how == "set_axis":  # a fixed value and an axis for the same key: which would win?
        base["set"] = {"array.rows": draw(st.sampled_from([16, 128]))}
    else:
        base["grid"] = {"array.rows": draw(st.sampled_from([
            [], {"from": 1, "to": 0, "step": 1}, {"from": 1, "to": 1e308, "factor": 1.0000001},
            {"from": 0, "to": 8, "factor": 2}, "x"]))}
    return how, base


@budget(CASES["sweeps"])
@given(case=sweep_case())
def test_bad_sweep_specs(tmp_path_factory, case):
    how, spec = case
    d = tmp_path_factory.mktemp("sweep")
    path = d / "spec.yaml"
    path.write_text(json.dumps(spec))
    code, _, _ = run("sweeps", ["sweep", path, "--dry-run", "--no-progress"])
    if how in ("pareto", "name", "set_axis"):
        assert code == 2


@budget(20)
@given(garbage=st.sampled_from([b"garbage\n", b"\0\0\0\n", b'{"key": 5}\n', b'{"key": "x"',
                                b"[1, 2]\n", b'{"status": "ok"}\n', b"\xff\xfe\n"]),
       where=st.sampled_from(["end", "start"]))
def test_damaged_journal_resumes(tmp_path_factory, garbage, where):
    d = tmp_path_factory.mktemp("journal")
    spec = d / "spec.yaml"
    spec.write_text("arch: systolic\nworkload: gpt2_decode\nset: {workload.context_len: 16}\n"
                    "grid:\n  array.rows: [32, 64]\n")
    out = d / "out"
    assert run("sweeps", ["sweep", spec, "--out", out, "--workers", "1", "--no-progress"])[0] == 0
    journal = out / "points.jsonl"
    good = journal.read_bytes()
    journal.write_bytes(good + garbage if where == "end" else garbage + good)
    code, stdout, _ = run("sweeps", ["sweep", spec, "--out", out, "--workers", "1",
                                     "--no-progress"])
    assert code == 0 and "2 ok" in stdout


def test_sweep_output_onto_a_file_or_bad_name(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text("arch: systolic\nworkload: gpt2_decode\ngrid:\n  array.rows: [32]\n")
    (tmp_path / "afile").write_text("x")
    assert run("sweeps", ["sweep", spec, "--out", tmp_path / "afile", "--no-progress"])[0] == 2
    spec.write_text("name: ../../escape\narch: systolic\nworkload: gpt2_decode\n"
                    "grid:\n  array.rows: [32]\n")
    assert run("sweeps", ["sweep", spec, "--no-progress"])[0] == 2
    assert not (tmp_path.parent.parent / "escape").exists()


@pytest.mark.jit_heavy
def test_killed_sweep_leaves_no_workers(tmp_path):
    """``kill -9`` of a sweep: its pool workers notice their parent is gone and exit."""
    import psutil  # installed with the test extras (dask.distributed needs it)
    spec = tmp_path / "spec.yaml"
    spec.write_text("arch: systolic\nworkload: llama7b_prefill\n"
                    "grid:\n  array.rows: [8, 16, 24, 32, 40, 48, 56, 64]\n")
    proc = subprocess.Popen([sys.executable, "-m", "sim.cli.main", "sweep", str(spec), "--out",
                             str(tmp_path / "out"), "--workers", "2", "--no-progress"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    parent = psutil.Process(proc.pid)
    deadline = time.time() + 60
    workers = []
    while time.time() < deadline and len(workers) < 2:
        time.sleep(0.2)
        workers = [c for c in parent.children(recursive=True)
                   if "spawn_main" in " ".join(c.cmdline())]
    assert len(workers) >= 2, "the sweep did not start its workers"
    proc.kill()
    proc.wait()
    gone, alive = psutil.wait_procs(workers, timeout=30)  # a kernel call may hold the GIL
    for p in alive:
        p.kill()
    assert not alive, f"{len(alive)} worker(s) outlived their killed parent"


# ---- counts ------------------------------------------------------------------------------------
def test_class_counts():
    """Runs last in this module: each class that ran in this process generated at least its
    budget of cases (hypothesis stops early when a strategy's space runs out, which would
    silently shrink a class), scaled like the budgets; prints the table for the docs."""
    rows = [f"| {k} | {sum(c.values())} | {c['refused']} | {c['ran']} |"
            for k, c in sorted(OUTCOMES.items())]
    print("\n| class | cases | refused (exit 2) | ran (exit 0) |\n|---|---:|---:|---:|\n"
          + "\n".join(rows))
    minimum = {**CASES, "huge parameters": len(HUGE)}
    finite = {"huge parameters": len(HUGE), "os paths": len(PATH_KINDS) * len(PATH_USES)}
    for klass, counts in OUTCOMES.items():
        # a finite space (every path kind x use) is exhausted, not shrunk, past its size
        want = min(max(1, int(minimum[klass] * SCALE)), finite.get(klass, 2**62))
        assert sum(counts.values()) >= want, (klass, dict(counts), want)
