"""Design-space analysis of sweep results: Pareto fronts and plots.

Rows are the dicts of :class:`sim.sweeps.runner.SweepResult` (or
:func:`sim.sweeps.runner.load_results`) or a pandas DataFrame of them. Objectives map a metric to
``"min"`` or ``"max"``::

    front = pareto_front(result.ok(), {"tokens_per_second": "max", "area_mm2": "min",
                                       "joules_per_token": "min"})
"""

from __future__ import annotations

import math

import numpy as np

from sim.core.errors import SweepError


def pareto_mask(values: np.ndarray, senses: list[str]) -> np.ndarray:
    """Boolean mask of the non-dominated rows of ``values`` (n points x k objectives).

    A point is dominated when another is at least as good in every objective and better in one;
    rows with a NaN are never on the front. Equal points are all kept.
    """
    v = np.asarray(values, dtype=float)
    signs = np.array([-1.0 if s == "max" else 1.0 for s in senses])
    cost = v * signs  # minimise every column
    finite = np.all(np.isfinite(cost), axis=1)
    keep = finite.copy()
    others = cost[finite]
    for i in np.flatnonzero(finite):
        dominated = np.all(others <= cost[i], axis=1) & np.any(others < cost[i], axis=1)
        keep[i] = not dominated.any()
    return keep


def pareto_front(rows, objectives: dict):
    """The rows on the Pareto front of ``objectives`` ({metric: "min"|"max"}), sorted by the
    first objective; a DataFrame in gives a DataFrame out."""
    if not objectives or len(objectives) < 2:
        raise SweepError(f"pareto: give two or three objectives, got {objectives!r}")
    for metric, sense in objectives.items():
        if sense not in ("min", "max"):
            raise SweepError(f"pareto.{metric}: expected min or max, got {sense!r}")
    metrics, senses = list(objectives), list(objectives.values())
    if hasattr(rows, "to_dict") and hasattr(rows, "columns"):  # a DataFrame
        missing = [m for m in metrics if m not in rows.columns]
        _no_metric(missing, list(rows.columns))
        mask = pareto_mask(rows[metrics].to_numpy(dtype=float), senses)
        return rows[mask].sort_values(metrics[0])
    rows = list(rows)
    known = set().union(*(r.keys() for r in rows)) if rows else set(metrics)
    _no_metric([m for m in metrics if m not in known], sorted(known))
    values = np.array([[_num(r.get(m)) for m in metrics] for r in rows]).reshape(len(rows), len(metrics))
    mask = pareto_mask(values, senses)
    front = [r for r, keep in zip(rows, mask) if keep]
    return sorted(front, key=lambda r: _num(r[metrics[0]]))


def _no_metric(missing, known) -> None:
    if missing:
        raise SweepError(f"pareto: unknown metric {missing[0]!r}; known: {', '.join(map(str, known))}")


def _num(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _records(rows) -> list[dict]:
    if hasattr(rows, "to_dict") and hasattr(rows, "columns"):
        return rows.to_dict("records")
    return [r for r in rows if r.get("status", "ok") == "ok"]


# ---- plots ----------------------------------------------------------------------------------
def plot_pareto(rows, x: str, y: str, objectives: dict | None = None, color: str | None = None,
                ax=None, logx: bool = False, logy: bool = False):
    """Scatter ``y`` against ``x`` for every point with the Pareto front of ``objectives``
    (default: least ``x``, most ``y``) ringed; ``color`` names a parameter to colour points by.
    Returns the matplotlib Axes."""
    import matplotlib.pyplot as plt
    rows = _records(rows)
    objectives = objectives or {x: "min", y: "max"}
    ax = ax or plt.subplots(figsize=(6, 4.2))[1]
    groups = _groups(rows, color)
    for label, members in groups.items():
        ax.scatter([_num(r[x]) for r in members], [_num(r[y]) for r in members], s=18,
                   alpha=0.6, label=label if color else "design points")
    front = pareto_front(rows, objectives)
    fx, fy = [_num(r[x]) for r in front], [_num(r[y]) for r in front]
    if len(objectives) == 2:  # a 2-D front is a staircase worth joining
        order = np.argsort(fx)
        ax.plot(np.array(fx)[order], np.array(fy)[order], "k-", lw=1)
    ax.scatter(fx, fy, s=60, facecolors="none", edgecolors="k", label="Pareto front")
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.legend(fontsize=8, title=color)
    ax.grid(alpha=0.3)
    return ax


def plot_metric_vs_param(rows, param: str, metric: str, by: str | None = None, ax=None,
                         logx: bool = False):
    """``metric`` against ``param``, one line per value of ``by`` (mean over the other axes)."""
    import matplotlib.pyplot as plt
    rows = _records(rows)
    ax = ax or plt.subplots(figsize=(6, 4.2))[1]
    for label, members in _groups(rows, by).items():
        xs = sorted({r[param] for r in members}, key=_sort_key)
        ys = [np.mean([_num(r[metric]) for r in members if r[param] == v]) for v in xs]
        numeric = all(isinstance(v, (int, float)) for v in xs)
        ax.plot(xs if numeric else [str(v) for v in xs], ys, marker="o", label=label if by else metric)
    ax.set_xlabel(param)
    ax.set_ylabel(metric)
    if logx:
        ax.set_xscale("log", base=2)
    ax.legend(fontsize=8, title=by)
    ax.grid(alpha=0.3)
    return ax


def plot_energy_breakdown(rows, label: str | list[str], per_token: bool = True, ax=None):
    """Stacked bars of the energy components of each point, labelled by the ``label`` param(s)."""
    import matplotlib.pyplot as plt
    rows = _records(rows)
    labels = [label] if isinstance(label, str) else list(label)
    comps = sorted({k for r in rows for k, v in r.items()
                    if k.startswith("energy.") and v is not None and _num(v) == _num(v)})
    ax = ax or plt.subplots(figsize=(max(6, 0.45 * len(rows)), 4.2))[1]
    bottom = np.zeros(len(rows))
    for comp in comps:
        vals = np.array([_num(r.get(comp)) if r.get(comp) is not None else 0.0 for r in rows])
        if per_token:
            vals = vals / np.array([_num(r["tokens"]) for r in rows])
        ax.bar(range(len(rows)), vals, bottom=bottom, label=comp.split(".", 1)[1])
        bottom += vals
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels([" ".join(str(r.get(k)) for k in labels) for r in rows], rotation=60,
                       ha="right", fontsize=7)
    ax.set_ylabel("energy per token (J)" if per_token else "energy (J)")
    ax.legend(fontsize=7, ncol=2)
    return ax


def _groups(rows, by):
    if not by:
        return {None: rows}
    out: dict = {}
    for r in sorted(rows, key=lambda r: _sort_key(r.get(by))):
        out.setdefault(f"{r.get(by)}", []).append(r)
    return out


def _sort_key(v):
    return (0, v, "") if isinstance(v, (int, float)) else (1, 0, str(v))
