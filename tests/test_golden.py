"""Golden regressions: every shipped arch config on its main workloads gives the numbers stored
in tests/golden/. An intended change: ``python -m sim.simulation.golden --update`` and a CHANGELOG.md line
naming the new digest (sim/simulation/golden.py)."""

import json

import pytest

from sim.simulation import golden

CASES = golden.cases()
HOW = ("if the change is intended, run `python -m sim.simulation.golden --update` and add a line to "
       "CHANGELOG.md saying why, with the digest it prints")


@pytest.mark.jit_heavy
@pytest.mark.parametrize("case", CASES, ids=lambda c: golden.case_file(*c).stem)
def test_golden(case):
    path = golden.case_file(*case)
    assert path.exists(), f"{path.name} is missing; {HOW}"
    stored = json.loads(path.read_text())
    lines = golden.diff(stored, golden.compute(*case))
    assert not lines, (f"{path.name} moved:\n    " + "\n    ".join(lines) + f"\n{HOW}")


def test_every_golden_file_is_a_case():
    wanted = {golden.case_file(*c).name for c in CASES}
    stored = {p.name for p in golden.GOLDEN_DIR.glob("*.json")}
    assert stored == wanted, f"stale {sorted(stored - wanted)}, missing {sorted(wanted - stored)}"


def test_every_shipped_arch_has_goldens_that_ran():
    archs = {p.stem for p in golden.ARCH_DIR.glob("*.yaml")}
    ran = {c[0] for c in CASES
           if "cycles" in json.loads(golden.case_file(*c).read_text())}
    assert ran == archs


def test_changelog_names_the_golden_digest():
    text = golden.CHANGELOG.read_text(encoding="utf-8")
    line = golden.changelog_line(golden.digest())
    assert line in text, (f"the goldens changed but CHANGELOG.md has no line naming them: add "
                          f"one saying why the numbers moved, ending '({line})'")


def test_diff_is_readable_and_tolerates_float_noise():
    old = {"cycles": 100, "energy_joules": 1.0, "energy_breakdown": {"sram": 0.5}}
    new = {"cycles": 110, "energy_joules": 1.0 + 1e-13, "energy_breakdown": {"sram": 0.25}}
    assert golden.diff(old, new) == ["cycles: 100 -> 110 (+10%)",
                                     "energy_breakdown.sram: 0.5 -> 0.25 (-50%)"]
    assert golden.diff({"refused": ["x"]}, {"cycles": 1}) == [
        "refused: ['x'] -> '<absent>'", "cycles: '<absent>' -> 1"]


def test_update_reports_changes_and_the_changelog_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(golden, "GOLDEN_DIR", tmp_path)
    monkeypatch.setattr(golden, "cases", lambda: [("systolic", "llama7b_decode", ())])
    monkeypatch.setattr(golden, "PROJECT_ROOT", tmp_path)
    (tmp_path / "old__case.json").write_text("{}")
    assert golden.update() == 2
    out = capsys.readouterr().out
    assert "systolic__llama7b_decode.json:" in out and "removed" in out
    assert f"goldens {golden.digest(tmp_path)}" in out
    assert golden.update() == 0
