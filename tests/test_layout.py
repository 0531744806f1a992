"""The folder tree is the architecture: every package of ``sim/`` sits in one layer, imports run
one way (down), no module imports itself back through others, and a family is one folder.

docs/architecture.md draws the same layers; a new package must be placed in ``LAYERS`` first.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

SIM = ROOT / "sim"

#: (module prefix, rank), most specific first: a module may import only modules of a lower
#: rank, or of its own layer (its own package). Equal ranks of different layers may not import
#: each other.
LAYERS = [
    ("sim.core.errors", 0), ("sim.core.units", 0), ("sim.core.version", 0), ("sim.core.paths", 0),
    ("sim.core", 1),
    ("sim.memory", 2),
    ("sim.workloads", 2),
    ("sim.families.*.validation", 5),  # a family's check against its paper runs whole simulations
    ("sim.families", 3),
    ("sim.simulation", 4),
    ("sim.output", 6),
    ("sim.systems", 7),
    ("sim.serving", 8),
    ("sim.sweeps", 9),
    ("sim.cli", 10),
    ("sim", 11),  # the public API (sim/__init__.py): nothing inside sim/ imports it
]
FAMILIES = {"systolic", "bitslice", "lut_tc", "npu_pim", "wafer_mesh", "gpu"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(SIM.rglob("*.py"))}


def layer(mod: str) -> tuple[str, int]:
    """(layer name, rank) of a module; the layer of a family module is its family's folder."""
    for prefix, rank in LAYERS:
        if "*" in prefix:
            head, tail = prefix.split(".*.")
            parts = mod.split(".")
            if mod.startswith(head + ".") and len(parts) >= 4 and parts[3] == tail:
                return prefix, rank
        elif mod == prefix or mod.startswith(prefix + "."):
            if prefix == "sim.families" and mod.count(".") >= 2:
                return ".".join(mod.split(".")[:3]), rank
            return prefix, rank
    raise AssertionError(f"{mod} is in no layer of tests/test_layout.py LAYERS")


def imports(mod: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The sim modules ``mod`` imports anywhere in its body (function-level imports too)."""
    out = set()
    package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] == "sim"}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            if base.split(".")[0] != "sim":
                continue
            for a in node.names:
                sub = f"{base}.{a.name}"
                out.add(sub if sub in known else base)
    return out


def import_graph() -> dict[str, set[str]]:
    known = modules()
    return {m: imports(m, p, known) - {m} for m, p in known.items()}


def test_every_import_points_down_a_layer():
    upward = []
    for mod, deps in import_graph().items():
        name, rank = layer(mod)
        for dep in deps:
            dep_name, dep_rank = layer(dep)
            if dep_name != name and (dep_rank > rank or (dep_rank == rank
                                                          and not _families(name, dep_name))):
                upward.append(f"{mod} ({name}, rank {rank}) imports {dep} "
                              f"({dep_name}, rank {dep_rank})")
    assert not upward, "imports that do not point down:\n" + "\n".join(sorted(upward))


def _families(a: str, b: str) -> bool:
    """Two family folders may share code (npu_pim's NPU is systolic arrays); the cycle test keeps
    those uses one way."""
    return a.startswith("sim.families.") and b.startswith("sim.families.")


def test_no_import_cycle():
    graph = import_graph()
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for d in sorted(graph.get(m, ())):
            if state.get(d) == 1:
                cycles.append(stack[stack.index(d):] + [d])
            elif d not in state:
                visit(d)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_the_checker_sees_an_upward_import_and_a_cycle(monkeypatch):
    """The two tests above can fail: a core module importing a family, and two modules importing
    each other, are both reported."""
    graph = import_graph()
    graph["sim.core.ops"] = graph["sim.core.ops"] | {"sim.families.gpu.family"}
    monkeypatch.setattr(sys.modules[__name__], "import_graph", lambda: graph)
    with pytest.raises(AssertionError, match="sim.core.ops .* imports sim.families.gpu.family"):
        test_every_import_points_down_a_layer()
    with pytest.raises(AssertionError, match="import cycles"):
        test_no_import_cycle()


def test_top_level_is_the_layer_packages():
    """``sim/`` holds the public API and one package per layer, nothing else."""
    entries = {p.name for p in SIM.iterdir() if p.name != "__pycache__"}
    layers = {prefix.split(".")[1] for prefix, _ in LAYERS if prefix.count(".") >= 1}
    assert entries == {"__init__.py"} | layers
    for name in layers:
        assert (SIM / name / "__init__.py").is_file(), f"sim/{name} is not a package"


def test_each_family_is_one_folder():
    """Every registered kind is a folder of sim/families/, and no module outside sim/families/
    is named after a family or holds a kernel or a reference of one."""
    from sim.families import discover
    kinds = set(discover())
    assert kinds == FAMILIES
    for kind in kinds:
        folder = SIM / "families" / kind
        assert (folder / "family.py").is_file() and (folder / "__init__.py").is_file()
        assert discover()[kind].__module__ == f"sim.families.{kind}.family"
    outside = [m for m in modules() if not m.startswith("sim.families")
               and any(k in m.split(".")[-1] for k in kinds | {"pim", "mesh", "lut", "bitslice"})]
    assert not outside, outside


def test_every_kernel_module_has_a_reference_beside_it():
    """A module that compiles Numba kernels (``sim.core.jit.kernel``) has its per-cycle
    reference in the same folder: ``kernel.py`` / ``reference.py`` or ``X_kernel.py`` /
    ``X_reference.py``."""
    graph = import_graph()
    kernels = [m for m, deps in graph.items() if "sim.core.jit" in deps]
    assert len(kernels) >= len(FAMILIES) + 2  # one per family, the pipeline and the DRAM
    for m in kernels:
        path = modules()[m]
        ref = path.with_name(path.name.replace("kernel", "reference"))
        assert path.stem.endswith("kernel") and ref.is_file(), f"{m}: no {ref.name} beside it"


# ---- a new family is one folder plus one YAML ----------------------------------------------------

def _doc_blocks() -> dict[str, str]:
    """The fenced blocks of docs/adding_a_family.md whose first line names a file (``# path``)."""
    text = (ROOT / "docs" / "adding_a_family.md").read_text()
    blocks = {}
    for chunk in text.split("```")[1::2]:
        lines = chunk.split("\n", 1)[1] if "\n" in chunk else ""
        first = lines.split("\n", 1)[0]
        if first.startswith("# ") and first[2:].strip().endswith((".py", ".yaml")):
            blocks[first[2:].strip()] = lines
    return blocks


@pytest.mark.slow
def test_a_toy_family_is_one_folder_and_one_yaml(tmp_path):
    """The example of docs/adding_a_family.md, written into a copy of the package as one new
    folder and one arch YAML, is discovered, listed, simulated and checked by the run invariants
    with no other file touched."""
    blocks = _doc_blocks()
    assert set(blocks) == {"sim/families/toy/__init__.py", "sim/families/toy/family.py",
                           "toy.yaml"}
    shutil.copytree(SIM, tmp_path / "sim", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("workloads", "arch_configs"):
        os.symlink(ROOT / name, tmp_path / name)
    before = {p.relative_to(tmp_path): p.read_bytes() for p in (tmp_path / "sim").rglob("*")
              if p.is_file()}
    for path, text in blocks.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    after = {p.relative_to(tmp_path): p.read_bytes() for p in (tmp_path / "sim").rglob("*")
             if p.is_file()}
    assert {str(p) for p in set(after) - set(before)} == {
        "sim/families/toy/__init__.py", "sim/families/toy/family.py"}
    assert all(after[p] == before[p] for p in before)
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    run = subprocess.run(
        [sys.executable, "-c", "import sys; from sim.cli.main import main; sys.exit(main())",
         "--arch", "toy.yaml", "--workload", "llama7b_decode", "--json", "out.json"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "toy" in run.stdout
    listed = subprocess.run([sys.executable, "-m", "sim.cli", "--list"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert "toy" in listed.stdout and listed.returncode == 0
    report = json.loads((tmp_path / "out.json").read_text())
    assert report["kind"] == "toy" and report["arch_name"] == "toy-4k" and report["cycles"] > 0
