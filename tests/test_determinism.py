"""Determinism across processes: the same sweep over every family, run in two separate
processes (different hash seeds, pool and inline) and on a local Dask cluster, gives
byte-identical full reports and result tables."""

import os
import subprocess
import sys

import pytest

from sim import load_arch, simulate
from sim.simulation.simulate import load_workload

from conftest import ROOT

SPEC = """\
name: determinism
grid:
  arch: [systolic, bitslice_opt3, lut_tc, neupims, h100, wse2]
  workload: [gpt2_decode, traces/gpt2_decode.jsonl.gz]
"""


def run_sweep(tmp_path, name, hash_seed, *args):
    spec = tmp_path / "determinism.yaml"
    spec.write_text(SPEC)
    out = tmp_path / name
    env = {**os.environ, "PYTHONHASHSEED": str(hash_seed)}
    proc = subprocess.run([sys.executable, "-m", "sim.cli.main", "sweep", str(spec), "--out",
                           str(out), "--reports", "--no-progress", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    reports = {p.name: p.read_bytes() for p in sorted((out / "reports").glob("*.json"))}
    return reports, (out / "results.csv").read_bytes()


@pytest.mark.slow
def test_reports_are_bit_identical_across_processes_and_dask(tmp_path):
    a, a_csv = run_sweep(tmp_path, "pool", 1, "--workers", "2")
    b, b_csv = run_sweep(tmp_path, "inline", 2, "--workers", "1")
    c, c_csv = run_sweep(tmp_path, "dask", 3, "--workers", "2", "--scheduler", "local")
    assert len(a) == 12
    assert a == b == c
    assert a_csv == b_csv == c_csv
    # and equal to this process's own report of one point
    arch = load_arch("neupims")
    mine = simulate(arch, load_workload("gpt2_decode", arch))
    path = tmp_path / "mine.json"
    mine.to_json(path)
    assert path.read_bytes() in a.values()
