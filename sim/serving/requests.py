"""Requests of a serving run: arrival times and prompt / output lengths, drawn or read.

:func:`request_stream` yields the requests in arrival order, in chunks of :data:`CHUNK`
(NumPy arrays), so that a run of a million requests never holds them all. Draws are seeded:
arrivals, prompts and outputs each take their own stream of one ``SeedSequence``, so the same
spec gives the same requests bit for bit, and changing the rate does not change the lengths.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from sim.core.config import Config
from sim.core.config.safe_input import is_file
from sim.core.errors import ConfigError
from sim.workloads import seqlens

CHUNK = 4096
NS = 1e-9  # s per ns: spec times are stored in ns


@dataclass
class Chunk:
    """Requests ``first .. first + len - 1``: arrival (s), prompt and output tokens."""

    first: int
    arrival: np.ndarray
    prompt: np.ndarray
    output: np.ndarray

    def __len__(self) -> int:
        return len(self.arrival)


def request_stream(spec: Config, max_len: int) -> Iterator[Chunk]:
    """The requests of ``spec.requests`` in arrival order; ``max_len`` caps prompt + output
    of drawn lengths (the model's positions unless ``requests.max_len`` is set)."""
    r = spec.requests
    cap = r.max_len or max_len
    trace = _read_trace(r.trace) if "trace" in (r.arrival, r.lengths) else None
    arrival_rng, prompt_rng, output_rng = (np.random.default_rng(s) for s in
                                           np.random.SeedSequence(r.seed).spawn(3))
    clock, first = 0.0, 0
    stop = r.duration * NS if r.duration else math.inf
    while first < r.num_requests:
        n = min(CHUNK, r.num_requests - first)
        rows = next(trace, None) if trace else None
        if trace is not None and rows is None:
            return  # the trace ended
        if rows is not None:
            n = min(n, len(rows[0]))
            rows = tuple(column[:n] for column in rows)
        if r.arrival == "trace":
            arrival = rows[0]
        else:
            arrival = clock + np.cumsum(_gaps(r, arrival_rng, n)) if r.arrival != "burst" \
                else np.zeros(n)
            clock = float(arrival[-1])
        if r.lengths == "trace":
            prompt, output = rows[1], rows[2]
        else:
            prompt, output = _lengths(r, prompt_rng, output_rng, n, cap)
        keep = int(np.searchsorted(arrival, stop, side="left")) if stop < math.inf else n
        if keep:
            yield Chunk(first, arrival[:keep], prompt[:keep], output[:keep])
        first += keep
        if keep < n:
            return


def _gaps(r: Config, rng: np.random.Generator, n: int) -> np.ndarray:
    """Inter-arrival gaps (s) of ``n`` requests at mean rate ``r.rate``."""
    mean = 1.0 / r.rate
    if r.arrival == "poisson":
        return rng.exponential(mean, n)
    if r.arrival == "gamma":
        shape = 1.0 / (r.cv * r.cv)
        return rng.gamma(shape, mean / shape, n)
    return np.full(n, mean)  # uniform


def _lengths(r: Config, prompt_rng, output_rng, n: int, cap: int
             ) -> tuple[np.ndarray, np.ndarray]:
    """Prompt and output tokens of ``n`` requests, prompt + output <= ``cap``."""
    if r.lengths == "fixed":
        prompt, output = np.full(n, r.prompt_len), np.full(n, r.output_len)
    elif r.lengths == "uniform":
        prompt = prompt_rng.integers(r.prompt_min, r.prompt_max + 1, n)
        output = output_rng.integers(r.output_min, r.output_max + 1, n)
    else:  # a shipped log-normal law (seq_dists.yaml)
        d = seqlens.distributions()[r.lengths]
        prompt = seqlens.lognormal_lengths(prompt_rng, d["input_mean"], d["sigma"], n)
        output = seqlens.lognormal_lengths(output_rng, d["output_mean"], d["sigma"], n)
    prompt = np.minimum(prompt, cap - 1).astype(np.int64)
    output = np.maximum(1, np.minimum(output, cap - prompt)).astype(np.int64)
    return prompt, output


def _read_trace(path: str) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Chunks of ``(arrival s, prompt, output)`` read from a CSV or JSONL trace; a bad line is
    a :class:`ConfigError` naming the file and line."""
    if not is_file(path):
        raise ConfigError(f"requests.trace: {path}: file not found; allowed: a CSV or JSONL "
                          f"file of arrival,prompt_len,output_len")
    return _trace_chunks(path)


def _trace_chunks(path: str):
    rows: list[tuple[float, int, int]] = []
    last = 0.0
    for line, record in _trace_records(path):
        arrival, prompt, output = _trace_row(path, line, record)
        if arrival < last:
            raise ConfigError(f"{path}:{line}: arrival {arrival} is before the previous "
                              f"request's {last}; allowed: non-decreasing arrivals")
        last = arrival
        rows.append((arrival, prompt, output))
        if len(rows) == CHUNK:
            yield _columns(rows)
            rows = []
    if rows:
        yield _columns(rows)


def _columns(rows):
    a, p, o = zip(*rows)
    return np.array(a, dtype=np.float64), np.array(p, dtype=np.int64), np.array(o, dtype=np.int64)


def _trace_records(path: str):
    """``(line number, mapping)`` of each request of the file."""
    with open(path, encoding="utf-8", newline="") as f:
        if path.endswith((".jsonl", ".json")):
            for i, text in enumerate(f, 1):
                if not text.strip():
                    continue
                try:
                    record = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise ConfigError(f"{path}:{i}: not JSON ({exc.msg}); allowed: one object "
                                      f"per line with arrival, prompt_len, output_len") from None
                yield i, record
            return
        reader = csv.DictReader(f)
        missing = {"arrival", "prompt_len", "output_len"} - set(reader.fieldnames or ())
        if missing:
            raise ConfigError(f"{path}:1: header lacks {', '.join(sorted(missing))}; allowed: "
                              f"a CSV header arrival,prompt_len,output_len")
        for i, record in enumerate(reader, 2):
            yield i, record


def _trace_row(path: str, line: int, record) -> tuple[float, int, int]:
    if not isinstance(record, dict):
        raise ConfigError(f"{path}:{line}: expected an object with arrival, prompt_len, "
                          f"output_len")
    try:
        arrival = float(record["arrival"])
        prompt, output = _count(record["prompt_len"]), _count(record["output_len"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{path}:{line}: {_why(exc)}; allowed: arrival (s, >= 0), "
                          f"prompt_len and output_len (integers >= 1)") from None
    if not (math.isfinite(arrival) and arrival >= 0):
        raise ConfigError(f"{path}:{line}: arrival {record['arrival']!r}; allowed: a finite "
                          f"number of seconds >= 0")
    return arrival, prompt, output


def _count(value) -> int:
    number = float(value)
    if not number.is_integer() or not 1 <= number <= 2**24:
        raise ValueError(f"{value!r} is not an integer in 1..{2**24}")
    return int(number)


def _why(exc: Exception) -> str:
    return f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
