"""Every user mistake gives one line per problem naming file and key, and exit code 2."""

import pytest

from sim.cli.main import main

from conftest import SYSTOLIC


def run(capsys, *args):
    code = main(list(args))
    err = capsys.readouterr().err.strip().splitlines()
    return code, err


def write(tmp_path, text, name="bad.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


CASES = {
    "invalid yaml": ("kind: systolic\narray: [1, 2\n", r"bad.yaml: line \d+: invalid YAML"),
    "unknown key with hint": ("kind: systolic\narray: {rowz: 4}\n",
                              r"bad.yaml: array.rowz: unknown key \(did you mean 'rows'\?\)"),
    "wrong type": ("kind: systolic\narray: {rows: many}\n",
                   r"bad.yaml: array.rows: expected an integer > 0"),
    "negative size": ("kind: systolic\narray: {cols: -4}\n", r"bad.yaml: array.cols: must be > 0"),
    "zero sram": ("kind: systolic\nsram: {ifmap: 0 MiB}\n", r"bad.yaml: sram.ifmap: must be > 0"),
    "bad unit": ("kind: systolic\ntech: {frequency: 3 parsecs}\n",
                 r"bad.yaml: tech.frequency: unknown frequency unit 'parsecs'"),
    "bad enum": ("kind: systolic\narray: {dataflow: rs}\n",
                 r"bad.yaml: array.dataflow: 'rs' is not allowed.*one of 'os', 'ws', 'is'"),
    "unknown kind": ("kind: systolik\n", r"bad.yaml: kind: unknown family 'systolik' \(did you mean 'systolic'\?\)"),
    "missing kind": ("array: {rows: 4}\n", r"bad.yaml: kind: missing"),
    "tile cannot fit": ("kind: systolic\nsram: {filter: 1 KiB}\n",
                        r"bad.yaml: sram.filter: .* cannot hold"),
    "not a mapping": ("- 1\n- 2\n", r"bad.yaml: expected a mapping"),
    "unknown dram preset": ("kind: systolic\ndram: {preset: HBM9}\n",
                              r"bad.yaml: dram.preset: 'HBM9' is not allowed"),
    "missing preset": ("kind: systolic\nextends: nowhere\n",
                       r"bad.yaml: extends: preset 'nowhere' not found; known presets"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_arch_files(case, tmp_path, capsys):
    text, pattern = CASES[case]
    code, err = run(capsys, "--arch", write(tmp_path, text), "--workload", "llama7b_decode")
    assert code == 2
    assert len(err) >= 1 and all(line.startswith("error: ") for line in err)
    import re
    assert any(re.search(pattern, line) for line in err), err


def test_every_problem_is_reported_at_once(tmp_path, capsys):
    path = write(tmp_path, "kind: systolic\narray: {rows: 0, colz: 3}\ntech: {vdd: fast}\n")
    code, err = run(capsys, "--arch", path, "--workload", "llama7b_decode")
    assert code == 2 and len(err) == 3


@pytest.mark.parametrize("args,pattern", [
    (["--workload", "llama8b_decode"], r"unknown workload 'llama8b_decode' \(did you mean"),
    (["--workload", "llama7b_decode", "--set", "workload.batch=0"], r"batch: must be > 0"),
    (["--workload", "llama7b_decode", "--set", "workload.phase=train"], r"phase: 'train' is not allowed"),
    (["--workload", "llama7b_decode", "--set", "workload.bacth=2"], r"bacth: unknown key \(did you mean 'batch'\?\)"),
    (["--workload", "llama7b_decode", "--set", "array.rows"], r"--set array.rows: expected KEY=VALUE"),
    (["--workload", "gpt3_7b_decode", "--set", "workload.context_len=5000"],
     r"context_len: 5000 \+ 1 exceeds the 2048 learned positions"),
    (["--workload", "llama7b_decode", "--set", "workload.act_bits=64"], r"act_bits: must be <= 32"),
    (["--workload", "llama7b_decode", "--set", "array.weight_bits=8"],
     r"workload.kv_bits: 16 bits exceed array.weight_bits=8"),
    (["--workload", "nofile.yaml"], r"nofile.yaml: file not found"),
])
def test_bad_workloads_and_overrides(args, pattern, capsys):
    code, err = run(capsys, "--arch", SYSTOLIC, *args)
    import re
    assert code == 2, err
    assert any(re.search(pattern, line) for line in err), err


def test_unknown_model_in_workload_file(tmp_path, capsys):
    path = write(tmp_path, "model: llama9b\nphase: decode\n", "w.yaml")
    code, err = run(capsys, "--arch", SYSTOLIC, "--workload", path)
    assert code == 2
    assert f"{path}: model: unknown model 'llama9b'" in err[0]


def test_missing_arguments(capsys):
    code, err = run(capsys, "--workload", "llama7b_decode")
    assert code == 2 and "--arch and --workload are required" in err[0]


def test_unwritable_output_directory(capsys, tmp_path):
    code, err = run(capsys, "--arch", SYSTOLIC, "--workload", "llama7b_decode", "--quiet",
                    "--json", str(tmp_path / "missing" / "o.json"))
    assert code == 2 and "does not exist" in err[0]
