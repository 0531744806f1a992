"""``serve``: requests through a continuous-batching scheduler on one simulated device.

    from sim import serve
    result = serve("lut_tc", "llama7b", overrides=["requests.rate=4"])
    print(result.metrics["ttft_s"]["p90"], result.metrics["energy_per_request_j"])
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

from sim.core.config import Config
from sim.core.errors import WorkloadError
from sim.core.version import __version__
from sim.serving.engine import ServingEngine, Totals, disaggregated_limits, limits_from
from sim.serving.requests import NS, request_stream
from sim.serving.spec import load_serving_spec
from sim.serving.stepcost import StepCost
from sim.simulation.arch import Arch, load_arch, split_overrides
from sim.simulation.simulate import load_workload
from sim.workloads.model import MAX_TOKENS, Workload, available_models

SCHEMA_VERSION = 1
#: vLLM's max_num_batched_tokens default without chunked prefill (a longer prompt runs alone)
DEFAULT_MAX_TOKENS = 2048


@dataclass
class ServeReport:
    """A serving run: its inputs, aggregate metrics and time series (s, J, tokens)."""

    arch_name: str
    kind: str
    model: str
    spec: dict
    kv_capacity_tokens: int | None
    simulations: int
    wall_seconds: float
    metrics: dict
    series: dict = field(repr=False, default_factory=dict)
    warnings: list = field(default_factory=list)
    #: empirical CDFs of ``ttft_s``, ``tpot_s`` and ``e2e_s``: ``{"x": s, "p": fraction}``
    distributions: dict = field(repr=False, default_factory=dict)

    def to_dict(self) -> dict:
        return {"schema_version": SCHEMA_VERSION, "simulator_version": __version__,
                "arch_name": self.arch_name, "kind": self.kind, "model": self.model,
                "spec": self.spec, "kv_capacity_tokens": self.kv_capacity_tokens,
                "simulations": self.simulations, "metrics": self.metrics, "series": self.series,
                "distributions": self.distributions, "warnings": self.warnings}

    def to_json(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(_finite(self.to_dict()), indent=1) + "\n")

    def summary(self) -> str:
        m = self.metrics
        slo = self.spec["slo"]
        kv = (f"{self.kv_capacity_tokens:,} tokens" if self.kv_capacity_tokens is not None
              else "unbounded (the arch sets no memory capacity)")
        lines = [
            f"serving {self.model} on {self.arch_name} ({self.kind}): {m['requests']:,} requests "
            f"in {m['duration_s']:.3f} s",
            f"  KV cache {kv}; {m['prefill_steps']:,} prefill + {m['decode_steps']:,} decode "
            + (f"+ {m['mixed_steps']:,} mixed " if m["mixed_steps"] else "")
            + f"steps from {self.simulations} step simulations",
            f"  throughput {m['requests_per_s']:.3f} req/s, {m['output_tokens_per_s']:.1f} "
            f"output tokens/s; mean batch {m['mean_batch']:.1f}, KV occupancy "
            f"{_pct(m['mean_kv_occupancy'])}",
            f"  {'':6s} {'mean':>10s} {'p50':>10s} {'p90':>10s} {'p99':>10s}",
        ]
        for name in ("ttft_s", "tpot_s", "e2e_s"):
            row = m[name]
            lines.append(f"  {name[:-2].upper():6s} " + " ".join(
                f"{_ms(row[q]):>10s}" for q in ("mean", "p50", "p90", "p99")))
        lines += [
            f"  goodput {m['goodput_rps']:.3f} req/s ({_pct(m['slo_attainment'])} meet TTFT <= "
            f"{_ms(slo['ttft'] * NS)} and TPOT <= {_ms(slo['tpot'] * NS)})",
            f"  energy {m['energy_j']:.4g} J ({m['idle_energy_j']:.3g} J idle): "
            f"{m['energy_per_request_j']:.4g} J/request, "
            f"{m['energy_per_output_token_j'] * 1e3:.4g} mJ/output token",
            f"  preemptions {m['preemptions']:,}",
        ] + ([f"  KV link: {m['kv_link_s']:.3f} s of transfers, {m['kv_link_energy_j']:.4g} J"]
             if m["kv_link_s"] > 0 else [])
        return "\n".join(lines + [f"warning: {w}" for w in self.warnings])


def serve(arch: Arch | str, model: str, spec: str | dict | None = None, overrides=(),
          sink=None, on_step=None, on_span=None, costs: dict | None = None,
          decode_arch: Arch | str | None = None) -> ServeReport:
    """Serve the requests of ``spec`` (a YAML path, a mapping or None for the defaults) with
    ``model`` (a model id, a named workload or a workload YAML: its precisions and tensor
    parallelism apply) on ``arch`` (a path, a bundled name or an :class:`Arch`).

    ``overrides`` are ``KEY=VALUE`` strings: ``requests.*``, ``scheduler.*``, ``slo.*`` and
    ``step_cost`` set the serving spec, ``workload.*`` the model's workload, anything else the
    arch. ``sink(row)`` receives each finished request's row (dict) as it finishes;
    ``on_step(phase, lens, cost)`` each step the scheduler formed (for validation: listing a
    step's lengths costs O(batch)); ``on_span(phase, start_s, end_s, requests, tokens)`` each
    step's place in time (tokens: prompt tokens of a prefill, cached tokens a decode attends).
    ``costs``: a dict kept across calls (several rates or specs on one design) that holds the
    step costs already simulated, by design, model and step-cost mode; results are the same
    with or without it. ``decode_arch`` (a path, a bundled name or an :class:`Arch`, arch
    overrides applied to both): disaggregated serving, ``arch`` prefills and hands each
    request's KV cache over the spec's ``kv_link`` to this device, which decodes.
    """
    started = time.perf_counter()
    serving, rest = _split(overrides)
    arch_over, work_over = split_overrides(rest)
    if not isinstance(arch, Arch):
        arch = load_arch(arch, arch_over)
    elif arch_over:
        arch = load_arch(arch.resolved(), arch_over)
    cfg = load_serving_spec(spec, serving, spec if isinstance(spec, str) else None)
    base = _base_workload(arch, model, work_over)
    cost = _step_costs(costs, arch, model, work_over, base, cfg.step_cost)
    simulated_before = cost.simulations
    kv_tokens = kv_capacity_tokens(cost, cfg)
    limits = limits_from(cfg, kv_tokens, kv_bytes_per_token(base), DEFAULT_MAX_TOKENS)
    engine = ServingEngine(cost, limits, cfg.slo.ttft * NS, cfg.slo.tpot * NS, sink, on_step,
                           on_span)
    stream = request_stream(cfg, base.model.max_positions)
    if decode_arch is None:
        totals = engine.run(stream)
        devices, decoder, name, kind = [engine], engine, arch.name, arch.kind
    else:
        decoder, decoder_before = _decode_device(decode_arch, arch_over, model, work_over,
                                                 base, cfg, costs, engine, sink, on_step)
        totals = _run_pair(engine, decoder, stream)
        devices = [engine, decoder]
        d_arch = decoder.cost.arch["decode"]
        name, kind = f"{arch.name} -> {d_arch.name}", f"{arch.kind} -> {d_arch.kind}"
        kv_tokens = decoder.lim.blocks * decoder.lim.block if decoder.lim.blocks else None
    if totals.requests == 0:
        raise WorkloadError("requests: no request arrived (num_requests, duration or the "
                            "trace is empty)")
    before = {id(cost): simulated_before}
    if decoder is not engine:
        before.setdefault(id(decoder.cost), decoder_before)
    simulations = sum(c.simulations - before[id(c)]
                      for c in {id(d.cost): d.cost for d in devices}.values())
    metrics = _metrics(totals, devices, decoder.lim.blocks, cfg)
    return ServeReport(name, kind, base.model.id, cfg.to_dict(), kv_tokens,
                       simulations, time.perf_counter() - started, metrics,
                       _series(totals, decoder.lim.blocks), list(base.warnings),
                       {name: dict(zip(("x", "p"), getattr(totals, name[:-2]).cdf()))
                        for name in ("ttft_s", "tpot_s", "e2e_s")})


def _decode_device(decode_arch, arch_over, model: str, work_over, base: Workload, cfg,
                   costs, prefill: ServingEngine, sink, on_step) -> tuple[ServingEngine, int]:
    """The decode device of a disaggregated pair, fed by ``prefill`` (whose limits become
    those of a prefill device), sharing its totals; and the simulations its step costs held
    before this run."""
    if cfg.scheduler.chunked_prefill:
        raise WorkloadError("scheduler.chunked_prefill: true mixes prefill and decode in one "
                            "step; a disaggregated pair (decode_arch) runs them on two "
                            "devices; allowed: false")
    d_arch = decode_arch if isinstance(decode_arch, Arch) else load_arch(decode_arch, arch_over)
    d_base = _base_workload(d_arch, model, work_over)
    cost = _step_costs(costs, d_arch, model, work_over, d_base, cfg.step_cost)
    per_token = kv_bytes_per_token(base)
    prefill.lim = disaggregated_limits(prefill.lim, "prefill", cfg, per_token)
    limits = limits_from(cfg, kv_capacity_tokens(cost, cfg), per_token, DEFAULT_MAX_TOKENS)
    decoder = ServingEngine(cost, disaggregated_limits(limits, "decode", cfg, per_token),
                            prefill.slo[0], prefill.slo[1], sink, on_step)
    decoder.totals = prefill.totals
    prefill.handoff = decoder.deliver
    return decoder, cost.simulations


def _run_pair(prefill: ServingEngine, decode: ServingEngine, stream) -> Totals:
    """Two devices on their own clocks: the prefill device steps while it is not ahead of
    the decode device's next action, so the decode device never acts before a request that
    could still reach it earlier."""
    prefill.open(stream)
    decode.open(None)
    while True:
        if prefill.has_work() and prefill.t <= decode.next_time():
            prefill.advance()
        elif decode.has_work():  # (the prefill device, if busy, is ahead of it)
            decode.advance()
        else:
            return prefill.totals


def _step_costs(costs: dict | None, arch: Arch, model: str, work_over, base: Workload,
                mode: str) -> StepCost:
    """The design's step costs: from ``costs`` where an earlier call left them, else new."""
    if costs is None:
        return StepCost(arch, base, mode)
    key = json.dumps([arch.resolved(), model, list(work_over), mode], sort_keys=True,
                     default=str)
    if key not in costs:
        costs[key] = StepCost(arch, base, mode)
    return costs[key]


SERVING_KEYS = ("requests.", "scheduler.", "slo.", "kv_link.", "step_cost")


def _split(overrides) -> tuple[list[tuple[str, object]], list[str]]:
    """Serving-spec overrides as ``(key, value)`` pairs, and the arch / workload rest."""
    from sim.core.config import parse_override
    serving, rest = [], []
    for text in overrides or ():
        key, value = parse_override(text) if isinstance(text, str) else text
        if key.startswith(SERVING_KEYS):
            serving.append((key, value))
        else:
            rest.append(text if isinstance(text, str) else f"{key}={value}")
    return serving, rest


def _base_workload(arch: Arch, model: str, overrides) -> Workload:
    spec = f"{model}_decode" if model in available_models() else model
    base = load_workload(spec, arch, [f"workload.{k}={v}" for k, v in overrides]
                         + ["workload.phase=decode"])  # steps set their own phase and sizes
    if base.cfg.pipeline_parallel != 1:
        raise WorkloadError(f"workload.pipeline_parallel: {base.cfg.pipeline_parallel}; "
                            f"serving simulates one device; allowed: 1")
    return base


def kv_bytes_per_token(base: Workload) -> float:
    """Bytes of keys and values one token adds to one device's cache."""
    m, w = base.model, base.cfg
    return 2 * m.layers * (m.n_kv // w.tensor_parallel) * m.hd * w.kv_bits / 8


def kv_capacity_tokens(cost: StepCost, cfg: Config) -> int | None:
    """KV-cache tokens of the device: ``scheduler.kv_capacity``, or the longest single
    request's cache the family's capacity check accepts beside the weights, times
    ``scheduler.memory_fraction``; None when no memory limit is modelled."""
    s = cfg.scheduler
    if s.kv_capacity is not None:
        return s.kv_capacity
    if cost.fits("decode", (MAX_TOKENS - 1,)) == []:
        return None
    first = cost.fits("decode", (1,))
    if first:
        raise WorkloadError([f"{first[0]} (the model's weights alone do not fit)"])
    lo, hi = 1, MAX_TOKENS - 1  # fits(lo), not fits(hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if cost.fits("decode", (mid,)):
            hi = mid
        else:
            lo = mid
    return max(1, math.floor((lo + 1) * s.memory_fraction))


def _metrics(t: Totals, devices: list[ServingEngine], blocks: int | None, cfg: Config) -> dict:
    duration = t.last_finish - t.first_arrival
    # each device idles (static power) while it waits for requests or for the host
    idle_j = sum((d.cost.static_w or 0.0) * max(0.0, duration - d.busy_s) for d in devices)
    energy = t.step_energy_j + idle_j + t.link_energy_j
    per_s = (lambda x: x / duration) if duration > 0 else (lambda x: math.nan)
    return {
        "requests": t.requests, "output_tokens": t.output_tokens,
        "prompt_tokens_prefilled": t.prompt_tokens,
        "duration_s": duration, "busy_s": t.busy_s, "swap_s": t.swap_s,
        "kv_link_s": t.link_s, "kv_link_energy_j": t.link_energy_j,
        "requests_per_s": per_s(t.requests), "output_tokens_per_s": per_s(t.output_tokens),
        "ttft_s": t.ttft.summary(), "tpot_s": t.tpot.summary(), "e2e_s": t.e2e.summary(),
        "goodput_rps": per_s(t.slo_met), "slo_attainment": t.slo_met / t.requests,
        "energy_j": energy, "step_energy_j": t.step_energy_j, "idle_energy_j": idle_j,
        "energy_per_request_j": energy / t.requests,
        "energy_per_output_token_j": energy / t.output_tokens,
        "request_energy_j": t.energy.summary(),
        "preemptions": t.preemptions, "prefill_steps": t.prefill_steps,
        "decode_steps": t.decode_steps, "mixed_steps": t.mixed_steps,
        "mean_batch": t.batch.time_average(t.last_finish),
        "mean_kv_occupancy": (t.kv.time_average(t.last_finish) / blocks) if blocks else math.nan,
        "mean_in_system": t.in_system.time_average(t.last_finish),
    }


def _series(t: Totals, blocks: int | None) -> dict:
    times, batch = t.batch.points()
    _, kv = t.kv.points()
    _, in_system = t.in_system.points()
    return {"t_s": times, "batch": batch, "in_system": in_system,
            "kv_occupancy": [k / blocks for k in kv] if blocks else []}


def _finite(x):
    """NaN and infinities as JSON null."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_finite(v) for v in x]
    return x


def _ms(seconds: float) -> str:
    if seconds != seconds:
        return "-"
    return f"{seconds * 1e3:.2f} ms" if seconds < 10 else f"{seconds:.2f} s"


def _pct(x: float) -> str:
    return "-" if x != x else f"{x * 100:.1f} %"
