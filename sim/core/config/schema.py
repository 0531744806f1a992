"""Layer one of validation: the schema (types, units, bounds, unknown keys).

:func:`validate` walks a raw YAML mapping against a :class:`~sim.core.config.fields.Section`, fills
defaults, converts quantities to canonical units and collects *every* problem (it does not stop
at the first). Layer two, the semantic rules, belongs to each family (``Family.check``).
"""

from __future__ import annotations

import difflib
import math
import re
from typing import Any

from sim.core.config.fields import Field, Section
from sim.core.errors import where
from sim.core.units import UNITS, UnitError, parse_quantity

#: magnitude limit of every numeric field in canonical units (2^53 ~ 9e15: integers stay exact in
#: float64 and products of a few stay inside int64 for the Numba kernels); fields may set tighter
#: bounds of their own
LIMIT = float(2**53)
#: the words YAML 1.1 turns into booleans (off/no/false, on/yes/true), tried in order for an
#: enum field that has them; a false also picks an enum's "none" (``pim.mode: off``)
YAML_BOOL_WORDS = {False: ("off", "no", "false", "none"), True: ("on", "yes", "true")}
#: a plain decimal number in exponent form that YAML 1.1 leaves as a string (``1e-3``)
NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)$")


def did_you_mean(name: str, options) -> str:
    """`` (did you mean 'rows'?)`` when a close match exists, else an empty string."""
    close = difflib.get_close_matches(str(name), list(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def validate(raw: Any, schema: Section, file: str | None, prefix: str = "",
             problems: list[str] | None = None) -> tuple[dict, list[str]]:
    """Check ``raw`` against ``schema``; return ``(resolved_dict, problems)``.

    ``prefix`` is the key path of ``raw`` inside the file, used in messages.
    """
    problems = [] if problems is None else problems
    out: dict = {}
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        problems.append(f"{where(file, prefix or '<top>')}: expected a mapping of keys, "
                        f"got {type(raw).__name__} {_show(raw)}")
        raw = {}
    for key in raw:
        if not isinstance(key, str) or key not in schema.fields:
            shown = key if isinstance(key, str) and key.isprintable() and key.strip() == key \
                else repr(key)  # a key with a newline or control characters stays one line
            path = f"{prefix}.{shown}" if prefix else str(shown)
            problems.append(f"{where(file, path)}: unknown key{did_you_mean(key, schema.fields)}; "
                            f"allowed here: {', '.join(schema.fields)}")
    for name, item in schema.fields.items():
        path = f"{prefix}.{name}" if prefix else name
        if isinstance(item, Section):
            out[name], _ = validate(raw.get(name), item, file, path, problems)
            continue
        if name not in raw:
            if item.required:
                problems.append(f"{where(file, path)}: missing required key; expected {item.allowed()}")
                out[name] = None
            else:
                out[name] = item.default
            continue
        out[name] = coerce(raw[name], item, file, path, problems)
    return out, problems


def coerce(value: Any, spec: Field, file: str | None, path: str, problems: list[str]) -> Any:
    """Convert one raw value to the field's type; append a message and return the default on error."""
    def bad(reason: str = "") -> Any:
        detail = reason or f"expected {spec.allowed()}, got {_show(value)}"
        problems.append(f"{where(file, path)}: {detail}")
        return spec.default if not spec.required else None

    if value is None:
        return None if spec.nullable else bad()
    kind = spec.type
    if kind == "bool":
        return value if isinstance(value, bool) else bad()
    if kind == "str":
        return value if isinstance(value, str) and value else bad()
    if kind == "enum":
        if isinstance(value, bool):  # YAML 1.1 reads off/on/no/yes as booleans
            value = next((w for w in YAML_BOOL_WORDS[value] if w in spec.choices), value)
        if isinstance(value, str) and value in spec.choices:
            return value
        return bad(f"{_show(value)} is not allowed{did_you_mean(value, spec.choices)}; "
                   f"expected {spec.allowed()}")
    if isinstance(value, str) and kind in ("int", "float") and NUMBER.match(value.strip()):
        value = float(value)  # YAML 1.1 reads 1e-3 (no dot) as a string
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return bad()
        if isinstance(value, float) and (not math.isfinite(value) or not value.is_integer()):
            return bad()
        number: float = int(value)
    elif kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return bad()
        number = float(value)
    elif kind in UNITS:
        try:
            number = parse_quantity(value, kind)
        except UnitError as exc:
            return bad(str(exc))
    else:  # pragma: no cover - guarded by Field.__post_init__
        raise TypeError(kind)
    if abs(number) > LIMIT:
        return bad(f"{_show(value)} is beyond any design this simulator models; "
                   f"expected {spec.allowed()} of magnitude <= {LIMIT:.0e}")
    if spec.positive and not number > 0:
        return bad(f"must be > 0, got {_show(value)}")
    if spec.minimum is not None and number < spec.minimum:
        return bad(f"must be >= {spec.minimum:g}, got {_show(value)}")
    if spec.maximum is not None and number > spec.maximum:
        return bad(f"must be <= {spec.maximum:g}, got {_show(value)}")
    return number


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
