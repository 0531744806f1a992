"""The validation target table (sim/core/targets.py) the repro scripts print and write."""

from __future__ import annotations

import json

from sim.core.targets import Target, render, write_json


def test_relative_and_point_tolerances_and_unmeasured_figures():
    assert Target("a", 2.0, 2.3, 0.20).passed and not Target("a", 2.0, 2.5, 0.20).passed
    assert Target("b", 16.0, 12.0, 5.0, points=True).passed
    assert not Target("b", 16.0, 10.0, 5.0, points=True).passed
    missing = Target("c", 1.9, None, 0.25)
    assert missing.error is None and not missing.passed


def test_bounds_pass_on_one_side_only():
    assert Target("min", 1.13, 5.0, 0.0, at_least=True).passed
    assert not Target("min", 1.13, 1.12, 0.0, at_least=True).passed
    assert Target("count", 0, 0, 0, points=True, at_most=True).passed
    assert not Target("count", 0, 2, 0, points=True, at_most=True).passed
    assert ">=" in render([Target("min", 1.13, 1.2, 0.0, at_least=True)])


def test_the_json_rows_are_the_printed_rows(tmp_path):
    targets = [Target("x ratio", 10.0, 9.0, 0.2), Target("y", 1.0, None, 0.1, note="later")]
    text = render(targets)
    assert "1 of 2 within tolerance" in text and "not measured" in text and "later" in text
    write_json(targets, tmp_path / "t.json")
    rows = json.loads((tmp_path / "t.json").read_text())
    assert [r["figure"] for r in rows] == ["x ratio", "y"]
    assert rows[0]["passed"] and abs(rows[0]["error"] + 0.1) < 1e-12
    assert rows[1]["error"] is None and not rows[1]["passed"]
