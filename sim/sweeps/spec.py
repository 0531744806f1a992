"""Sweep specs: axes of dotted-key overrides -> the list of design points.

A spec (YAML file or dict) names a base ``arch`` and ``workload`` and the axes to vary::

    name: systolic_dse
    arch: arch_configs/systolic.yaml
    workload: llama7b_decode
    set:                                  # fixed overrides for every point
      workload.context_len: 1024
    grid:                                 # cartesian product of these axes
      array.rows: {from: 32, to: 512, factor: 2}     # 32, 64, ..., 512 (inclusive)
      array.dataflow: [os, ws, is]
    zip:                                  # each group: its keys vary together (equal lengths)
      - {array.rows: [64, 128], array.cols: [256, 128]}
    random:                               # `samples` draws of these axes, seeded
      samples: 20
      seed: 7
      axes:
        sram.ifmap: {choice: [4 MiB, 16 MiB]}
        tech.frequency: {uniform: [500e6, 1.5e9]}
    constraints:                          # points where one is false are dropped, not run
      - array.rows * array.cols <= 65536
      - area_mm2 <= 60
    pareto: {tokens_per_second: max, area_mm2: min}

Keys starting with ``workload.`` override the workload, the rest the arch (``arch.`` may prefix
them too). A ``serve:`` section (a serving spec, a path or a mapping; ``{}`` takes the defaults)
makes every point a serving run (``simulate serve``): ``workload`` then names the model, and keys
under ``requests.``, ``scheduler.`` and ``slo.`` (and ``step_cost``) are serving axes::

    serve: {requests: {num_requests: 500}}
    grid:
      requests.rate: [2, 4, 8, 16]

``arch`` and ``workload`` can themselves be axes (a list of configs / workloads). The points are the product of every grid axis, every zip group and the random draws, in spec
order; the same spec always yields the same points.
"""

from __future__ import annotations

import ast
import itertools
import math
import operator
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sim.core.config.safe_input import exists
from sim.core.config import load_yaml_file
from sim.core.config.schema import did_you_mean
from sim.core.errors import SweepError, where

TOP_KEYS = ("name", "description", "arch", "workload", "set", "grid", "zip", "random",
            "constraints", "pareto", "serve")
#: keys of a serving spec (the ``serve:`` section's axes)
SERVING_PREFIXES = ("requests.", "scheduler.", "slo.", "kv_link.")
#: the spec's keys that pick the config and workload files rather than override a value
SOURCE_AXES = ("arch", "workload")
RANDOM_KINDS = ("choice", "uniform", "loguniform", "randint", "pow2")
MAX_POINTS = 1_000_000


@dataclass(frozen=True)
class Point:
    """One design point: its index in the spec, the varied values, and what to load."""

    index: int
    params: dict            # axis key -> value, in axis order
    arch: str               # arch config path or bundled name
    workload: str           # workload name or path
    arch_overrides: tuple   # ((dotted key, value), ...) for the arch
    workload_overrides: tuple
    serving_overrides: tuple = ()  # for a serving sweep: requests.*, scheduler.*, slo.*


@dataclass(frozen=True)
class Axis:
    """A group of keys that vary together; ``rows`` holds one value tuple per step."""

    keys: tuple[str, ...]
    rows: tuple[tuple, ...]


@dataclass
class SweepSpec:
    """A parsed sweep spec. ``points()`` expands it; constraints are applied by the runner."""

    name: str
    file: str | None
    arch: str
    workload: str
    fixed: dict
    axes: list[Axis]
    constraints: list["Constraint"] = field(default_factory=list)
    pareto: dict = field(default_factory=dict)
    base_dir: Path = Path(".")
    origins: dict = field(default_factory=dict)  # key -> where the spec sets it (grid.array.rows)
    serve: dict | None = None  # the serving spec of a serving sweep (None: simulate steps)

    @property
    def axis_keys(self) -> list[str]:
        return [k for axis in self.axes for k in axis.keys]

    def size(self) -> int:
        """Points before constraints."""
        return math.prod(len(a.rows) for a in self.axes)

    def points(self) -> list[Point]:
        """Every point, in spec order (the last axis varies fastest)."""
        out = []
        for index, combo in enumerate(itertools.product(*(a.rows for a in self.axes))):
            params = {k: v for axis, row in zip(self.axes, combo) for k, v in zip(axis.keys, row)}
            values = {**self.fixed, **params}
            arch_over, work_over, serve_over = [], [], []
            for key, value in values.items():
                if key in SOURCE_AXES:
                    continue
                if self.serve is not None and is_serving_key(key):
                    serve_over.append((key, value))
                elif key.startswith("workload."):
                    work_over.append((key[len("workload."):], value))
                else:
                    arch_over.append((key[len("arch."):] if key.startswith("arch.") else key, value))
            out.append(Point(index, params, self.resolve_path(values.get("arch", self.arch)),
                             str(values.get("workload", self.workload)),
                             tuple(arch_over), tuple(work_over), tuple(serve_over)))
        return out

    def resolve_path(self, arch: str) -> str:
        """An arch path as given if it exists, else relative to the spec file, else as given
        (a bundled config's name)."""
        if exists(arch) or Path(arch).is_absolute():
            return str(arch)
        beside = self.base_dir / arch
        return str(beside) if exists(beside) else str(arch)


# ---- loading ------------------------------------------------------------------------------
def load_sweep(source: str | Path | dict | SweepSpec, overrides=()) -> SweepSpec:
    """Parse a sweep spec from a YAML path or a mapping. ``overrides`` (``"key=value"`` strings)
    join the spec's ``set:``. Raises :class:`SweepError` naming the file and key."""
    if isinstance(source, SweepSpec):
        return source
    if isinstance(source, dict):
        raw, file, base = source, None, Path(".")
    else:
        file, base = str(source), Path(source).parent
        raw = load_yaml_file(source, error=SweepError)
    label = file or "<sweep>"
    if not isinstance(raw, dict):
        raise SweepError(f"{label}: expected a mapping with arch:, workload: and grid: (or zip:, "
                         f"random:), got {type(raw).__name__}")
    problems = [f"{where(label, str(k))}: unknown key{did_you_mean(k, TOP_KEYS)}; allowed: "
                f"{', '.join(TOP_KEYS)}" for k in raw if k not in TOP_KEYS]
    for key in ("arch", "workload"):
        if key not in raw and not _axis_defines(raw, key):
            problems.append(f"{where(label, key)}: missing; name the base "
                            f"{'arch config (a path or bundled name)' if key == 'arch' else 'workload (e.g. llama7b_decode)'}")
    if problems:
        raise SweepError(problems)
    fixed = _mapping(raw.get("set"), label, "set")
    from sim.core.config import parse_override
    given: set = set()
    for text in overrides:
        key, value = parse_override(text)
        if key in given:
            raise SweepError(f"--set {key}: given twice; allowed: each key once")
        given.add(key)
        fixed[key] = value
    axes = [Axis((key,), tuple((v,) for v in _grid_values(values, label, f"grid.{key}")))
            for key, values in _mapping(raw.get("grid"), label, "grid").items()]
    origins = {a.keys[0]: f"grid.{a.keys[0]}" for a in axes}
    for i, axis in enumerate(_zip_axes(raw.get("zip"), label)):
        axes.append(axis)
        origins.update({k: f"zip[{i}].{k}" for k in axis.keys if k not in origins})
    if raw.get("random") is not None:
        axes.append(_random_axis(raw["random"], label))
        origins.update({k: f"random.axes.{k}" for k in axes[-1].keys if k not in origins})
    origins.update({k: f"set.{k}" for k in fixed if k not in origins})
    keys = [k for a in axes for k in a.keys]
    for key in {k for k in keys if keys.count(k) > 1}:
        raise SweepError(f"{label}: axis {key} appears more than once (grid, zip or random)")
    for key in sorted(set(keys) & set(fixed)):
        raise SweepError(f"{where(label, origins[key])}: {key} is also fixed by "
                         f"{'--set' if key in given else 'set:'}; an axis and a fixed value "
                         f"cannot both set it")
    for key in keys + list(fixed):
        _check_key_form(key, label)
    name = _name(raw.get("name"), label) or (Path(file).stem if file else "sweep")
    spec = SweepSpec(name=name, file=file,
                     arch=str(raw.get("arch", "")), workload=str(raw.get("workload", "")),
                     fixed=fixed, axes=axes, base_dir=base, origins=origins,
                     constraints=[Constraint.parse(text, label, i) for i, text in
                                  enumerate(_list(raw.get("constraints"), label, "constraints"))],
                     pareto=_pareto(raw.get("pareto"), label),
                     serve=_serve_section(raw.get("serve"), label, base))
    check_pareto(spec)
    if spec.size() > MAX_POINTS:
        raise SweepError(f"{label}: {spec.size():,} points; more than {MAX_POINTS:,} (split it)")
    if spec.size() == 0:
        raise SweepError(f"{label}: no points (an axis is empty)")
    return spec


def is_serving_key(key: str) -> bool:
    """Whether ``key`` sets the serving spec (in a sweep with a ``serve:`` section)."""
    return key.startswith(SERVING_PREFIXES) or key == "step_cost"


def _serve_section(value, label: str, base: Path) -> dict | None:
    """The ``serve:`` section as a mapping (a path is read; None: not a serving sweep)."""
    if value is None:
        return None
    if isinstance(value, str):
        path = Path(value) if Path(value).is_absolute() or exists(value) else base / value
        value = load_yaml_file(str(path), error=SweepError) or {}
    if not isinstance(value, dict):
        raise SweepError(f"{where(label, 'serve')}: expected a serving spec (a mapping with "
                         f"requests:, scheduler:, slo: or a YAML path), got {value!r}")
    return value


def _name(value, label: str) -> str | None:
    """The spec's ``name:``: it names the default output folder, so it is one plain path
    component (no ``/``, ``\\``, ``..`` or control characters)."""
    if value is None:
        return None
    text = str(value)
    if (not isinstance(value, (str, int)) or isinstance(value, bool) or not text
            or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,99}", text) or ".." in text):
        raise SweepError(f"{where(label, 'name')}: {text[:60]!r} cannot name the results "
                         f"folder; allowed: letters, digits, '_', '.', '+', '-' (no '/' or "
                         f"'..'), at most 100 characters")
    return text


def _axis_defines(raw: dict, key: str) -> bool:
    grid = raw.get("grid") if isinstance(raw.get("grid"), dict) else {}
    zips = raw.get("zip") if isinstance(raw.get("zip"), list) else []
    return key in grid or any(isinstance(g, dict) and key in g for g in zips)


def _check_key_form(key: str, label: str) -> None:
    if not isinstance(key, str) or not key or any(not p for p in key.split(".")):
        raise SweepError(f"{label}: {key!r}: an axis key must be a dotted path such as "
                         f"array.rows or workload.batch")


def _mapping(value, label: str, key: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SweepError(f"{where(label, key)}: expected a mapping of dotted keys to values, "
                         f"got {value!r}")
    return dict(value)


def _list(value, label: str, key: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise SweepError(f"{where(label, key)}: expected a list, got {value!r}")
    return value


def _grid_values(values, label: str, key: str) -> list:
    """A list, or ``{from, to, step}`` / ``{from, to, factor}`` (both ends inclusive)."""
    if isinstance(values, list):
        if not values:
            raise SweepError(f"{where(label, key)}: empty list; give at least one value")
        return values
    if isinstance(values, dict):
        extra = set(values) - {"from", "to", "step", "factor"}
        start, stop = _number(values.get("from")), _number(values.get("to"))
        step, factor = _number(values.get("step")), _number(values.get("factor"))
        numbers = None not in (start, stop) and (step is None) != (factor is None)
        if extra or not numbers:
            raise SweepError(f"{where(label, key)}: a range is {{from: A, to: B, step: S}} or "
                             f"{{from: A, to: B, factor: F}} with numbers, got {values!r}")
        if step is not None and step <= 0 or factor is not None and factor <= 1 \
                or factor is not None and start <= 0:
            raise SweepError(f"{where(label, key)}: step must be > 0, factor > 1 and from > 0 "
                             f"with a factor; got {values!r}")
        out, v, tol = [], start, 1e-9 * max(abs(start), abs(stop), 1)
        while v <= stop + tol and len(out) <= MAX_POINTS:
            out.append(v)
            v = v + step if step is not None else v * factor
        if not out:
            raise SweepError(f"{where(label, key)}: the range is empty (from > to): {values!r}")
        return out
    raise SweepError(f"{where(label, key)}: expected a list of values or a range "
                     f"{{from, to, step|factor}}; a single value belongs under set:")


def _zip_axes(groups, label: str) -> list[Axis]:
    axes = []
    for i, group in enumerate(_list(groups, label, "zip")):
        key = f"zip[{i}]"
        group = _mapping(group, label, key)
        columns = {k: _grid_values(v, label, f"{key}.{k}") for k, v in group.items()}
        lengths = {k: len(v) for k, v in columns.items()}
        if len(set(lengths.values())) != 1:
            raise SweepError(f"{where(label, key)}: zipped axes need equal lengths, got "
                             + ", ".join(f"{k}: {n}" for k, n in lengths.items()))
        axes.append(Axis(tuple(columns), tuple(zip(*columns.values()))))
    return axes


def _random_axis(block, label: str) -> Axis:
    """``samples`` seeded draws; each axis a ``{choice|uniform|loguniform|randint|pow2: ...}``."""
    block = _mapping(block, label, "random")
    extra = set(block) - {"samples", "seed", "axes"}
    if extra:
        raise SweepError(f"{where(label, 'random.' + sorted(extra)[0])}: unknown key; allowed: "
                         f"samples, seed, axes")
    n, seed = block.get("samples"), block.get("seed", 0)
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_POINTS:
        raise SweepError(f"{where(label, 'random.samples')}: expected an integer from 1 to "
                         f"{MAX_POINTS:,}, got {n!r}")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise SweepError(f"{where(label, 'random.seed')}: expected an integer >= 0, got {seed!r}")
    axes = _mapping(block.get("axes"), label, "random.axes")
    if not axes:
        raise SweepError(f"{where(label, 'random.axes')}: give at least one axis to sample")
    rng = np.random.default_rng(seed)
    columns = {key: _draw(dist, n, rng, label, f"random.axes.{key}") for key, dist in axes.items()}
    return Axis(tuple(columns), tuple(zip(*columns.values())))


def _draw(dist, n: int, rng, label: str, key: str) -> list:
    bad = SweepError(f"{where(label, key)}: expected one of {{choice: [..]}}, {{uniform: [lo, hi]}}, "
                     f"{{loguniform: [lo, hi]}}, {{randint: [lo, hi]}}, {{pow2: [lo, hi]}} "
                     f"(optionally integer: true), got {dist!r}")
    if not isinstance(dist, dict) or len(set(dist) & set(RANDOM_KINDS)) != 1 \
            or set(dist) - set(RANDOM_KINDS) - {"integer"}:
        raise bad
    kind = next(k for k in RANDOM_KINDS if k in dist)
    arg = dist[kind]
    if kind == "choice":
        if not isinstance(arg, list) or not arg:
            raise bad
        return [arg[i] for i in rng.integers(0, len(arg), size=n)]
    bounds = [_number(v) for v in arg] if isinstance(arg, list) and len(arg) == 2 else [None]
    if None in bounds or bounds[0] > bounds[1]:
        raise bad
    lo, hi = bounds
    if not all(math.isfinite(b) and abs(b) <= 2.0**53 for b in bounds):
        raise SweepError(f"{where(label, key)}: bounds {arg!r} must be finite numbers of "
                         f"magnitude <= 2^53")
    if kind == "randint":
        if math.ceil(lo) > math.floor(hi):
            raise SweepError(f"{where(label, key)}: randint: [{lo}, {hi}] holds no integer")
        return [int(v) for v in rng.integers(math.ceil(lo), math.floor(hi) + 1, size=n)]
    if kind == "pow2":
        if lo <= 0 or math.ceil(math.log2(lo)) > math.floor(math.log2(hi)):
            raise SweepError(f"{where(label, key)}: pow2: [{lo}, {hi}] holds no power of two; "
                             f"allowed: bounds with one between them, e.g. [4, 64]")
        exps = rng.integers(math.ceil(math.log2(lo)), math.floor(math.log2(hi)) + 1, size=n)
        return [int(2 ** int(e)) for e in exps]
    if kind == "loguniform" and lo <= 0:
        raise bad
    draws = (rng.uniform(lo, hi, size=n) if kind == "uniform"
             else np.exp(rng.uniform(math.log(lo), math.log(hi), size=n)))
    return [int(round(v)) if dist.get("integer") else float(v) for v in draws]


def _number(value) -> int | float | None:
    """A number, or a numeric string as YAML leaves ``5e8``; anything else is None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    try:
        return float(value) if isinstance(value, str) else None
    except ValueError:
        return None


#: scalar report fields copied into every result row, in column order
METRICS = ("cycles", "seconds", "tokens", "devices", "tokens_per_second", "energy_joules",
           "joules_per_token", "area_mm2", "average_power_w", "macs", "compute_cycles",
           "stall_cycles", "roofline_cycles", "roofline_fraction", "frequency_hz")
#: result columns a Pareto objective may name besides the axis keys and the families'
#: ``energy.*``, ``area.*``, ``util.*`` and ``extras.*`` columns
RESULT_METRICS = METRICS + ("sim_wall_s",)
#: result columns of a serving sweep (``sim.serving`` metrics, latency percentiles flattened)
SERVING_METRICS = ("requests_per_s", "output_tokens_per_s", "goodput_rps", "slo_attainment",
                   "energy_per_request_j", "energy_per_output_token_j", "energy_j",
                   "mean_batch", "mean_kv_occupancy", "preemptions", "kv_capacity_tokens",
                   "sim_wall_s") + tuple(f"{m}_s.{q}" for m in ("ttft", "tpot", "e2e")
                                         for q in ("mean", "p50", "p90", "p99"))


def _pareto(value, label: str) -> dict:
    """``{column: min|max}``; names that no result row can hold are refused before running."""
    objectives = _mapping(value, label, "pareto")
    for key, sense in objectives.items():
        if sense not in ("min", "max"):
            raise SweepError(f"{where(label, 'pareto.' + str(key))}: expected min or max, "
                             f"got {sense!r}")
    return objectives


def check_pareto(spec: "SweepSpec") -> None:
    """Refuse Pareto objectives that are not result columns, before any point runs."""
    families = ("energy.", "area.", "util.", "extras.")
    for key in spec.pareto:
        allowed = SERVING_METRICS if spec.serve is not None else RESULT_METRICS
        ok = (isinstance(key, str) and (key in allowed or key in spec.axis_keys
                                        or key.startswith(families)))
        if not ok:
            raise SweepError(f"{where(spec.file or '<sweep>', f'pareto.{key}')}: not a result "
                             f"column{did_you_mean(key, RESULT_METRICS)}; allowed: "
                             f"{', '.join(RESULT_METRICS)}, an axis key, or an energy.*, "
                             f"area.*, util.* or extras.* column")


#: largest magnitude of an arithmetic result in a constraint (beyond it a typo, not a design)
MAX_CONSTRAINT_VALUE = 2.0**128
#: longest constraint text (characters)
MAX_CONSTRAINT_CHARS = 2000


def _arithmetic(op, left, right) -> float:
    """``left op right`` for numbers only, with ``**`` and the results bounded so that no
    expression can build a huge integer or string (``9 ** 9 ** 9``, ``'a' * 10**9``)."""
    for v in (left, right):
        if not isinstance(v, (int, float)):
            raise TypeError(f"arithmetic on {type(v).__name__}")
    if op is ast.Pow and (abs(right) > 1024 or abs(left) > MAX_CONSTRAINT_VALUE):
        raise OverflowError(f"{left!r} ** {right!r} is too large")
    result = _OPS[op](left, right)
    if abs(result) > MAX_CONSTRAINT_VALUE:
        raise OverflowError(f"an intermediate result beyond {MAX_CONSTRAINT_VALUE:.0e}")
    return result


# ---- constraints --------------------------------------------------------------------------
_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
        ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
        ast.Pow: operator.pow, ast.USub: operator.neg, ast.UAdd: operator.pos,
        ast.Not: operator.not_, ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt,
        ast.GtE: operator.ge, ast.Eq: operator.eq, ast.NotEq: operator.ne,
        ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b}
_FUNCS = {"min": min, "max": max, "abs": abs, "log2": math.log2}
#: names a constraint may use besides the arch config's sections and ``workload``
CONSTRAINT_NAMES = ("area_mm2", "kind", "name") + tuple(_FUNCS)


@dataclass(frozen=True)
class Constraint:
    """A boolean expression over the resolved arch config (``array.rows``), the resolved
    workload (``workload.batch``) and ``area_mm2`` (the design's area before simulating)."""

    text: str
    tree: ast.Expression
    label: str

    @classmethod
    def parse(cls, text, file: str, i: int) -> "Constraint":
        label = where(file, f"constraints[{i}]")
        if not isinstance(text, str):
            raise SweepError(f"{label}: expected an expression string such as "
                             f"'array.rows * array.cols <= 65536', got {text!r}")
        if len(text) > MAX_CONSTRAINT_CHARS:
            raise SweepError(f"{label}: {len(text):,} characters; allowed: at most "
                             f"{MAX_CONSTRAINT_CHARS:,}")
        try:
            tree = ast.parse(text, mode="eval")
        except SyntaxError as exc:
            raise SweepError(f"{label}: cannot parse {text!r}: {exc.msg}") from None
        except (RecursionError, MemoryError, ValueError):
            raise SweepError(f"{label}: cannot parse {text[:60]!r}: nested too deeply") from None
        for node in ast.walk(tree):
            allowed = (ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.BinOp, ast.UnaryOp,
                       ast.Compare, ast.Name, ast.Attribute, ast.Constant, ast.Load, ast.Call,
                       ast.List, ast.Tuple) + tuple(_OPS)
            if not isinstance(node, allowed) or isinstance(node, ast.Call) and not (
                    isinstance(node.func, ast.Name) and node.func.id in _FUNCS and not node.keywords):
                raise SweepError(f"{label}: {text!r}: only arithmetic, comparisons, and/or/not and "
                                 f"{', '.join(_FUNCS)}() are allowed")
        return cls(text, tree, label)

    @property
    def uses_area(self) -> bool:
        return any(isinstance(n, ast.Name) and n.id == "area_mm2" for n in ast.walk(self.tree))

    def holds(self, names: dict) -> bool:
        """Evaluate against ``names`` (nested dicts); an unknown name, a division by zero, a
        number compared with a string, a math domain error or a too large power is a
        :class:`SweepError` naming the constraint."""
        try:
            return bool(self._eval(self.tree.body, names))
        except ZeroDivisionError:
            reason = "divides by zero"
        except (ValueError, OverflowError) as exc:
            reason = f"has no value ({exc})"
        except TypeError:
            reason = "combines values of different kinds (a number and a string?)"
        except RecursionError:
            reason = "is nested too deeply"
        raise SweepError(f"{self.label}: {self.text!r} {reason} at this point")

    def _eval(self, node, names):
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, (ast.List, ast.Tuple)):
            return [self._eval(e, names) for e in node.elts]
        if isinstance(node, ast.Name):
            if node.id in _FUNCS:
                return _FUNCS[node.id]
            if node.id not in names:
                raise SweepError(f"{self.label}: unknown name {node.id!r} in {self.text!r}"
                                 f"{did_you_mean(node.id, names)}; known: "
                                 f"{', '.join(sorted(names))}")
            value = names[node.id]
            return value() if callable(value) else value
        if isinstance(node, ast.Attribute):
            base = self._eval(node.value, names)
            if not isinstance(base, dict) or node.attr not in base:
                path = ast.unparse(node)
                options = base if isinstance(base, dict) else {}
                raise SweepError(f"{self.label}: unknown key {path!r} in {self.text!r}"
                                 f"{did_you_mean(node.attr, options)}")
            return base[node.attr]
        if isinstance(node, ast.BoolOp):
            values = (self._eval(v, names) for v in node.values)
            return all(values) if isinstance(node.op, ast.And) else any(values)
        if isinstance(node, ast.UnaryOp):
            return _OPS[type(node.op)](self._eval(node.operand, names))
        if isinstance(node, ast.BinOp):
            left, right = self._eval(node.left, names), self._eval(node.right, names)
            return _arithmetic(type(node.op), left, right)
        if isinstance(node, ast.Compare):
            left = self._eval(node.left, names)
            for op, comp in zip(node.ops, node.comparators):
                right = self._eval(comp, names)
                if not _OPS[type(op)](left, right):
                    return False
                left = right
            return True
        if isinstance(node, ast.Call):
            return _FUNCS[node.func.id](*(self._eval(a, names) for a in node.args))
        raise SweepError(f"{self.label}: unsupported expression {ast.unparse(node)!r}")
