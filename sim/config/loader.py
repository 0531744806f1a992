"""Reading YAML files, resolving ``extends:``, and applying ``--set a.b=value`` overrides."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from sim.errors import ConfigError, where

MAX_EXTENDS_DEPTH = 8


def load_yaml_file(path: str | Path, error=ConfigError) -> Any:
    """Parse one YAML file; a missing file or a syntax error becomes ``error`` with file:line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{path}: file not found") from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise error(f"{path}: cannot read ({exc.__class__.__name__})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}:" if mark is not None else ""
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise error(f"{path}:{line} invalid YAML: {reason}") from None
    except RecursionError:
        raise error(f"{path}: invalid YAML: nesting too deep") from None


def deep_merge(base: dict, top: dict) -> dict:
    """``top`` over ``base``, recursively for mappings; lists and scalars are replaced."""
    out = copy.deepcopy(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def resolve_extends(data: dict, file: Path, search_dirs: list[Path], depth: int = 0) -> dict:
    """Merge the chain of ``extends:`` presets below ``data`` (the child wins)."""
    parent_name = data.get("extends")
    if parent_name is None:
        return data
    child = {k: v for k, v in data.items() if k != "extends"}
    if not isinstance(parent_name, str):
        raise ConfigError(f"{where(str(file), 'extends')}: expected a preset name or path, "
                          f"got {parent_name!r}")
    if depth >= MAX_EXTENDS_DEPTH:
        raise ConfigError(f"{where(str(file), 'extends')}: chain deeper than "
                          f"{MAX_EXTENDS_DEPTH} (a cycle?)")
    parent_path = _find_preset(parent_name, file, search_dirs)
    parent = load_yaml_file(parent_path)
    if not isinstance(parent, dict):
        raise ConfigError(f"{parent_path}: expected a mapping at the top level")
    parent = resolve_extends(parent, parent_path, search_dirs, depth + 1)
    return deep_merge(parent, child)


def _find_preset(name: str, file: Path, search_dirs: list[Path]) -> Path:
    candidates = [file.parent / name, file.parent / f"{name}.yaml"]
    for d in search_dirs:
        candidates += [d / name, d / f"{name}.yaml"]
    for c in candidates:
        if c.is_file():
            return c
    known = sorted({p.stem for d in [file.parent, *search_dirs] if d.is_dir()
                    for p in d.glob("*.yaml")})
    raise ConfigError(f"{where(str(file), 'extends')}: preset {name!r} not found; "
                      f"known presets: {', '.join(known)}")


def parse_override(text: str) -> tuple[str, Any]:
    """``"array.rows=256"`` -> ``("array.rows", 256)``; the value is read as YAML."""
    if "=" not in text:
        raise ConfigError(f"--set {text}: expected KEY=VALUE, e.g. --set array.rows=256")
    key, _, raw = text.partition("=")
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(f"--set {text}: the key must be a dotted path such as array.rows")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    return key, value


def override_pairs(items, prefix: str) -> list[tuple[str, Any]]:
    """``"a.b=v"`` strings or ``(key, value)`` pairs, with an optional ``prefix.`` removed."""
    pairs = [parse_override(o) if isinstance(o, str) else tuple(o) for o in items]
    return [(k[len(prefix) + 1:] if k.startswith(prefix + ".") else k, v) for k, v in pairs]


def apply_overrides(data: dict, overrides: list[tuple[str, Any]], label: str = "--set") -> dict:
    """Set each dotted key in a copy of ``data``; intermediate mappings are created."""
    out = copy.deepcopy(data)
    for key, value in overrides:
        node = out
        parts = key.split(".")
        for i, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ConfigError(f"{label} {key}: {'.'.join(parts[:i + 1])} is a value, "
                                  f"not a section")
            node = child
        node[parts[-1]] = value
    return out
