"""User-facing errors.

Every mistake a user can make in a config or workload ends in one of these exceptions. Each
problem is one line that names the file, the key path, the bad value and what is allowed; the
CLI prints the lines and exits with code 2, never a traceback.
"""

from __future__ import annotations


class SimError(Exception):
    """Base class of the errors the CLI reports as user mistakes (exit code 2)."""

    def __init__(self, problems: list[str] | str):
        if isinstance(problems, str):
            problems = [problems]
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class ConfigError(SimError):
    """An architecture config (YAML or --set override) is malformed or inconsistent."""


class WorkloadError(SimError):
    """A workload, model or trace is unknown, malformed, or cannot run on the architecture."""


def where(file: str | None, path: str) -> str:
    """Prefix ``file: key.path`` used by every message."""
    loc = f"{file}: " if file else ""
    return f"{loc}{path}" if path else (file or "<config>")


class SweepError(SimError):
    """A sweep spec is malformed: an unknown axis key, an empty axis, a bad constraint."""
