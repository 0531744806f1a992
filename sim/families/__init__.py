"""Accelerator families, one folder each; ``kind:`` in an arch YAML picks one.

A family folder holds everything of its family: the :class:`~sim.core.family.Family` subclass
(``family.py``), its Numba kernels (``kernel.py``) and their per-cycle references
(``reference.py``), its cost models, its validation against the paper (``validation.py``) and its
data tables (``data/``). Its ``__init__.py`` imports the module that registers the family.
:func:`discover` imports every folder here once, so a new family is one new folder (plus an arch
YAML) and no other file changes.
"""

from __future__ import annotations

import importlib
import pkgutil

from sim.core.config.schema import did_you_mean
from sim.core.errors import ConfigError, where
from sim.core.family import Family, registered

_DISCOVERED = False


def discover() -> dict[str, type[Family]]:
    """Import every family package under ``sim/families/`` once; the registry by kind."""
    global _DISCOVERED
    if not _DISCOVERED:
        for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
            if info.ispkg and not info.name.startswith("_"):
                importlib.import_module(f"{__name__}.{info.name}")
        _DISCOVERED = True
    return registered()


def get_family(kind: object, file: str | None = None) -> Family:
    """The registered family for ``kind``; an unknown kind lists the known ones."""
    families = discover()
    if not isinstance(kind, str) or kind not in families:
        hint = did_you_mean(kind, families) if isinstance(kind, str) else ""
        raise ConfigError(f"{where(file, 'kind')}: unknown family {kind!r}{hint}; "
                          f"known: {', '.join(sorted(families))}")
    return families[kind]()
