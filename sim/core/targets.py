"""A validation target table: the paper's figure, ours, the tolerance, and whether it passes.

Repro scripts (``docs/*_repro.py``) list every figure an issue sets as a target, print the
table and, with ``--json FILE``, write the same rows as JSON.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Target:
    """One figure. ``tolerance`` is relative (0.2 = within 20 %) or, with ``points``, absolute
    in the figure's own unit (percentage points). ``at_most``: a bound, not a value to match
    (ours may be anywhere up to ``paper`` + tolerance; ``at_least`` likewise from below).
    ``ours`` None means not measured (a fail)."""

    figure: str
    paper: float
    ours: float | None
    tolerance: float
    points: bool = False
    note: str = ""
    at_least: bool = False
    at_most: bool = False

    @property
    def error(self) -> float | None:
        """ours - paper (points) or ours / paper - 1 (relative); None when not measured."""
        if self.ours is None:
            return None
        return self.ours - self.paper if self.points else self.ours / self.paper - 1

    @property
    def passed(self) -> bool:
        e = self.error
        if e is None:
            return False
        if self.at_least:
            return e >= -self.tolerance - 1e-12
        if self.at_most:
            return e <= self.tolerance + 1e-12
        return abs(e) <= self.tolerance + 1e-12


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _fmt_error(t: Target) -> str:
    if t.error is None:
        return "not measured"
    return f"{t.error:+.2f} pt" if t.points else f"{t.error:+.1%}"


def _fmt_tolerance(t: Target) -> str:
    text = f"{t.tolerance:g} pt" if t.points else f"{t.tolerance:.0%}"
    return (">= " if t.at_least else "<= " if t.at_most else "") + text


def render(targets: list[Target]) -> str:
    """The table as text: figure, paper, ours, error, tolerance, pass/FAIL, and a count."""
    width = max(len(t.figure) for t in targets)
    lines = [f"{'figure':<{width}}  {'paper':>9} {'ours':>9} {'error':>13} "
             f"{'tolerance':>9}  result"]
    for t in targets:
        lines.append(f"{t.figure:<{width}}  {_fmt(t.paper):>9} {_fmt(t.ours):>9} "
                     f"{_fmt_error(t):>13} {_fmt_tolerance(t):>9}  "
                     f"{'pass' if t.passed else 'FAIL'}{'  ' + t.note if t.note else ''}")
    lines.append(f"{sum(t.passed for t in targets)} of {len(targets)} within tolerance")
    return "\n".join(lines)


def write_json(targets: list[Target], path: str | Path) -> None:
    """The rows as a JSON list, each with its error and pass flag."""
    rows = [{**asdict(t), "error": t.error, "passed": t.passed} for t in targets]
    Path(path).write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")


def publish(targets: list[Target], json_path: str | Path | None, heading: str) -> None:
    """Print ``heading`` and the table; write the JSON rows when ``json_path`` is given."""
    print(f"\n{heading}")
    print(render(targets))
    if json_path:
        write_json(targets, json_path)
