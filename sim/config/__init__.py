"""Declared, documented, validated configuration (schema -> rules -> build)."""

from sim.config.fields import REQUIRED, Field, Section, Config
from sim.config.loader import (load_yaml_file, apply_overrides, parse_override, deep_merge,
                               override_pairs)
from sim.config.schema import validate

__all__ = [
    "REQUIRED", "Field", "Section", "Config", "load_yaml_file", "apply_overrides", "parse_override",
    "deep_merge", "override_pairs", "validate",
]
