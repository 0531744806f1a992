"""The fuzz harness of tests/test_fuzz.py: junk values per field type, mutations of shipped arch
configs and workloads, and the one property every case must have.

A case ends in exactly one of: a ``ConfigError`` / ``WorkloadError`` whose every line names the
file and a key (``FILE: key.path: reason``, or a whole-file problem such as invalid YAML), or a
report that passed the invariant check (no NaN, conservation, bounds). Anything else — another
exception, a hang past :data:`CASE_SECONDS`, a message without file or key — fails the test.
"""

from __future__ import annotations

import collections
import math
import os
import signal
from contextlib import contextmanager
from pathlib import Path

import yaml

from sim import load_arch, simulate
from sim.core.config.loader import resolve_extends
from sim.core.errors import ConfigError, WorkloadError
from sim.families import discover
from sim.simulation.simulate import load_workload

ROOT = Path(__file__).resolve().parent.parent
ARCH_DIR = ROOT / "arch_configs"
ARCH_FILES = sorted(p.name for p in ARCH_DIR.glob("*.yaml"))
#: shipped arch files by family
FILES_BY_KIND: dict[str, list[str]] = {}
for _name in ARCH_FILES:
    FILES_BY_KIND.setdefault(yaml.safe_load((ARCH_DIR / _name).read_text()).get("kind")
                             or "", []).append(_name)
#: a case that runs longer than this is a hang (ten times longer with the JIT off, where the
#: kernels run as Python: the JIT-off coverage run)
CASE_SECONDS = 300 if os.environ.get("NUMBA_DISABLE_JIT") == "1" else 30
#: problems that concern a whole file and so name no key
WHOLE_FILE = ("invalid YAML", "expected a mapping", "cannot read", "file not found", "cannot open",
              "larger than any", "is a directory", "not a regular file", "not UTF-8")
#: small workloads the mutated archs run (seconds each at most); MHA so npu_pim's PIM takes them
SMALL_WORKLOADS = (("gpt2_decode", ("workload.context_len=48",)),
                   ("gpt2_prefill", ("workload.prompt_len=24",)),
                   ("llama7b_decode", ("workload.context_len=32", "workload.batch=2")))

#: outcome counts of this process, by test and outcome (printed by the last fuzz test)
OUTCOMES: collections.Counter = collections.Counter()


class Hang(TimeoutError):
    """A case (or a test) ran past its time limit."""


@contextmanager
def time_limit(seconds: int = CASE_SECONDS, what: str = "case"):
    """Raise :class:`Hang` in the main thread after ``seconds`` (SIGALRM)."""
    def fire(signum, frame):
        raise Hang(f"{what} ran longer than {seconds} s")
    old = signal.signal(signal.SIGALRM, fire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def raw_arch(name: str) -> dict:
    """A shipped arch config as the loader sees it before validation (``extends:`` merged)."""
    path = ARCH_DIR / name
    data = yaml.safe_load(path.read_text())
    return resolve_extends(data, path, [ARCH_DIR, ARCH_DIR / "presets"])


def schema_fields(kind: str) -> list[tuple[str, object]]:
    """``(dotted path, Field)`` of every leaf of a family's schema."""
    return list(discover()[kind].schema.walk())


def junk_values(field) -> list:
    """Wrong or extreme values for a field of this type (some valid, most not)."""
    common = [None, True, "", "ünïcödé ☃", [1, 2], {"deep": {"er": [{"x": None}]}},
              float("nan"), float("inf"), -float("inf"), "NaN", 1e308, -1e308]
    t = getattr(field, "type", "int")
    if t == "int":
        return common + [0, -1, 1, 3, 7, 100003, 2**31, 2**62, 2**80, 2.5, "12", "four"]
    if t == "float":
        return common + [0.0, -1.0, 1e-300, 3.3, 1e12, 2**80, "0.5"]
    if t == "bool":
        return common + [0, 1, "yes", "false"]
    if t == "enum":
        return common + [c.upper() for c in field.choices] + ["none", "auto", "os ", 3]
    if t == "str":
        return common + ["x" * 500, "../../etc/passwd", "\x00\x01", 17]
    # quantities: bytes, frequency, bandwidth, energy, time, area, power
    return common + [0, -5, 1, 3, 1e30, "0 MiB", "-1 GiB", "7 KiB", "3 parsecs", "1e40 B",
                     "nan GHz", "1 GHz", "2.5 GB/s", "10 pJ", "5 ns", "1 mm2", "100 W",
                     "1 1 MiB", "MiB", "1e-30 GHz", "2**10 B"]


def valid_values(field) -> list:
    """Values the schema accepts, pushed to its edges: bounds, odd (non-power-of-two) sizes,
    the default scaled up and down, every enum choice."""
    t = field.type
    if t == "enum":
        return list(field.choices)
    if t == "bool":
        return [True, False]
    if t == "str":
        return [field.default] if field.default else []
    d = field.default if isinstance(field.default, (int, float)) and field.default else None
    lo = field.minimum if field.minimum is not None else (1 if field.positive else 0)
    out = [lo, lo + 1, 3, 7, 100]
    if d is not None:
        out += [d * f for f in (0.25, 0.5, 1.5, 3, 16)]
    if field.maximum is not None:
        out += [field.maximum, field.maximum - 1]
    if t == "int":
        out = [int(v) for v in out]
    out = [v for v in out if (not field.positive or v > 0)
           and (field.minimum is None or v >= field.minimum)
           and (field.maximum is None or v <= field.maximum)]
    return out


def set_path(data: dict, dotted: str, value) -> dict:
    """``data`` with ``dotted`` set to ``value`` (intermediate sections are created or, when a
    value sits in the way, replaced)."""
    node = data
    parts = dotted.split(".")
    for p in parts[:-1]:
        if not isinstance(node.get(p), dict):
            node[p] = {}
        node = node[p]
    node[parts[-1]] = value
    return data


def delete_path(data: dict, dotted: str) -> dict:
    node = data
    parts = dotted.split(".")
    for p in parts[:-1]:
        node = node.get(p)
        if not isinstance(node, dict):
            return data
    node.pop(parts[-1], None)
    return data


def dump(data) -> str:
    """YAML text of a mutated config (unicode kept, NaN/inf as YAML's .nan/.inf)."""
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def check_problems(exc, labels: tuple[str, ...]) -> None:
    """Each problem line names one of ``labels`` (a file, or ``workload NAME``) and a key."""
    assert exc.problems, f"{type(exc).__name__} with no message"
    for line in exc.problems:
        assert "\n" not in line and "Traceback" not in line, line
        label = next((lab for lab in labels if line.startswith(f"{lab}: ") or
                      line.startswith(f"{lab}:line")), None)
        assert label is not None, f"problem names none of {labels}: {line!r}"
        rest = line[len(label) + 1:].lstrip()
        if any(w in rest for w in WHOLE_FILE):
            continue
        key, sep, reason = rest.partition(": ")
        assert sep and key and reason, f"problem names no key: {line!r}"


def run_case(arch_text: str | None, tmp: Path, workload=SMALL_WORKLOADS[0],
             workload_text: str | None = None, arch_name: str = "systolic.yaml",
             extra_labels: tuple[str, ...] = ()) -> str:
    """Run one case; return its outcome (``config_error``, ``workload_error`` or ``report``)
    or fail an assertion. ``arch_text`` None uses the shipped ``arch_name`` unchanged;
    ``workload_text`` is a workload YAML written next to it."""
    if os.environ.get("ACCELSIM_FUZZ_LOG"):  # the last case survives a hard hang
        Path(os.environ["ACCELSIM_FUZZ_LOG"]).write_text(
            f"{arch_name}\n{workload}\n{arch_text}\n---\n{workload_text}\n", encoding="utf-8")
    arch_path = tmp / "fuzz_arch.yaml" if arch_text is not None else ARCH_DIR / arch_name
    if arch_text is not None:
        arch_path.write_text(arch_text, encoding="utf-8")
    spec, over = workload
    labels = (str(arch_path),) + tuple(extra_labels)
    if workload_text is not None:
        wpath = tmp / "fuzz_workload.yaml"
        wpath.write_text(workload_text, encoding="utf-8")
        spec, over = str(wpath), ()
        labels += (str(wpath),)
    else:
        labels += (f"workload {spec}", "--workload")
    with time_limit():
        try:
            arch = load_arch(str(arch_path))
        except ConfigError as exc:
            check_problems(exc, labels)
            return "config_error"
        try:
            report = simulate(arch, load_workload(spec, arch, list(over)))
        except (ConfigError, WorkloadError) as exc:
            check_problems(exc, labels)
            return "workload_error" if isinstance(exc, WorkloadError) else "config_error"
    assert report.cycles > 0 and math.isfinite(report.energy_joules)
    return "report"
