"""Units, schema validation, extends and overrides."""

import pytest

from sim import load_arch
from sim.core.config import Field, Section, validate
from sim.core.errors import ConfigError
from sim.core.units import UnitError, parse_quantity

from conftest import SYSTOLIC


@pytest.mark.parametrize("text,dim,value", [
    ("24 MiB", "bytes", 24 * 2**20), ("64 kB", "bytes", 64e3), ("1 GHz", "frequency", 1e9),
    ("940MHz", "frequency", 940e6), ("0.2 pJ", "energy", 0.2), ("1 nJ", "energy", 1000.0),
    ("450 GB/s", "bandwidth", 450e9), ("100 ns", "time", 100.0), ("1 us", "time", 1000.0),
    ("282 um2", "area", 282e-6), ("1.5 mm^2", "area", 1.5), (7, "bytes", 7.0),
])
def test_quantities_convert_to_canonical_units(text, dim, value):
    assert parse_quantity(text, dim) == pytest.approx(value)


@pytest.mark.parametrize("text,dim", [("3 parsecs", "bytes"), ("fast", "frequency"),
                                      ("1 GHz", "bytes"), (True, "energy"), ("nan pJ", "energy")])
def test_bad_quantities_are_refused(text, dim):
    with pytest.raises(UnitError):
        parse_quantity(text, dim)


SCHEMA = Section("t", {"a": Section("a", {"rows": Field("int", 4, "rows", positive=True),
                                         "mode": Field("enum", "x", "m", choices=("x", "y"))}),
                       "size": Field("bytes", 1024, "size", positive=True)})


def test_validate_fills_defaults_and_collects_every_problem():
    data, problems = validate({"a": {"rows": 8}}, SCHEMA, "f.yaml")
    assert data == {"a": {"rows": 8, "mode": "x"}, "size": 1024}
    assert problems == []
    _, problems = validate({"a": {"rowz": 1, "mode": "z"}, "size": "-1 KiB", "extra": 1},
                           SCHEMA, "f.yaml")
    assert len(problems) == 4
    text = "\n".join(problems)
    assert "f.yaml: a.rowz: unknown key (did you mean 'rows'?)" in text
    assert "f.yaml: a.mode: 'z' is not allowed" in text
    assert "f.yaml: size: must be > 0" in text
    assert "f.yaml: extra: unknown key" in text


def test_field_needs_a_description():
    with pytest.raises(TypeError):
        Field("int", 1, "")


def test_extends_inherits_and_overrides(tmp_path):
    child = tmp_path / "child.yaml"
    child.write_text(f"extends: {SYSTOLIC}\nname: child\narray: {{rows: 64}}\n")
    arch = load_arch(child)
    assert arch.cfg.array.rows == 64
    assert arch.cfg.array.cols == 128          # inherited
    assert arch.cfg.tech.frequency == 940e6    # inherited, unit-converted
    assert arch.name == "child"


def test_set_overrides_apply_before_validation():
    arch = load_arch(SYSTOLIC, ["array.rows=32", "arch.sram.ifmap=2 MiB", "dram.model=ideal", "dram.bandwidth=1 TB/s"])
    assert arch.cfg.array.rows == 32
    assert arch.cfg.sram.ifmap == 2 * 2**20
    assert arch.cfg.dram.bandwidth == 1e12
    with pytest.raises(ConfigError, match="array.rows: must be > 0"):
        load_arch(SYSTOLIC, ["array.rows=0"])


def test_config_is_read_only():
    arch = load_arch(SYSTOLIC)
    with pytest.raises(AttributeError):
        arch.cfg.array.rows = 3
