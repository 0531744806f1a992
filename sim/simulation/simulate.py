"""The pipeline: arch + workload -> per-op plans -> event simulation -> :class:`Report`."""

from __future__ import annotations

import dataclasses
import hashlib
import json

from sim.simulation.arch import Arch, load_arch
from sim.core.config import override_pairs
from sim.core.engine import Engine
from sim.core.errors import WorkloadError
from sim.core.invariants import InvariantError, check_run
from sim.core.report import OpRow, Power, Report, build_report, run_totals
from sim.workloads.loader import load_workload as _load_workload
from sim.workloads.model import Workload


def load_workload(spec: str, arch: Arch | None = None, overrides=()) -> Workload:
    """Load a workload by name or path; precisions left null take the arch's native ones."""
    pairs = override_pairs(overrides, "workload")
    native = arch.family.native_bits(arch.cfg) if arch else None
    return _load_workload(spec, pairs, native)


def simulate(arch: Arch | str, workload: Workload | str, overrides=(), check: bool = True,
             plan_cache: dict | None = None) -> Report:
    """Simulate ``workload`` on ``arch`` and return the :class:`Report`.

    ``arch`` may be a path; ``workload`` a name or path. ``overrides`` (``"workload.batch=8"``)
    apply to a workload given by name. ``check`` holds the report to the invariants of
    :mod:`sim.core.invariants` and raises :class:`~sim.core.invariants.InvariantError` on a
    violation. ``plan_cache``, a dict the caller keeps for one ``arch``, carries op plans
    from one simulation to the next (the serving layer simulates many steps of one model):
    a plan is keyed by the op's fields, the phase and the batch, all a mapping depends on.
    """
    if not isinstance(arch, Arch):
        arch = load_arch(arch)
    if not isinstance(workload, Workload):
        workload = load_workload(workload, arch, overrides)
    run = _execute(arch, workload, plan_cache)
    family, ctx = arch.family, run.ctx
    report = build_report(arch, run.workload, run.plans, run.timings, run.area, run.power,
                          run.intervals, input_hash(arch, run.workload), family.pricing(ctx),
                          run.dram, run.deps)
    report.extras = family.report_extras(ctx, report)
    if check:
        violations = check_run(report, workload, run.plans, family.compulsory_levels(ctx))
        if violations:
            raise InvariantError(violations, report.input_hash)
    return report


def simulate_cost(arch: Arch, workload: Workload, plan_cache: dict | None = None,
                  session: dict | None = None) -> tuple[float, float, float]:
    """``(seconds, joules, static W)`` of ``workload`` on ``arch``: the totals :func:`simulate`
    reports, bit for bit, without building the report (no rows, no invariant check). For
    callers that simulate many workloads on one arch (serving steps): ``plan_cache`` as in
    :func:`simulate`; ``session``, a dict kept for one ``arch``, holds the family's prepared
    context, area and power between calls."""
    run = _execute(arch, workload, plan_cache, session)
    return run_totals(arch, run.plans, run.timings, run.power, run.dram)


@dataclasses.dataclass
class _Run:
    ctx: object
    dram: object
    workload: Workload  # as the family lowered it
    plans: list
    deps: list | None
    timings: list
    intervals: list
    area: dict
    power: Power


def _execute(arch: Arch, workload: Workload, plan_cache: dict | None = None,
             session: dict | None = None) -> _Run:
    """Check, lower, plan and time ``workload`` on ``arch``; the family's context, area and
    power come from ``session`` where an earlier call on the same arch left them."""
    family = arch.family
    if session is not None and "ctx" in session:
        ctx, area, power = session["ctx"], session["area"], session["power"]
    else:
        ctx = family.prepare(arch.cfg, arch.file)
        area = family.area(ctx)
        area_mm2 = sum(item.mm2 for item in area.values())
        power = Power(family.static_power(ctx, area_mm2), family.busy_power(ctx),
                      family.power_limit_w(ctx), family.enforces_power_limit)
        if session is not None:
            session.update(ctx=ctx, area=area, power=power)
    dram = family.channel(ctx)
    problems = _problems(family, ctx, dram, arch, workload)
    if problems:
        raise WorkloadError(problems)
    lowered = family.lower(ctx, workload.ops)
    if lowered is not workload.ops:
        workload = dataclasses.replace(workload, ops=tuple(lowered))
    plans = _plan_all(family, ctx, workload, plan_cache)
    deps = family.dependencies(ctx, workload.ops)
    engine = Engine(dram, family.units(ctx))
    timings = engine.run(plans, deps)
    refined = family.refine(ctx, workload.ops, plans, timings)
    if refined is not None:
        plans = refined
        engine = Engine(dram, family.units(ctx))
        timings = engine.run(plans, deps)
    return _Run(ctx, dram, workload, plans, deps, timings, engine.intervals, area, power)


def workload_problems(arch: Arch, workload: Workload) -> list[str]:
    """Why ``workload`` cannot run on ``arch`` (precision, capacity, the family's rules);
    empty when it can. Cheap: nothing is planned or simulated."""
    family = arch.family
    ctx = family.prepare(arch.cfg, arch.file)
    return _problems(family, ctx, family.channel(ctx), arch, workload)


def _problems(family, ctx, dram, arch: Arch, workload: Workload) -> list[str]:
    problems = family.check_workload(ctx, workload)
    if dram is not None:
        problems += dram.capacity_problems(workload, arch.file)
    return problems


def _plan_all(family, ctx, workload: Workload, cache: dict | None = None):
    """Plan every op; ops that differ only in name/layer share one plan object."""
    cache = {} if cache is None else cache
    plans = []
    scope = (workload.cfg.phase, workload.cfg.batch)
    for op in workload.ops:
        key = (type(op).__name__,) + scope + tuple(
            v for k, v in vars(op).items() if k not in ("name", "layer"))
        plan = cache.get(key)
        if plan is None:
            plan = cache[key] = family.plan(ctx, op)
        plans.append(plan)
    return plans


def input_hash(arch: Arch, workload: Workload) -> str:
    """SHA-256 of the resolved arch and workload configs (canonical JSON), first 16 hex digits."""
    blob = json.dumps({"arch": arch.resolved(), "workload": workload.cfg.to_dict()},
                      sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


__all__ = ["simulate", "simulate_cost", "load_workload", "workload_problems", "OpRow"]
