"""Loading an architecture: YAML -> ``extends:`` -> ``--set`` overrides -> schema -> rules."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.core.config.safe_input import exists, is_file
from sim.memory.spec import rebase_preset, resolve_spec
from sim.core.config import (Config, apply_overrides, load_yaml_file, override_pairs,
                             parse_override, validate)
from sim.core.config.loader import deep_merge, resolve_extends
from sim.core.errors import ConfigError, where
from sim.core.family import Family
from sim.core.paths import PROJECT_ROOT
from sim.families import get_family
from sim.core.scaling import supply_problem

ARCH_DIR = PROJECT_ROOT / "arch_configs"


@dataclass(frozen=True)
class Arch:
    """A validated architecture: its family, resolved config and where it came from."""

    family: Family
    cfg: Config
    file: str | None

    @property
    def kind(self) -> str:
        return self.family.kind

    @property
    def name(self) -> str:
        return self.cfg.name

    def resolved(self) -> dict:
        """The full resolved config (defaults filled, canonical units) with ``kind``."""
        return {"kind": self.kind, **self.cfg.to_dict()}


def split_overrides(items: list[str] | None, refuse_repeats: bool = False
                    ) -> tuple[list[tuple[str, Any]], list[tuple[str, Any]]]:
    """Split ``--set`` strings into arch and workload overrides (``workload.`` prefix).

    With ``refuse_repeats`` a key given twice (``--set array.rows=64 --set array.rows=32``)
    is an error rather than the last one silently winning."""
    arch, work = [], []
    seen: dict[str, str] = {}
    for text in items or []:
        key, value = parse_override(text)
        canonical = key[len("arch."):] if key.startswith("arch.") else key
        if refuse_repeats and canonical in seen:
            raise ConfigError(f"--set {canonical}: given twice ({seen[canonical]!r} and "
                              f"{text!r}); allowed: each key once")
        seen[canonical] = text
        if key.startswith("workload."):
            work.append((key[len("workload."):], value))
        elif key.startswith("arch."):
            arch.append((key[len("arch."):], value))
        else:
            arch.append((key, value))
    return arch, work


def find_arch_file(source: str | Path) -> str | Path:
    """A path as given, or a bundled config by bare name (``"systolic"`` -> arch_configs/systolic.yaml)."""
    text = str(source)
    if exists(text) or "/" in text or "\\" in text:
        return source
    bundled = ARCH_DIR / (text if text.endswith((".yaml", ".yml")) else f"{text}.yaml")
    if not is_file(bundled):
        return source
    try:
        return bundled.relative_to(Path.cwd())
    except ValueError:
        return bundled


def _merge_configs(parent: dict, child: dict) -> dict:
    """``extends:`` for arch configs: the child over the parent, except that a child naming
    another ``dram.preset`` does not inherit the parent's preset-specific DRAM keys."""
    if not isinstance(parent, dict) or not isinstance(child, dict):
        return deep_merge(parent, child)
    return deep_merge(rebase_preset(parent, child), child)


def load_arch(source: str | Path | dict, overrides: list[str] | list[tuple[str, Any]] = ()) -> Arch:
    """Load and validate an arch config from a YAML path, a bundled config's name
    (``"systolic"``) or an already-parsed mapping.

    ``overrides`` are ``"a.b=value"`` strings or ``(key, value)`` pairs; they apply after
    ``extends:`` and before validation, exactly like ``--set`` on the command line.
    """
    pairs = override_pairs(overrides, "arch")
    if isinstance(source, dict):
        raw, file = source, None
        base = ARCH_DIR / "<dict>"
    else:
        source = find_arch_file(source)
        file = str(source)
        raw = load_yaml_file(source)
        base = Path(source)
    if not isinstance(raw, dict):
        raise ConfigError(f"{file or '<config>'}: expected a mapping with kind: ... at the top "
                          f"level, got {type(raw).__name__}")
    raw = resolve_extends(raw, base, [ARCH_DIR, ARCH_DIR / "presets"], merge=_merge_configs)
    preset = [v for k, v in pairs if k == "dram.preset"]
    if preset:  # a --set of another preset starts from that preset's organisation too
        raw = rebase_preset(raw, {"dram": {"preset": preset[-1]}})
    raw = apply_overrides(raw, pairs)
    if "kind" not in raw:
        raise ConfigError(f"{file or '<config>'}: kind: missing; it selects the accelerator family")
    family = get_family(raw["kind"], file)
    body = {k: v for k, v in raw.items() if k != "kind"}
    data, problems = validate(body, family.schema, file)
    if not problems:
        problems = scaling_problems(data.get("tech", {}), file)
    if not problems:
        problems = family.check(Config(data), file)
        if "dram" in data:  # every family's DRAM goes through the shared memory model
            problems += resolve_spec(Config(data["dram"]), file)[1]
    if problems:
        raise ConfigError(problems)
    return Arch(family, Config(data), file)


def scaling_problems(tech: dict, file: str | None) -> list[str]:
    """A one-line problem when ``tech.node_nm`` / ``tech.vdd`` lie outside what the node
    scaling fits cover (:mod:`sim.core.scaling`), before any family prices a component."""
    if "node_nm" not in tech or "vdd" not in tech:
        return []
    problem = supply_problem(tech["node_nm"], tech["vdd"])
    if problem is None:
        return []
    return [f"{where(file, 'tech.vdd')}: {problem}; allowed: a supply the node's scaling fit "
            "covers (docs/energy_area.md)"]
