"""Coverage of sim/ with the JIT off: the suite's small cases run again with
NUMBA_DISABLE_JIT=1, so the Numba kernels execute as Python and count, under coverage.py.
The figure is printed and written to coverage-jitoff.json in the test's temporary directory;
docs/hardening.md records it."""

import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT

#: the total must not fall below this (percent of sim/ statements)
FLOOR = 90.0
#: a test slower than this with the JIT off is a hang (the heavy ones are marked jit_heavy)
PER_TEST_S = 120
#: the suites of small cases (the goldens themselves, notebooks and sweeps of hundreds of
#: points are left to the JIT-on run; the fuzz tests run a tenth of their cases)
SMALL = ["test_kernels.py", "test_config.py", "test_errors.py", "test_invariants.py",
         "test_memory.py", "test_simulate.py", "test_workloads.py", "test_traces.py",
         "test_wafer_mesh.py", "test_lut_tc.py", "test_gpu.py", "test_npu_pim.py",
         "test_bitslice.py", "test_docs.py", "test_sweep.py", "test_golden.py", "test_fuzz.py",
         "test_fuzz_classes.py", "test_serving.py"]


@pytest.mark.slow
def test_sim_coverage_with_the_jit_off(tmp_path):
    data = tmp_path / ".coverage"
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1", "ACCELSIM_TEST_TIMEOUT": str(PER_TEST_S),
           "ACCELSIM_FUZZ_SCALE": "0.1", "COVERAGE_FILE": str(data)}
    run = subprocess.run(
        [sys.executable, "-m", "coverage", "run", "--source=sim", "--branch", "-m", "pytest",
         "-q", "-p", "no:cacheprovider", "-m", "not slow and not jit_heavy", "-x",
         "--durations=15", *(f"tests/{name}" for name in SMALL)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=2400)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    out = tmp_path / "coverage-jitoff.json"
    subprocess.run([sys.executable, "-m", "coverage", "json", "-o", str(out)], cwd=ROOT,
                   env=env, check=True, capture_output=True)
    report = json.loads(out.read_text())
    total = report["totals"]["percent_covered"]
    low = sorted((f["summary"]["percent_covered"], name)
                 for name, f in report["files"].items())[:8]
    print(run.stdout[-2500:])
    print(f"\nsim/ coverage with NUMBA_DISABLE_JIT=1: {total:.1f}% "
          f"({report['totals']['covered_lines']} of {report['totals']['num_statements']} "
          f"statements, branches included); lowest: "
          + ", ".join(f"{n.removeprefix('sim/')} {p:.0f}%" for p, n in low))
    assert total >= FLOOR
