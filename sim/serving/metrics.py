"""Streaming statistics of a serving run, in memory that does not grow with the requests.

:class:`LogHistogram` keeps counts in bins 0.1 % wide on a log scale, so a percentile is exact
to 0.05 % whatever the number of requests; :class:`TimeSeries` keeps a step-by-step series
of at most :data:`MAX_POINTS` points by averaging neighbours over time when it fills.
"""

from __future__ import annotations

import math

#: relative width of a histogram bin
BIN_RATIO = 1.001
_LOG_BIN = math.log(BIN_RATIO)
MAX_POINTS = 4096


class LogHistogram:
    """Counts of positive values in log-spaced bins, plus their exact count, sum and extremes."""

    def __init__(self):
        self.bins: dict[int, int] = {}
        self.zeros = 0
        self.count = 0
        self.total = 0.0
        self.low = math.inf
        self.high = -math.inf

    def add(self, x: float) -> None:
        self.count += 1
        self.total += x
        self.low = min(self.low, x)
        self.high = max(self.high, x)
        if x <= 0:
            self.zeros += 1
            return
        b = math.floor(math.log(x) / _LOG_BIN)
        self.bins[b] = self.bins.get(b, 0) + 1

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else math.nan

    def percentile(self, q: float) -> float:
        """The ``q``-th percentile (0-100): the geometric centre of the bin holding it,
        clamped to the exact extremes."""
        if not self.count:
            return math.nan
        rank = max(1, math.ceil(q / 100 * self.count))
        if rank <= self.zeros:
            return 0.0
        seen = self.zeros
        for b in sorted(self.bins):
            seen += self.bins[b]
            if seen >= rank:
                centre = BIN_RATIO ** (b + 0.5)
                return min(max(centre, self.low), self.high)
        return self.high  # pragma: no cover - rank <= count

    def cdf(self) -> tuple[list[float], list[float]]:
        """The empirical CDF at the upper edge of each occupied bin (values, fractions)."""
        xs, ps, seen = [], [], self.zeros
        if self.zeros:
            xs.append(0.0)
            ps.append(self.zeros / self.count)
        for b in sorted(self.bins):
            seen += self.bins[b]
            xs.append(min(BIN_RATIO ** (b + 1), self.high))
            ps.append(seen / self.count)
        return xs, ps

    def summary(self) -> dict:
        return {"mean": self.mean, "p50": self.percentile(50), "p90": self.percentile(90),
                "p99": self.percentile(99), "max": self.high if self.count else math.nan}


class TimeSeries:
    """``(time s, value)`` samples, each the value held from that time to the next sample;
    thinned to at most :data:`MAX_POINTS` by merging neighbours (time-weighted means)."""

    def __init__(self):
        self.t: list[float] = []
        self.v: list[float] = []
        self._stride = 1
        self._pending: list[tuple[float, float]] = []

    def add(self, t: float, value: float) -> None:
        self._pending.append((t, value))
        if len(self._pending) < self._stride:
            return
        self._flush_pending(t)
        if len(self.t) >= MAX_POINTS:
            self._halve()

    def _flush_pending(self, now: float) -> None:
        if not self._pending:
            return
        start = self._pending[0][0]
        if len(self._pending) == 1 or now <= start:
            value = self._pending[0][1]
        else:  # the mean over the pending samples, each weighted by how long it held
            pts = self._pending
            span = pts[-1][0] - start
            value = (sum(v * (pts[i + 1][0] - t) for i, (t, v) in enumerate(pts[:-1])) / span
                     if span > 0 else pts[-1][1])
        self.t.append(start)
        self.v.append(value)
        self._pending = []

    def _halve(self) -> None:
        t, v = self.t, self.v
        merged_t, merged_v = [], []
        for i in range(0, len(t) - 1, 2):
            span = t[i + 2] - t[i] if i + 2 < len(t) else 0.0
            w = (t[i + 1] - t[i]) / span if span > 0 else 0.5
            merged_t.append(t[i])
            merged_v.append(v[i] * w + v[i + 1] * (1 - w))
        if len(t) % 2:
            merged_t.append(t[-1])
            merged_v.append(v[-1])
        self.t, self.v = merged_t, merged_v
        self._stride *= 2

    def points(self) -> tuple[list[float], list[float]]:
        """The series so far (pending samples included)."""
        t, v = list(self.t), list(self.v)
        if self._pending:
            t.append(self._pending[0][0])
            v.append(sum(p[1] for p in self._pending) / len(self._pending))
        return t, v

    def time_average(self, end: float) -> float:
        """The value's mean over time up to ``end`` (s)."""
        t, v = self.points()
        if not t or end <= t[0]:
            return math.nan
        area = sum(v[i] * ((t[i + 1] if i + 1 < len(t) else end) - t[i]) for i in range(len(t)))
        return area / (end - t[0])
