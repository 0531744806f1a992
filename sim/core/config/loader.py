"""Reading YAML files, resolving ``extends:``, and applying ``--set a.b=value`` overrides."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from sim.core.config.safe_input import (MAX_YAML_BYTES, YAML_ERRORS, YamlInputError, is_file,
                                        load_yaml_text, read_text, yaml_error_message)
from sim.core.errors import ConfigError, where

MAX_EXTENDS_DEPTH = 8
#: longest --set value (characters)
MAX_OVERRIDE_CHARS = 65_536


def load_yaml_file(path: str | Path, error=ConfigError) -> Any:
    """Parse one YAML file; an unreadable file or a bad document becomes ``error`` with the
    file (and line); see :mod:`sim.core.config.safe_input` for what is refused."""
    text = read_text(path, MAX_YAML_BYTES, error, "YAML file")
    try:
        return load_yaml_text(text)
    except YAML_ERRORS as exc:
        raise error(f"{path}:{yaml_error_message(exc)}") from None


def deep_merge(base: dict, top: dict) -> dict:
    """``top`` over ``base``, recursively for mappings; lists and scalars are replaced."""
    out = copy.deepcopy(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def resolve_extends(data: dict, file: Path, search_dirs: list[Path], depth: int = 0,
                    merge=None) -> dict:
    """Merge the chain of ``extends:`` presets below ``data`` (the child wins); ``merge(parent,
    child)`` does each step (default :func:`deep_merge`)."""
    merge = merge or deep_merge
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
    parent = resolve_extends(parent, parent_path, search_dirs, depth + 1, merge)
    return merge(parent, child)


def _find_preset(name: str, file: Path, search_dirs: list[Path]) -> Path:
    candidates = [file.parent / name, file.parent / f"{name}.yaml"]
    for d in search_dirs:
        candidates += [d / name, d / f"{name}.yaml"]
    for c in candidates:
        if is_file(c):
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
    if len(raw) > MAX_OVERRIDE_CHARS:
        raise ConfigError(f"--set {key}: a value of {len(raw):,} characters; allowed: at most "
                          f"{MAX_OVERRIDE_CHARS:,}")
    try:
        value = load_yaml_text(raw) if raw.strip() else None
    except YAML_ERRORS as exc:
        if isinstance(exc, YamlInputError):  # valid syntax, refused (alias bomb, bad tag)
            raise ConfigError(f"--set {key}:{yaml_error_message(exc)}") from None
        value = raw  # not YAML: taken as the plain string
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
