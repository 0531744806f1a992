"""Per-request sequence lengths of a decode batch, drawn from a shipped distribution.

A decode batch under continuous batching holds requests at every stage of their generation;
:func:`snapshot_lengths` reproduces that the way NeuPIMs' trace generator does (see
``sim/workloads/data/seq_dists.yaml`` for the parameters and their sources): requests with
log-normal input and output lengths enter, produce ``step_tokens`` tokens per step, leave when their
output is done and are replaced; after a warm-up the current lengths (input + tokens produced so
far, capped at ``max_len``) are the batch. A fixed seed makes the batch reproducible bit for bit.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import yaml

PATH = Path(__file__).resolve().parent / "data" / "seq_dists.yaml"


@lru_cache(maxsize=1)
def distributions() -> dict:
    with open(PATH, encoding="utf-8") as f:
        return yaml.safe_load(f)


def names() -> tuple[str, ...]:
    return tuple(k for k in distributions() if k != "generator")


def lognormal_lengths(rng: np.random.Generator, mean: float, sigma: float, n: int) -> np.ndarray:
    """Log-normal integer lengths >= 1 with the given mean (tokens)."""
    mu = np.log(mean) - sigma * sigma / 2
    return np.maximum(1, np.rint(rng.lognormal(mu, sigma, n))).astype(np.int64)


@lru_cache(maxsize=64)
def snapshot_lengths(dist: str, batch: int, seed: int) -> tuple[int, ...]:
    """Sequence lengths (tokens in the KV cache) of ``batch`` in-flight requests."""
    d, g = distributions()[dist], distributions()["generator"]
    rng = np.random.default_rng(seed)
    cap, step = g["max_len"], g["step_tokens"]
    inp = np.minimum(lognormal_lengths(rng, d["input_mean"], d["sigma"], batch), cap - 1)
    out = lognormal_lengths(rng, d["output_mean"], d["sigma"], batch)
    done = np.zeros(batch, dtype=np.int64)
    for _ in range(g["warmup_steps"]):
        done += step
        finished = (done >= out) | (inp + done >= cap)
        k = int(finished.sum())
        if k:
            inp[finished] = np.minimum(lognormal_lengths(rng, d["input_mean"], d["sigma"], k), cap - 1)
            out[finished] = lognormal_lengths(rng, d["output_mean"], d["sigma"], k)
            done[finished] = rng.integers(0, step, k)  # arrivals spread within a step
    return tuple(int(x) for x in np.minimum(inp + done, cap))
