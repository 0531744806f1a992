"""Parameter declarations: each field once, with type, default, unit, description and source.

A family's schema is a tree of :class:`Section` objects whose leaves are :class:`Field` objects.
The same declarations drive YAML validation, ``simulate --describe`` and the generated config
reference in ``docs/config_reference.md``, so the documentation cannot drift from the code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

from sim.core.units import CANONICAL, UNITS, example

#: Plain value types; any key of :data:`sim.core.units.UNITS` is a quantity type.
PLAIN_TYPES = ("int", "float", "bool", "str", "enum")

REQUIRED = object()  # sentinel default: the user must set the field


@dataclass(frozen=True)
class Field:
    """One configuration parameter.

    ``type`` is ``int``, ``float``, ``bool``, ``str``, ``enum`` or a quantity dimension (``bytes``,
    ``frequency``, ``energy``, ``time``, ``bandwidth``, ``area``, ``power``); quantity values are
    stored in the dimension's canonical unit (see :mod:`sim.core.units`). ``minimum`` is an
    inclusive lower bound; ``positive`` demands a value > 0. ``nullable`` lets ``null`` mean "derive
    it" (the deriving rule is part of ``desc``). ``source`` cites where the default comes from.
    """

    type: str
    default: Any
    desc: str
    unit: str = ""
    choices: tuple = ()
    minimum: float | None = None
    maximum: float | None = None
    positive: bool = False
    nullable: bool = False
    source: str = ""

    def __post_init__(self) -> None:
        if not self.desc:
            raise TypeError("every Field needs a description")
        if self.type not in PLAIN_TYPES and self.type not in UNITS:
            raise TypeError(f"unknown field type {self.type!r}")
        if self.type == "enum" and not self.choices:
            raise TypeError("an enum Field needs choices")

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    @property
    def unit_label(self) -> str:
        """Unit shown in docs: the declared one, or the dimension's canonical unit."""
        if self.unit:
            return self.unit
        return CANONICAL.get(self.type, "")

    def allowed(self) -> str:
        """Short description of the allowed values, for error messages."""
        if self.type == "enum":
            return "one of " + ", ".join(repr(c) for c in self.choices)
        if self.type in UNITS:
            text = f"a {self.type} quantity such as '{example(self.type)}'"
        elif self.type == "int":
            text = "an integer"
        elif self.type == "float":
            text = "a number"
        elif self.type == "bool":
            text = "true or false"
        else:
            text = "a string"
        bounds = []
        if self.positive:
            bounds.append("> 0")
        if self.minimum is not None:
            bounds.append(f">= {self.minimum:g}")
        if self.maximum is not None:
            bounds.append(f"<= {self.maximum:g}")
        if bounds:
            text += " " + " and ".join(bounds)
        if self.nullable:
            text += " (or null to derive it)"
        return text


@dataclass(frozen=True)
class Section:
    """A named group of fields (and nested sections)."""

    desc: str
    fields: dict[str, "Field | Section"] = field(default_factory=dict)

    def walk(self, prefix: str = "") -> Iterator[tuple[str, Field]]:
        """Yield ``(dotted.path, Field)`` for every leaf, in declaration order."""
        for name, item in self.fields.items():
            path = f"{prefix}.{name}" if prefix else name
            if isinstance(item, Section):
                yield from item.walk(path)
            else:
                yield path, item

    def merged(self, other: "Section") -> "Section":
        """A section holding this section's fields and then ``other``'s (no silent overwrite)."""
        overlap = set(self.fields) & set(other.fields)
        if overlap:
            raise TypeError(f"schema sections overlap on {sorted(overlap)}")
        return Section(self.desc, {**self.fields, **other.fields})


class Config:
    """Read-only view of a validated nested config: ``cfg.array.rows`` or ``cfg["array.rows"]``."""

    __slots__ = ("_data",)

    def __init__(self, data: dict):
        object.__setattr__(self, "_data", data)

    def __getattr__(self, name: str) -> Any:
        try:
            value = self._data[name]
        except KeyError:
            raise AttributeError(name) from None
        return Config(value) if isinstance(value, dict) else value

    def __getitem__(self, dotted: str) -> Any:
        value: Any = self._data
        for part in dotted.split("."):
            value = value[part]
        return Config(value) if isinstance(value, dict) else value

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Config is read-only")

    def to_dict(self) -> dict:
        """A deep copy of the resolved values as plain dicts."""
        import copy
        return copy.deepcopy(self._data)

    def __repr__(self) -> str:
        return f"Config({self._data!r})"
