"""Declared, documented, validated configuration (schema -> rules -> build)."""

from sim.core.config.fields import REQUIRED, Field, Section, Config
from sim.core.config.loader import (load_yaml_file, apply_overrides, parse_override, deep_merge,
                                    override_pairs)
from sim.core.config.schema import validate

__all__ = [
    "REQUIRED", "Field", "Section", "Config", "load_yaml_file", "apply_overrides", "parse_override",
    "deep_merge", "override_pairs", "validate",
]
