"""Property-based fuzzing (hypothesis) of every input a user writes: arch configs of every family,
junk YAML, workloads and trace files. Every case must end in a ConfigError / WorkloadError that
names the file and the key, or in a report that passed the invariant check — never another
exception, a hang or a NaN (tests/fuzzing.py holds the harness; counts in docs/hardening.md).

Examples are derandomised, so CI runs the same cases every time; set ACCELSIM_FUZZ_SEED to
explore others. The number per test scales with ACCELSIM_FUZZ_SCALE (default 1).
"""

import copy
import gzip
import json
import os

import pytest
from hypothesis import HealthCheck, Phase, given, settings, strategies as st

import fuzzing as F

SCALE = float(os.environ.get("ACCELSIM_FUZZ_SCALE", "1"))
SEED = os.environ.get("ACCELSIM_FUZZ_SEED")


def budget(n: int):
    """``n`` examples (times the scale); no shrinking unless ACCELSIM_FUZZ_SHRINK=1, so a
    failure in CI reports its case at once instead of minimising it for minutes."""
    phases = list(Phase) if os.environ.get("ACCELSIM_FUZZ_SHRINK") else [
        Phase.explicit, Phase.reuse, Phase.generate]
    return settings(max_examples=max(1, int(n * SCALE)), deadline=None, database=None,
                    derandomize=SEED is None, print_blob=True, phases=phases,
                    suppress_health_check=list(HealthCheck))


def seeded(test):
    if SEED is not None:
        from hypothesis import seed
        return seed(int(SEED))(test)
    return test


keys = st.one_of(st.sampled_from(["bogus", "rows ", "Rows", "array", "kind", "dram", "☃", "1"]),
                 st.text(min_size=1, max_size=12))


@st.composite
def arch_mutation(draw):
    """A shipped arch config (``extends:`` merged) with 1-3 mutations; returns (family kind,
    dict, mutations)."""
    kind = draw(st.sampled_from(sorted(F.FILES_BY_KIND)))  # every family equally often
    name = draw(st.sampled_from(F.FILES_BY_KIND[kind]))
    data = F.raw_arch(name)
    fields = F.schema_fields(data["kind"])
    sections = sorted({p.rsplit(".", 1)[0] for p, _ in fields if "." in p})
    done = []
    for _ in range(draw(st.integers(1, 3))):
        how = draw(st.sampled_from(["junk", "junk", "valid", "valid", "valid", "delete",
                                    "unknown", "section", "top", "extreme"]))
        path, field = draw(st.sampled_from(fields))
        if how == "junk":
            value = copy.deepcopy(draw(st.sampled_from(F.junk_values(field))))
            F.set_path(data, path, value)
        elif how == "valid" and F.valid_values(field):
            F.set_path(data, path, draw(st.sampled_from(F.valid_values(field))))
        elif how == "extreme" and field.type in ("int", "float"):
            value = draw(st.one_of(st.integers(-2**70, 2**70), st.floats(allow_nan=True)))
            F.set_path(data, path, value)
        elif how == "delete":
            F.delete_path(data, path)
        elif how == "unknown":
            where = draw(st.sampled_from([""] + sections))
            F.set_path(data, f"{where}.{draw(keys)}" if where else draw(keys), 1)
            path = where
        elif how == "section" and sections:
            path = draw(st.sampled_from(sections))
            F.set_path(data, path, draw(st.sampled_from([None, 3, "x", [1], []])))
        else:
            path = draw(st.sampled_from(["kind", "name", "extends"]))
            data[path] = draw(st.sampled_from(F.junk_values(None) + ["systolic", "gpu", "nope"]))
        done.append((how, path))
    return kind, data, done


@seeded
@budget(800)
@given(case=arch_mutation(), workload=st.sampled_from(F.SMALL_WORKLOADS))
def test_mutated_arch_configs(case, workload, tmp_path_factory):
    kind, data, mutations = case
    outcome = F.run_case(F.dump(data), tmp_path_factory.mktemp("arch"), workload)
    F.OUTCOMES[(f"arch {kind}", outcome)] += 1


JUNK_TEXT = st.one_of(
    st.text(max_size=200),
    st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
    st.integers(1, 20000).map(lambda d: "[" * d + "]" * d),
    st.integers(1, 20000).map(lambda d: "a: " + "{b: " * d + "1" + "}" * d),
    st.integers(1, 3000).map(lambda d: "".join(f"{' ' * i}k{i}:\n" for i in range(d)) + " " * d + "v"),
    st.sampled_from([
        "- 1\n- 2\n", "42", "kind: [systolic]", "kind: systolic\n\tarray: 1", "~",
        "kind: systolic\narray: &a {rows: *a}", "kind: !!python/object:os.system x",
        "kind: systolic\nkind: gpu\n", "\ufeffkind: systolic", "kind: systolic\n" + "x" * 10**5,
        # an alias "billion laughs": expansion must not be materialised
        "a: &a [x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n"
        "c: &c [*b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c]\n"
        "e: &e [*d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e]\n"
        "kind: systolic\narray: {rows: *f}\n",
        "kind: systolic\nextends: systolic\n", "kind: systolic\nextends: ../../etc/passwd\n",
        "kind: systolic\nextends: [1]\n", "kind: wafer_mesh\nmesh: {rows: 1, cols: 1}\n"]),
)


@seeded
@budget(170)
@given(text=JUNK_TEXT)
def test_junk_yaml(text, tmp_path_factory):
    outcome = F.run_case(text, tmp_path_factory.mktemp("junk"))
    F.OUTCOMES[("junk_yaml", outcome)] += 1


WORKLOAD_FIELDS = {
    "model": st.one_of(st.sampled_from(["gpt2", "llama7b", "opt6_7b", "gpt3_7b", "llama3_8b",
                                        "bitnet_b158_3b", "gpt3_175b", "nope", "GPT2"]),
                       st.text(max_size=10), st.integers()),
    "phase": st.sampled_from(["decode", "prefill", "train", None, 1]),
    "batch": st.one_of(st.integers(-2, 2**22), st.sampled_from([0, 3, 2**40, 2.5, "8", None])),
    "prompt_len": st.one_of(st.integers(-1, 2**20), st.sampled_from([0, 2**40, float("nan")])),
    "context_len": st.one_of(st.integers(-1, 2**22), st.sampled_from([0, 2**40, 1e308, "x"])),
    "weight_bits": st.one_of(st.integers(-1, 70), st.sampled_from([None, 1.5, "4"])),
    "act_bits": st.one_of(st.integers(-1, 70), st.sampled_from([None, "fp16"])),
    "kv_bits": st.one_of(st.integers(-1, 70), st.none()),
    "context_dist": st.sampled_from(["fixed", "sharegpt", "alpaca", "zipf", None]),
    "seed": st.one_of(st.integers(-1, 2**64), st.sampled_from([None, "s"])),
    "tensor_parallel": st.one_of(st.integers(-1, 1024), st.sampled_from([3, 7, 2**40])),
    "pipeline_parallel": st.one_of(st.integers(-1, 128), st.sampled_from([3, 5, 2**40])),
    "logits": st.sampled_from(["last", "all", "first", None]),
    "bogus_key": st.integers(),
}


@st.composite
def workload_mutation(draw):
    """A workload file: a small valid base with 1-4 fields replaced by drawn values."""
    data = {"model": draw(st.sampled_from(["gpt2", "llama7b", "opt6_7b", "gpt3_7b"])),
            "phase": draw(st.sampled_from(["decode", "prefill"])),
            "batch": draw(st.sampled_from([1, 2, 4])), "context_len": 64, "prompt_len": 32}
    for key in draw(st.lists(st.sampled_from(sorted(WORKLOAD_FIELDS)), min_size=1, max_size=4,
                             unique=True)):
        data[key] = draw(WORKLOAD_FIELDS[key])
    return data


@seeded
@budget(300)
@given(workload=workload_mutation(), arch=st.sampled_from(F.ARCH_FILES))
def test_mutated_workloads(workload, arch, tmp_path_factory):
    outcome = F.run_case(None, tmp_path_factory.mktemp("wl"), workload_text=F.dump(workload),
                         arch_name=arch)
    F.OUTCOMES[("workload", outcome)] += 1


def _trace_lines():
    path = F.ROOT / "traces" / "gpt2_decode.jsonl.gz"
    return gzip.decompress(path.read_bytes()).decode().splitlines()


TRACE = _trace_lines()


@st.composite
def trace_mutation(draw):
    """The GPT-2 decode trace with its header or records damaged."""
    lines = list(TRACE)
    header = json.loads(lines[0])
    how = draw(st.sampled_from(["header", "header", "record", "truncate", "garble", "drop"]))
    if how == "header":
        key = draw(st.sampled_from(sorted(header) + ["bogus"]))
        header[key] = draw(st.sampled_from(F.junk_values(None) + [0, -1, 2, 99, "decode",
                                                                  "llama", {}]))
        lines[0] = json.dumps(header, allow_nan=True)
    elif how == "record":
        i = draw(st.integers(1, len(lines) - 1))
        rec = json.loads(lines[i])
        key = draw(st.sampled_from(sorted(rec)))
        rec[key] = draw(st.sampled_from(F.junk_values(None) + [[], [[1, 2]], {"shape": [-1]}]))
        lines[i] = json.dumps(rec, allow_nan=True)
    elif how == "truncate":
        text = "\n".join(lines)
        lines = [text[:draw(st.integers(0, len(text) - 1))]]
    elif how == "garble":
        i = draw(st.integers(0, len(lines) - 1))
        lines[i] = draw(st.text(max_size=40))
    else:
        del lines[draw(st.integers(0, len(lines) - 1))]
    return "\n".join(lines) + "\n"


@seeded
@budget(150)
@given(text=trace_mutation(), gz=st.booleans(), arch=st.sampled_from(
    ["systolic.yaml", "h100.yaml", "lut_tc.yaml", "wse2.yaml", "neupims.yaml"]))
def test_damaged_traces(text, gz, arch, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("trace")
    path = tmp / ("damaged.jsonl.gz" if gz else "damaged.jsonl")
    path.write_bytes(gzip.compress(text.encode(), mtime=0) if gz else text.encode())
    outcome = F.run_case(None, tmp, workload=(str(path), ()), arch_name=arch,
                         extra_labels=(str(path),))
    F.OUTCOMES[("trace", outcome)] += 1


def test_fuzz_counts():
    """At least 1,000 cases ran (when the tests above ran in this process), and mutated
    configs of every family ended in both errors and valid reports."""
    total = sum(F.OUTCOMES.values())
    if not total:
        pytest.skip("the fuzz tests did not run in this process")
    print("\nfuzz outcomes:", dict(sorted(F.OUTCOMES.items())), "total", total)
    if SCALE < 1:
        return  # a reduced run (the JIT-off coverage run) checks the cases, not the counts
    assert total >= 1000
    for kind in sorted(F.FILES_BY_KIND):
        assert F.OUTCOMES[(f"arch {kind}", "report")], kind
        assert F.OUTCOMES[(f"arch {kind}", "config_error")], kind
