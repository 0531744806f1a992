"""Golden regressions: the headline numbers of every shipped arch config on its main workloads.

``tests/golden/<arch>__<workload>.json`` holds cycles, energy, area (with their breakdowns),
MACs, DRAM bytes, the simulator version and the input hash of one run. ``tests/test_golden.py``
runs every case again and fails with a readable diff when a number moves. An intended change
is accepted by regenerating the files:

    python -m sim.simulation.golden --update

which prints the diff and the golden digest. ``CHANGELOG.md`` must carry a line naming that
digest (``goldens <digest>``) and saying why the numbers moved; a test enforces it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
from pathlib import Path

from sim.core.paths import PROJECT_ROOT
from sim.simulation.arch import ARCH_DIR

GOLDEN_DIR = PROJECT_ROOT / "tests" / "golden"
CHANGELOG = PROJECT_ROOT / "CHANGELOG.md"
#: floats are compared to this relative tolerance (platform libm / summation order), integers
#: exactly
FLOAT_TOL = 1e-9

#: workloads every arch runs; a family that refuses one (npu_pim PIM modes and prefill) is
#: recorded with its reason instead of numbers
MAIN_WORKLOADS = (("llama7b_decode", ()), ("llama7b_prefill", ()))
#: extra main workloads of particular configs (their papers' headline cases)
EXTRA_WORKLOADS = {
    "neupims": (("gpt3_7b_decode", ("workload.batch=64", "workload.context_dist=sharegpt")),),
    "npu_only": (("gpt3_7b_decode", ("workload.batch=64", "workload.context_dist=sharegpt")),),
    "npu_pim_naive": (("gpt3_7b_decode", ("workload.batch=64",
                                          "workload.context_dist=sharegpt")),),
    "h100": (("traces/llama3_8b_decode.jsonl.gz", ()),),
    "lut_tc": (("bitnet_b158_3b_decode", ()),),
    "wse2": (("llama3_8b_decode", ()),),
    "bitslice": (("llama7b_decode", ("workload.weight_bits=4",)),),
}


def cases() -> list[tuple[str, str, tuple[str, ...]]]:
    """``(arch_name, workload, overrides)`` of every golden, in a fixed order."""
    out = []
    for path in sorted(ARCH_DIR.glob("*.yaml")):
        for workload, over in MAIN_WORKLOADS + EXTRA_WORKLOADS.get(path.stem, ()):
            out.append((path.stem, workload, tuple(over)))
    return out


def case_file(arch: str, workload: str, overrides=()) -> Path:
    """``tests/golden/<arch>__<workload>[__<overrides>].json``."""
    stem = Path(workload).name.split(".")[0]
    if "/" in workload:
        stem = f"trace_{stem}"
    tail = "".join(f"__{o.split('.', 1)[-1].replace('=', '-')}" for o in overrides)
    return GOLDEN_DIR / f"{arch}__{stem}{tail}.json"


def compute(arch: str, workload: str, overrides=()) -> dict:
    """The golden record of one case (a run with the invariant check on)."""
    from sim.simulation.arch import load_arch
    from sim.core.errors import SimError
    from sim.simulation.simulate import load_workload, simulate
    from sim.core.version import __version__
    record = {"arch": f"arch_configs/{arch}.yaml", "workload": workload,
              "overrides": list(overrides), "simulator_version": __version__}
    a = load_arch(ARCH_DIR / f"{arch}.yaml")
    try:
        r = simulate(a, load_workload(workload, a, list(overrides)))
    except SimError as exc:
        record["refused"] = [line.split(": ", 1)[-1] for line in exc.problems]
        return record
    record.update({
        "input_hash": r.input_hash, "cycles": r.cycles, "seconds": r.seconds,
        "tokens_per_second": r.tokens_per_second, "macs": r.macs,
        "energy_joules": r.energy_joules, "area_mm2": r.area_mm2,
        "energy_breakdown": dict(sorted(r.energy_breakdown.items())),
        "area_breakdown": {k: v["mm2"] for k, v in sorted(r.area_breakdown.items())},
        "bytes": {k: sum(o.bytes[k] for o in r.ops) for k in sorted(r.ops[0].bytes)},
        "ops": len(r.ops)})
    return record


def dumps(record: dict) -> str:
    return json.dumps(record, indent=1, sort_keys=False) + "\n"


def diff(old: dict, new: dict, prefix: str = "") -> list[str]:
    """Readable differences: ``key: old -> new (+x.xx%)``; floats within :data:`FLOAT_TOL`
    count as equal."""
    lines = []
    for key in list(dict.fromkeys([*old, *new])):
        path = f"{prefix}{key}"
        a, b = old.get(key, "<absent>"), new.get(key, "<absent>")
        if isinstance(a, dict) and isinstance(b, dict):
            lines += diff(a, b, path + ".")
        elif not _same(a, b):
            change = ""
            if _number(a) and _number(b) and a:
                change = f" ({100 * (b - a) / abs(a):+.4g}%)"
            lines.append(f"{path}: {a!r} -> {b!r}{change}")
    return lines


def _number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _same(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        if not (_number(a) and _number(b)):
            return False
        return math.isclose(a, b, rel_tol=FLOAT_TOL, abs_tol=1e-300)
    return a == b


def digest(directory: Path | None = None) -> str:
    """SHA-256 (first 12 hex digits) of every golden file's name and bytes, in name order."""
    directory = directory or GOLDEN_DIR
    h = hashlib.sha256()
    for p in sorted(directory.glob("*.json")):
        h.update(p.name.encode() + b"\0" + p.read_bytes())
    return h.hexdigest()[:12]


def changelog_line(d: str) -> str:
    return f"goldens {d}"


def update(stream=None) -> int:
    """Rewrite every golden; print what changed and the CHANGELOG line to add. Returns the
    number of files written or removed."""
    stream = stream or sys.stdout
    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    wanted = {}
    changed = 0
    for arch, workload, over in cases():
        path = case_file(arch, workload, over)
        wanted[path.name] = True
        new = compute(arch, workload, over)
        old = json.loads(path.read_text()) if path.exists() else {}
        lines = diff(old, new)
        if lines or not path.exists():
            changed += 1
            print(f"{path.relative_to(PROJECT_ROOT)}:", file=stream)
            for line in lines or ["new golden"]:
                print(f"    {line}", file=stream)
            path.write_text(dumps(new), encoding="utf-8")
    for stale in sorted(GOLDEN_DIR.glob("*.json")):
        if stale.name not in wanted:
            changed += 1
            print(f"{stale.relative_to(PROJECT_ROOT)}: removed (no longer a case)", file=stream)
            stale.unlink()
    d = digest()
    if changed:
        print(f"\n{changed} golden(s) changed. Add a line to CHANGELOG.md that says why and "
              f"names the new digest, e.g.\n  - <what moved and why> ({changelog_line(d)})",
              file=stream)
    else:
        print(f"goldens unchanged ({changelog_line(d)})", file=stream)
    return changed


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m sim.simulation.golden",
                                description=__doc__.split("\n")[0])
    p.add_argument("--update", action="store_true", help="rewrite tests/golden/*.json")
    args = p.parse_args(argv)
    if not args.update:
        print(f"{len(cases())} golden cases; digest {digest()}; run with --update to rewrite")
        return 0
    update()
    return 0


if __name__ == "__main__":
    sys.exit(main())
