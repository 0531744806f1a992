"""Documentation generated from the declarations: ``--describe``, ``--list``, config reference."""

from __future__ import annotations

from sim.core.config import Field, Section
from sim.families import discover, get_family


def _fmt_default(f: Field) -> str:
    if f.required:
        return "(required)"
    if f.default is None:
        return "null"
    if isinstance(f.default, str):
        return repr(f.default)
    if isinstance(f.default, float):
        return f"{f.default:.0f}" if f.type == "bytes" else f"{f.default:g}"
    return str(f.default)


def field_rows(schema: Section) -> list[tuple[str, str, str, str, str]]:
    """(key, type, default, unit, meaning) for every field of ``schema``."""
    rows = []
    for path, f in schema.walk():
        kind = f.type if f.type != "enum" else "enum: " + "|".join(f.choices)
        meaning = f.desc + (f" [source: {f.source}]" if f.source else "")
        rows.append((path, kind, _fmt_default(f), f.unit_label, meaning))
    return rows


def describe_family(kind: str) -> str:
    """Plain-text table of every config field of a family."""
    fam = get_family(kind, "--describe")
    rows = [("key", "type", "default", "unit", "meaning")] + field_rows(fam.schema)
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [f"kind: {fam.kind} - {fam.description}", ""]
    for r in rows:
        lines.append("  ".join(r[i].ljust(widths[i]) for i in range(4)) + "  " + r[4])
    lines.append("")
    lines.append("Quantities accept units: '24 MiB', '1 GHz', '0.2 pJ', '450 GB/s', '100 ns', "
                 "'1.5 mm2'. Top-level extends: <preset> inherits another config.")
    return "\n".join(lines)


def list_everything() -> str:
    from sim.workloads.loader import available_workloads
    from sim.workloads.model import available_models
    fams = discover()
    lines = ["families:"]
    lines += [f"  {k:<12} {fams[k].description}" for k in sorted(fams)]
    lines.append("models: " + ", ".join(available_models()))
    lines.append("workloads: " + ", ".join(available_workloads()))
    return "\n".join(lines)


def config_reference_markdown() -> str:
    """``docs/config_reference.md``: every family's fields plus the workload fields."""
    from sim.workloads.model import MODEL_SCHEMA, WORKLOAD_SCHEMA
    out = ["# Config reference", "",
           "Generated from the field declarations by "
           "`python -m sim.output.config_reference > docs/config_reference.md`; do not edit by hand. Quantities accept units (see `sim/core/units.py`).", ""]

    def table(schema: Section) -> list[str]:
        rows = ["| key | type | default | unit | meaning |", "|---|---|---|---|---|"]
        for r in field_rows(schema):
            rows.append("| " + " | ".join(x.replace("|", "\\|") for x in r) + " |")
        return rows

    for kind, cls in sorted(discover().items()):
        out += [f"## kind: {kind}", "", cls.description, ""] + table(cls.schema) + [""]
    out += ["## workload (`--set workload.KEY=VALUE`)", ""] + table(WORKLOAD_SCHEMA) + [""]
    out += ["## model files (`workloads/models/*.yaml`)", ""] + table(MODEL_SCHEMA) + [""]
    return "\n".join(out)


if __name__ == "__main__":
    print(config_reference_markdown())
