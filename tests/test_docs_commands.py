"""Every command shown in README.md and docs/*.md runs as written.

The commands are read from the fenced code blocks of the pages (``\\`` continuations joined) and
from inline code spans that run a script (``python ...``). Each runs in a scratch directory that
holds copies of the folders the commands name (so a command that writes next to its inputs, such
as ``docs/gpu/validate.py --plot docs/gpu/validation.png``, writes into the copy), with the
project's ``simulate`` first on PATH, and must exit 0. A few commands cannot run here; each is
listed in :data:`NOT_RUN` with the reason, and the test fails if that list names a command that
no page shows any more. Placeholders in templates (``SPEC``) are filled with a small spec.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")),
         *sorted((ROOT / "traces").glob("*.md")), *sorted((ROOT / "arch_configs").glob("*.md"))]
COMMAND = re.compile(r"^(simulate|python)\s")
#: copied into the scratch directory (the rest of the project is reached through the install)
COPIED = ("arch_configs", "docs", "traces", "benchmarks", "workloads")
#: linked into it (read by scripts that locate data beside their own file)
LINKED = ("sim",)

#: commands that are shown but not run here, with why (prefix match on the command)
NOT_RUN = {
    "python3 -m venv": "the set-up lines: .ci/run runs them on a clean checkout",
    "python -m pytest": "the test suite itself",
    "python docs/gpu/measure_gpu.py": "needs a CUDA GPU (its output is sim/families/gpu/data/measured/)",
    "python docs/gpu/measure_energy.py": "needs a CUDA GPU and NVML (its output is "
                                         "sim/families/gpu/data/measured/h200_energy.json)",
    "python -m sim.simulation.golden --update": "rewrites the committed goldens; tests/test_golden.py "
                                      "runs the same comparison without --update",
    "simulate sweep SPEC --scheduler tcp://": "needs a running Dask cluster at that address",
    "pip install": "an install line: .ci/run installs the extras",
    "python docs/serving/h200_compare.py --write-traces": "rewrites docs/serving/traces/ (bit for "
                                                          "bit; tests/test_serving_h200.py reads "
                                                          "them)",
    "python docs/notebooks/build.py": "re-executes every notebook at full settings (minutes); "
                                      "tests/test_notebooks.py executes each stored notebook "
                                      "at small settings and checks its code is build.py's",
    "python benchmarks/serving_bench.py": "minutes per family (10,000 requests each, or exact "
                                          "step simulations); its figures are in docs/serving.md",
}
#: commands that take more than a few seconds: marked slow (they still run in CI)
SLOW = ("repro.py", "simulate sweep docs/sweeps", "bench", "notebooks/build.py",
        "trace-extract", "calibrate.py", "--scheduler local")
#: a template's placeholders and what they stand for here
PLACEHOLDERS = {"SPEC": "small_spec.yaml"}
SMALL_SPEC = ("name: small\narch: systolic\nworkload: llama3_8b_decode\n"
              "grid:\n  array.rows: [64, 128]\n")


def _code_lines(text: str) -> list[str]:
    """Lines of the fenced code blocks (continuations joined) and runnable inline spans."""
    lines = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, re.S):
        lines += re.sub(r"\\\n\s*", " ", block).splitlines()
    lines += re.findall(r"`(python [^`]+\.py[^`]*)`", text)
    lines += re.findall(r"`(python -m [^`]+)`", text)
    return lines


def _strip_comment(line: str) -> str:
    """The command without a trailing ``# comment`` (outside quotes)."""
    out, quote = [], None
    for i, ch in enumerate(line):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            break
        out.append(ch)
    return "".join(out).strip()


def documented_commands() -> list[tuple[str, str]]:
    """``(page, command)`` for every command the pages show, in page order, each once."""
    seen, out = set(), []
    for page in PAGES:
        for line in _code_lines(page.read_text(encoding="utf-8")):
            cmd = _strip_comment(line.strip())
            if (COMMAND.match(cmd) or cmd.startswith(("python3 -m venv", "pip install"))) \
                    and cmd not in seen:
                seen.add(cmd)
                out.append((page.relative_to(ROOT).as_posix(), cmd))
    return out


def _skip_reason(cmd: str) -> str | None:
    return next((why for prefix, why in NOT_RUN.items() if cmd.startswith(prefix)), None)


def _params():
    out = []
    for page, cmd in documented_commands():
        if _skip_reason(cmd):
            continue
        marks = [pytest.mark.slow] if any(s in cmd for s in SLOW) else []
        out.append(pytest.param(cmd, id=f"{page}: {cmd[:70]}", marks=marks))
    return out


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("docs_commands")
    for name in COPIED:
        shutil.copytree(ROOT / name, work / name,
                        ignore=shutil.ignore_patterns("results", "__pycache__", "*.nbi", "*.nbc"))
    for name in LINKED:  # read only: scripts find their data beside the package
        (work / name).symlink_to(ROOT / name, target_is_directory=True)
    (work / "small_spec.yaml").write_text(SMALL_SPEC)
    return work


def test_the_pages_show_commands():
    commands = [c for _, c in documented_commands()]
    assert len(commands) >= 30
    assert any(c.startswith("simulate --arch arch_configs/lut_tc.yaml") for c in commands)


def test_every_not_run_entry_is_still_shown():
    commands = [c for _, c in documented_commands()]
    for prefix in NOT_RUN:
        assert any(c.startswith(prefix) for c in commands), f"stale NOT_RUN entry: {prefix}"


@pytest.mark.parametrize("command", _params())
def test_documented_command_runs(command, scratch):
    for placeholder, value in PLACEHOLDERS.items():
        command = re.sub(rf"\b{placeholder}\b", value, command)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}"
                                 f"{os.environ.get('PATH', '')}",
           "MPLBACKEND": "Agg", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run(command, shell=True, cwd=scratch, env=env, capture_output=True,
                          text=True, timeout=900)
    tail = (proc.stdout[-1500:] + "\n" + proc.stderr[-2500:]).strip()
    assert proc.returncode == 0, f"`{command}` exited {proc.returncode}:\n{tail}"
    assert "Traceback" not in proc.stderr, tail
