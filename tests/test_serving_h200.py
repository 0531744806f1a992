"""`simulate serve` against the PyTorch continuous-batching loop measured on an H200 (issue 28):
p50 TTFT / TPOT within 15 %, p90 within 25 %, per validation trace and measurement session.

The host overhead comes from the calibration runs only (docs/serving/h200_compare.py); the
misses are listed with their measured cause (docs/serving.md, "Against a real GPU")."""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MEASURED = ROOT / "sim" / "families" / "gpu" / "data" / "measured"
SESSIONS = {"interleaved": MEASURED / "h200_serving.json.gz",
            "sequential": MEASURED / "h200_serving_sequential.json.gz"}
HOST_DRIFT = ("the host's time to issue an eager prefill drifted between the calibration and "
              "this run (single-prompt medians 21.8-33.0 ms on one machine within minutes)")
HOST_DRIFT_AND_STEPS = ("decode steps priced 9 % short (the loop runs ~165 kernels per step "
                        "beyond the op graph) plus prefills interleaved at 29.4 ms against the "
                        "calibrations' pooled 25.5 ms (" + HOST_DRIFT.split(" (")[0] + ")")
PAST_CAPACITY = ("rate 16/s is past the loop's capacity: the queue grows through the run, and "
                 "a 10 % step error moves TTFT there by several times")
MISSES = {("interleaved", "rate10.csv", "tpot", 50): HOST_DRIFT_AND_STEPS,
          ("interleaved", "rate16.csv", "ttft", 50): PAST_CAPACITY,
          ("interleaved", "rate16.csv", "ttft", 90): PAST_CAPACITY,
          ("sequential", "rate4.csv", "ttft", 50): HOST_DRIFT,
          ("sequential", "rate16.csv", "ttft", 50): PAST_CAPACITY}


@lru_cache(maxsize=None)
def _compare():
    spec = importlib.util.spec_from_file_location("h200_compare",
                                                  ROOT / "docs" / "serving" / "h200_compare.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@lru_cache(maxsize=None)
def _rows(session: str) -> dict:
    cmp = _compare()
    return {(r["trace"], r["metric"], r["q"]): r
            for r in cmp.compare(cmp.load_measured(str(SESSIONS[session])))}


def _cases():
    for session in SESSIONS:
        for trace in ("rate4.csv", "rate10.csv", "rate16.csv"):
            for metric in ("ttft", "tpot"):
                for q in (50, 90):
                    key = (session, trace, metric, q)
                    marks = [pytest.mark.xfail(strict=True, reason=MISSES[key])] \
                        if key in MISSES else []
                    yield pytest.param(*key, marks=marks, id="-".join(map(str, key)))


@pytest.mark.slow
@pytest.mark.parametrize("session,trace,metric,q", list(_cases()))
def test_latency_percentiles_against_the_h200_loop(session, trace, metric, q):
    row = _rows(session)[(trace, metric, q)]
    assert abs(row["error"]) <= (0.15 if q == 50 else 0.25), row


@pytest.mark.slow
def test_host_overhead_comes_from_the_calibration_runs_only():
    cmp = _compare()
    data = cmp.load_measured(str(SESSIONS["interleaved"]))
    assert [r["trace"] for r in cmp.calibration_runs(data)] == [cmp.CALIBRATION] * 3
    host = cmp.host_overhead(cmp.calibration_runs(data))
    assert 0 < host["step_overhead"] < 1e-3 and host["prefill_launch"] > 0
    assert 0 < host["prefill_launch_sigma"] < 1
