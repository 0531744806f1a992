"""Sweeps: spec expansion, bad specs, failing points, resume after a kill, Dask parity, Pareto."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from sim import load_sweep, pareto_front, simulate, sweep
from sim.cli.main import main
from sim.sweeps.dse import pareto_mask, plot_energy_breakdown, plot_metric_vs_param, plot_pareto
from sim.core.errors import SweepError
from sim.sweeps.runner import load_results, run_task, resolve_points

ROOT = Path(__file__).resolve().parent.parent
README_SPEC = ROOT / "docs" / "sweeps" / "systolic_dse.yaml"
SIMULATE = [sys.executable, "-c", "import sys; from sim.cli.main import main; sys.exit(main())"]


def small_spec(**extra) -> dict:
    """Eight cheap points: a 4-layer-free systolic decode at two array sizes."""
    spec = {"name": "small", "arch": "arch_configs/systolic.yaml", "workload": "llama7b_decode",
            "set": {"workload.context_len": 128},
            "grid": {"array.rows": [64, 128], "array.cols": [64, 128], "workload.batch": [1, 2]}}
    spec.update(extra)
    return spec


# ---- expansion ----------------------------------------------------------------------------
def test_grid_is_a_product_in_spec_order_with_inclusive_ranges():
    spec = load_sweep({"arch": "systolic", "workload": "llama7b_decode",
                       "grid": {"array.rows": {"from": 32, "to": 128, "factor": 2},
                                "array.cols": {"from": 16, "to": 48, "step": 16}}})
    points = spec.points()
    assert spec.size() == len(points) == 9
    assert [(p.params["array.rows"], p.params["array.cols"]) for p in points[:4]] == \
        [(32, 16), (32, 32), (32, 48), (64, 16)]
    assert points[0].arch_overrides == (("array.rows", 32), ("array.cols", 16))


def test_zip_random_and_source_axes():
    raw = {"arch": "systolic", "workload": "llama7b_decode",
           "grid": {"workload": ["llama7b_decode", "gpt3_7b_decode"]},
           "zip": [{"array.rows": [64, 128], "array.cols": [256, 128]}],
           "random": {"samples": 5, "seed": 3, "axes": {
               "vector.lanes": {"pow2": [64, 2048]},
               "tech.frequency": {"uniform": [5e8, 1e9]},
               "array.dataflow": {"choice": ["ws", "is"]}}}}
    spec = load_sweep(raw)
    points = spec.points()
    assert len(points) == 2 * 2 * 5
    assert {(p.params["array.rows"], p.params["array.cols"]) for p in points} == {(64, 256), (128, 128)}
    assert {p.workload for p in points} == {"llama7b_decode", "gpt3_7b_decode"}
    lanes = [p.params["vector.lanes"] for p in points]
    assert all(v & (v - 1) == 0 and 64 <= v <= 2048 for v in lanes)
    assert all(5e8 <= p.params["tech.frequency"] <= 1e9 for p in points)
    # the same seed draws the same values; another seed draws others
    assert [p.params for p in load_sweep(raw).points()] == [p.params for p in points]
    other = load_sweep({**raw, "random": {**raw["random"], "seed": 4}}).points()
    assert [p.params for p in other] != [p.params for p in points]


def test_constraints_drop_points_before_they_run():
    spec = load_sweep(small_spec(constraints=["array.rows * array.cols <= 8192",
                                              "area_mm2 < 1000 and workload.batch >= 1"]))
    resolved, dropped = resolve_points(spec, spec.points())
    assert len(resolved) == 6 and len(dropped) == 2
    assert all(d["array.rows"] == 128 and d["array.cols"] == 128 for d in dropped)
    assert dropped[0]["constraint"] == "array.rows * array.cols <= 8192"
    tight = load_sweep(small_spec(constraints=["area_mm2 <= 0"]))
    assert resolve_points(tight, tight.points())[0] == []


# ---- bad specs ----------------------------------------------------------------------------
@pytest.mark.parametrize("raw, message", [
    ({"arch": "systolic", "workload": "llama7b_decode", "gird": {}}, "gird: unknown key (did you mean 'grid'?)"),
    ({"workload": "llama7b_decode"}, "arch: missing"),
    (small_spec(grid={"array.rows": []}), "grid.array.rows: empty list"),
    (small_spec(grid={"array.rows": 64}), "grid.array.rows: expected a list of values or a range"),
    (small_spec(grid={"array.rows": {"from": 64, "to": 32, "step": 1}}), "the range is empty"),
    (small_spec(grid={"array.rows": {"from": 1, "to": 8, "factor": 1}}), "factor > 1"),
    (small_spec(zip=[{"array.rows": [1, 2], "array.cols": [1]}]), "zip[0]: zipped axes need equal lengths"),
    (small_spec(random={"samples": 0, "axes": {"array.rows": {"choice": [1]}}}), "random.samples: expected an integer from 1 to"),
    (small_spec(random={"samples": 2, "axes": {"array.cols": {"gauss": [1, 2]}}}), "random.axes.array.cols: expected one of"),
    (small_spec(constraints=["array.rows <="]), "constraints[0]: cannot parse"),
    (small_spec(constraints=["__import__('os')"]), "constraints[0]"),
    (small_spec(pareto={"area_mm2": "smallest"}), "pareto.area_mm2: expected min or max"),
])
def test_bad_specs_name_the_key(raw, message):
    with pytest.raises(SweepError) as err:
        load_sweep(raw)
    assert message in str(err.value)


@pytest.mark.parametrize("raw, message", [
    (small_spec(grid={"array.rowz": [1, 2]}), "grid.array.rowz: unknown arch (kind systolic) key 'array.rowz' (did you mean 'array.rows'?)"),
    (small_spec(zip=[{"workload.bach": [1, 2]}]), "zip[0].workload.bach: unknown workload key 'bach' (did you mean 'batch'?)"),
    (small_spec(constraints=["aray.rows > 1"]), "constraints[0]: unknown name 'aray'"),
    (small_spec(constraints=["array.rowz > 1"]), "constraints[0]: unknown key 'array.rowz'"),
])
def test_unknown_keys_stop_the_sweep_before_it_runs(raw, message, tmp_path):
    with pytest.raises(SweepError) as err:
        sweep(raw, tmp_path / "out", workers=1, progress=False)
    assert message in str(err.value)
    assert not (tmp_path / "out" / "points.jsonl").exists() or \
        (tmp_path / "out" / "points.jsonl").read_text() == ""


def test_cli_bad_spec_is_one_line_and_exit_2(tmp_path, capsys):
    spec = tmp_path / "bad.yaml"
    spec.write_text("arch: systolic\nworkload: llama7b_decode\ngrid:\n  array.rowz: [1, 2]\n")
    assert main(["sweep", str(spec), "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {spec}: grid.array.rowz: unknown arch (kind systolic) key "
                   f"'array.rowz' (did you mean 'array.rows'?)"]


# ---- running ------------------------------------------------------------------------------
def test_failing_points_are_recorded_and_the_sweep_goes_on(tmp_path):
    raw = small_spec(grid={"workload.batch": [1, 64], "array.rows": [0, 64]})
    result = sweep(raw, tmp_path, workers=1, progress=False)
    by = {(r["workload.batch"], r["array.rows"]): r for r in result.rows}
    assert by[(1, 64)]["status"] == "ok"
    assert by[(1, 0)]["status"] == "invalid" and "array.rows: must be > 0" in by[(1, 0)]["error"]
    # batch 64 at context 128 still fits 16 GiB of HBM2; a real capacity failure needs more
    big = sweep(small_spec(grid={"workload.batch": [1, 512]}), tmp_path / "b", workers=1, progress=False)
    failed = [r for r in big.rows if r["status"] == "error"]
    assert len(failed) == 1 and "dram.channels" in failed[0]["error"]
    assert big.counts["ok"] == 1 and big.counts["error"] == 1
    rows = load_results(tmp_path / "b")
    assert [r["status"] for r in rows] == ["ok", "error"]


def test_rows_match_a_direct_simulation_and_conserve_breakdowns(tmp_path):
    result = sweep(small_spec(), tmp_path, workers=1, progress=False)
    assert result.counts["ok"] == 8
    row = result.rows[5]
    report = simulate(
        __import__("sim").load_arch("arch_configs/systolic.yaml",
                                    [f"array.rows={row['array.rows']}", f"array.cols={row['array.cols']}"]),
        "llama7b_decode", ["workload.context_len=128", f"workload.batch={row['workload.batch']}"])
    assert row["cycles"] == report.cycles and row["energy_joules"] == report.energy_joules
    assert sum(v for k, v in row.items() if k.startswith("energy.")) == pytest.approx(row["energy_joules"])
    assert sum(v for k, v in row.items() if k.startswith("area.")) == pytest.approx(row["area_mm2"])
    assert row["joules_per_token"] == pytest.approx(row["energy_joules"] / row["tokens"])
    # the CSV round-trips every number bit for bit
    back = load_results(tmp_path)[5]
    assert all(back[k] == v for k, v in row.items() if isinstance(v, float))


def test_resume_skips_finished_points_and_drops_a_torn_line(tmp_path):
    first = sweep(small_spec(grid={"array.rows": [64, 128]}), tmp_path, workers=1, progress=False)
    journal = tmp_path / "points.jsonl"
    lines = journal.read_text().splitlines(keepends=True)
    journal.write_text(lines[0] + lines[1][:40])  # the second record was cut by a kill
    result = sweep(small_spec(grid={"array.rows": [64, 128, 256]}), tmp_path, workers=1, progress=False)
    keys = [json.loads(line)["key"] for line in journal.read_text().splitlines()]
    assert len(keys) == len(set(keys)) == 3  # the first point was not run again
    assert [r["cycles"] for r in result.rows[:2]] == [r["cycles"] for r in first.rows]


def test_same_config_twice_runs_once(tmp_path):
    raw = small_spec(grid={"array.rows": [64, 64, 128]})
    result = sweep(raw, tmp_path, workers=1, progress=False)
    assert len(result.rows) == 3 and result.rows[0]["key"] == result.rows[1]["key"]
    assert len((tmp_path / "points.jsonl").read_text().splitlines()) == 2


def test_run_task_turns_errors_and_crashes_into_records(monkeypatch):
    spec = load_sweep(small_spec())
    (_, task, _), *_ = resolve_points(spec, spec.points())[0]
    bad = type(task)(task.key, {**task.arch_config, "array": {"rows": -1}}, "x.yaml",
                     task.workload_config, task.workload_name)
    record = run_task(bad)
    assert record["status"] == "error" and "array.rows: must be > 0" in record["error"]

    def crash(*args):
        raise RuntimeError("kernel fell over")
    monkeypatch.setattr(sys.modules["sim.simulation.simulate"], "simulate", crash)
    record = run_task(task)
    assert record["status"] == "error" and record["key"] == task.key
    assert record["error"] == "RuntimeError: kernel fell over" and "crash" in record["traceback"]


@pytest.mark.jit_heavy
def test_readme_sweep_survives_a_kill_and_finishes_each_point_once(tmp_path):
    """The README's 200-point sweep, killed mid-run (whole process group), then restarted."""
    out = tmp_path / "dse"
    cmd = SIMULATE + ["sweep", str(README_SPEC), "--out", str(out), "--workers", "2", "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    journal = out / "points.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if journal.exists() and len(journal.read_bytes().splitlines()) >= 30:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = len(journal.read_bytes().splitlines())
    assert 30 <= before < 200, "the sweep finished before it could be killed"
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    keys = [json.loads(line)["key"] for line in journal.read_text().splitlines()]
    assert len(keys) == len(set(keys)) == 200
    rows = load_results(out)
    assert len(rows) == 200 and [r["point"] for r in rows] == list(range(200))
    assert {r["status"] for r in rows} == {"ok"} and len({r["key"] for r in rows}) == 200
    manifest = json.loads((out / "sweep.json").read_text())
    assert manifest["finished"] and manifest["counts"]["ok"] == 200


@pytest.mark.jit_heavy
def test_local_pool_inline_and_dask_give_identical_results(tmp_path):
    pytest.importorskip("distributed")
    raw = small_spec(grid={"array.rows": [32, 64, 128], "array.cols": [64, 128]})
    inline = sweep(raw, tmp_path / "inline", workers=1, progress=False)
    pool = sweep(raw, tmp_path / "pool", workers=2, progress=False)
    dask = sweep(raw, tmp_path / "dask", workers=2, scheduler="local", progress=False)
    assert inline.counts["ok"] == 6
    for other in (pool, dask):
        assert other.rows == inline.rows
        assert (tmp_path / "inline" / "results.csv").read_bytes() == \
            (tmp_path / other.out.name / "results.csv").read_bytes()
    pd = pytest.importorskip("pandas")
    frame = pd.read_parquet(tmp_path / "dask" / "results.parquet")
    assert list(frame["cycles"]) == [r["cycles"] for r in inline.rows]


@pytest.mark.jit_heavy
def test_readme_sweep_on_a_dask_cluster_matches_the_local_pool(tmp_path):
    """The README's 200 points on a LocalCluster this test starts, reached by its address."""
    distributed = pytest.importorskip("distributed")
    pool = sweep(README_SPEC, tmp_path / "pool", workers=2, progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        dask = sweep(README_SPEC, tmp_path / "dask", scheduler=cluster.scheduler_address,
                     progress=False)
    assert pool.counts["ok"] == dask.counts["ok"] == 200
    assert (tmp_path / "pool" / "results.csv").read_bytes() == \
        (tmp_path / "dask" / "results.csv").read_bytes()


# ---- Pareto and plots ---------------------------------------------------------------------
def test_pareto_mask_matches_brute_force():
    rng = np.random.default_rng(0)
    for k in (2, 3):
        values = rng.integers(0, 6, size=(60, k)).astype(float)  # ties on purpose
        senses = ["max"] + ["min"] * (k - 1)
        mask = pareto_mask(values, senses)
        cost = values * np.array([-1.0] + [1.0] * (k - 1))
        for i in range(len(values)):
            dominated = any(np.all(cost[j] <= cost[i]) and np.any(cost[j] < cost[i])
                            for j in range(len(values)))
            assert mask[i] == (not dominated)
    assert not pareto_mask(np.array([[np.nan, 1.0], [1.0, 1.0]]), ["min", "min"])[0]


def test_pareto_front_on_rows_and_dataframes():
    rows = [{"tps": 10, "mm2": 5}, {"tps": 20, "mm2": 10}, {"tps": 15, "mm2": 12}, {"tps": 5, "mm2": 5}]
    front = pareto_front(rows, {"tps": "max", "mm2": "min"})
    assert front == [rows[0], rows[1]]
    pd = pytest.importorskip("pandas")
    frame = pareto_front(pd.DataFrame(rows), {"tps": "max", "mm2": "min"})
    assert list(frame.index) == [0, 1]
    with pytest.raises(SweepError, match="unknown metric 'speed'"):
        pareto_front(rows, {"speed": "max", "mm2": "min"})


def test_plots_draw_every_point(tmp_path):
    import matplotlib
    matplotlib.use("Agg")
    result = sweep(small_spec(), tmp_path, workers=1, progress=False)
    ax = plot_pareto(result.ok(), "area_mm2", "tokens_per_second", color="workload.batch")
    assert sum(len(c.get_offsets()) for c in ax.collections) >= 8
    ax = plot_metric_vs_param(result.ok(), "array.rows", "tokens_per_second", by="workload.batch")
    assert len(ax.lines) == 2
    ax = plot_energy_breakdown(result.ok(), ["array.rows", "array.cols"])
    assert len(ax.patches) == 8 * len([k for k in result.rows[0] if k.startswith("energy.")])


def test_the_spec_in_docs_sweeps_md_is_valid():
    import re
    import yaml
    text = (ROOT / "docs" / "sweeps.md").read_text()
    raw = yaml.safe_load(re.search(r"```yaml\n(.*?)```", text, re.S).group(1))
    spec = load_sweep(raw)
    assert spec.size() == 5 * 5 * 2 * 2 * 50
    resolved, dropped = resolve_points(spec, spec.points()[:40])
    assert len(resolved) + len(dropped) == 40 and all(err is None for _, _, err in resolved)


def test_cli_dry_run_and_plot(tmp_path, capsys):
    assert main(["sweep", str(README_SPEC), "--dry-run"]) == 0
    assert capsys.readouterr().out.strip().endswith("200 points to run, 0 dropped by constraints (of 200)")
    spec = tmp_path / "s.yaml"
    spec.write_text("arch: systolic\nworkload: llama7b_decode\nset: {workload.context_len: 128}\n"
                    "grid: {array.cols: [32, 64, 128]}\n"
                    "pareto: {tokens_per_second: max, area_mm2: min}\n")
    assert main(["sweep", str(spec), "--out", str(tmp_path / "o"), "--workers", "1",
                 "--no-progress", "--plot"]) == 0
    out = capsys.readouterr().out
    assert "3 ok, 0 failed" in out and "Pareto front over tokens_per_second (max)" in out
    assert (tmp_path / "o" / "pareto.png").stat().st_size > 1000
