"""A workload from its name, its YAML file, a parsed mapping or an op trace, lowered to ops.

A workload may be named (``llama7b_decode``: a model of ``workloads/models/`` and a phase), a
YAML file (``model:``, ``phase:`` and sizes) under ``workloads/`` or anywhere on disk, or a
trace (``traces/*.jsonl.gz``, :mod:`sim.workloads.traces`).
"""

from __future__ import annotations

import re
from pathlib import Path

from sim.core.config import Config, apply_overrides, load_yaml_file
from sim.core.config.safe_input import is_file
from sim.core.errors import WorkloadError
from sim.workloads.lowering import lower
from sim.workloads.model import (WORKLOAD_DIR, Workload, available_models, closed_form_macs,
                                 position_warnings, resolve_workload_config)
from sim.workloads.traces import is_trace, load_trace_workload

_NAMED = re.compile(r"^(?P<model>[A-Za-z0-9_.-]+?)_(?P<phase>decode|prefill)$")


def available_workloads() -> list[str]:
    named = [f"{m}_{p}" for m in available_models() for p in ("decode", "prefill")]
    files = sorted(p.stem for p in WORKLOAD_DIR.glob("*.yaml"))
    return named + files


def resolve_workload_spec(spec: str, overrides: list[tuple[str, object]] = ()
                          ) -> tuple[dict, str, str | None]:
    """Turn ``--workload`` (a name or a YAML path) plus overrides into a raw workload mapping.

    Returns ``(raw_mapping, display_name, file_or_None)``.
    """
    path = Path(spec)
    if not (spec.endswith((".yaml", ".yml")) or is_file(path)):
        path = WORKLOAD_DIR / f"{spec}.yaml"  # a named workload file under workloads/
    if spec.endswith((".yaml", ".yml")) or is_file(path):
        raw = load_yaml_file(path, error=WorkloadError)
        if not isinstance(raw, dict):
            raise WorkloadError(f"{path}: expected a mapping with model:, phase:, ...")
        name, file = path.stem, str(path)
    else:
        match = _NAMED.match(spec)
        if not match or match.group("model") not in available_models():
            from sim.core.config.schema import did_you_mean
            raise WorkloadError(f"--workload: unknown workload {spec!r}"
                                f"{did_you_mean(spec, available_workloads())}; known: "
                                f"{', '.join(available_workloads())} (or a path to a .yaml)")
        raw = {"model": match.group("model"), "phase": match.group("phase")}
        name, file = spec, None
    try:
        raw = apply_overrides(raw, list(overrides), label="--set workload.")
    except Exception as exc:  # ConfigError from a malformed override path
        raise WorkloadError(str(exc)) from None
    return raw, name, file


def load_workload(spec: str | dict, overrides: list[tuple[str, object]] = (),
                  native_bits: dict[str, int] | None = None) -> Workload:
    """Load, validate and lower a workload.

    ``spec`` is a name, a YAML path or an already-parsed mapping (``model:``, ``phase:``, sizes).
    ``native_bits`` (``weight_bits``/``act_bits``) fill precisions the workload leaves null; the
    simulator passes the architecture's native precision.
    """
    if is_trace(spec):
        return load_trace_workload(spec, overrides, native_bits)
    if isinstance(spec, dict):
        raw, name, file = apply_overrides(spec, list(overrides), label="--set workload."), \
            f"{spec.get('model')}_{spec.get('phase', 'decode')}", None
    else:
        raw, name, file = resolve_workload_spec(spec, overrides)
    label = file or f"workload {name}"
    model, cfg = resolve_workload_config(raw, label, native_bits)
    return Workload(name, model, cfg, tuple(lower(model, cfg)), file,
                    closed_form_macs(model, cfg), position_warnings(model, cfg, label))




def step_workload(base: Workload, phase: str, lens: tuple[int, ...],
                  prior: tuple[int, ...] = ()) -> Workload:
    """One step of a serving run: ``base``'s model and precisions on a batch of requests of
    their own lengths (``lens``: prompt tokens each in prefill, tokens already cached each in
    decode; ``prior``, prefill only: tokens each request had cached before its chunk). The
    sizes of the config are the batch and the longest request."""
    data = base.cfg.to_dict()
    longest = max(lens)
    if prior:
        longest = max(n + c for n, c in zip(lens, prior))
    data.update(phase=phase, batch=len(lens), context_dist="fixed",
                prompt_len=longest if phase == "prefill" else data["prompt_len"],
                context_len=longest if phase == "decode" else data["context_len"])
    cfg = Config(data)
    lens, prior = tuple(lens), tuple(prior) if any(prior) else ()
    label = base.source_file or f"workload {base.name}"
    return Workload(f"{base.model.id}_{phase}_step", base.model, cfg,
                    tuple(lower(base.model, cfg, lens, prior)), base.source_file,
                    closed_form_macs(base.model, cfg, lens, prior),
                    position_warnings(base.model, cfg, label), lens, prior)
