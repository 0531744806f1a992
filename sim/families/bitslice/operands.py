"""Operand values for value-dependent timing: stated distributions or real tensors.

An operand spec (a config section built by :func:`operand_section`) says where the integer values
of a weight or activation operand come from:

* ``normal`` / ``laplace``: integers on the operand's own grid (sigma / scale in LSBs), drawn by
  rejection inside the representable range and rounded half away from zero, as the HPCA'25
  testbench draws its normal int8 data (``normal_random`` in ``test_opt3_pe_*.sv``);
* ``uniform``: every representable value equally likely;
* ``absmax``: real-valued normal (or Laplace, ``shape``) data quantised per group of ``group``
  consecutive values with a symmetric abs-max scale, as GPTQ/AWQ-style group quantisers store
  LLM weights (group 128) and per-token int8 activation quantisers do (group 0 = whole row);
* ``file``: a NumPy ``.npy`` integer array (e.g. real quantised weights), read in order and
  cycled to fill each operand row.

Draws are deterministic: the generator is seeded from the config seed and a label of the op.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np

from sim.core.config import Field, Section
from sim.core.config.safe_input import read_bytes
from sim.core.errors import ConfigError, where

DISTRIBUTIONS = ("normal", "laplace", "uniform", "absmax", "file")


def operand_section(desc: str, dist: str, sigma: float, group: int, shape: str) -> Section:
    return Section(desc, {
        "dist": Field("enum", dist, "Where the integer values come from (see docs/bitslice.md)",
                      choices=DISTRIBUTIONS),
        "sigma": Field("float", sigma, "normal: standard deviation; laplace: scale; in LSBs of "
                       "the operand's integer grid", positive=True),
        "shape": Field("enum", shape, "absmax: distribution of the real values before "
                       "quantisation", choices=("normal", "laplace")),
        "group": Field("int", group, "absmax: values sharing one scale (0, or a group at "
                       "least as long as the row = the whole row)",
                       minimum=0),
        "file": Field("str", None, "file: path of a .npy integer array (relative to the arch "
                      "file)", nullable=True),
    })


def seed_for(seed: int, *labels) -> int:
    """A 63-bit generator seed from the config seed and labels (stable across processes)."""
    blob = repr((seed,) + labels).encode()
    return int.from_bytes(hashlib.sha256(blob).digest()[:8], "little") >> 1


def _round_half_away(x: np.ndarray) -> np.ndarray:
    return np.trunc(x + np.copysign(0.5, x))


def _draw_grid(rng: np.random.Generator, n: int, bits: int, dist: str, sigma: float) -> np.ndarray:
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    if dist == "uniform":
        return rng.integers(lo, hi + 1, size=n, dtype=np.int64)
    out = np.empty(n, dtype=np.float64)
    todo = np.arange(n)
    while todo.size:  # rejection keeps the shape inside the range (no pile-up at the ends)
        z = rng.normal(0.0, sigma, todo.size) if dist == "normal" else rng.laplace(0.0, sigma, todo.size)
        ok = (z >= lo) & (z <= hi)
        out[todo[ok]] = z[ok]
        todo = todo[~ok]
    return _round_half_away(out).astype(np.int64)


def _draw_absmax(rng: np.random.Generator, rows: int, k: int, bits: int, shape: str,
                 group: int) -> np.ndarray:
    z = rng.normal(size=(rows, k)) if shape == "normal" else rng.laplace(size=(rows, k))
    g = k if group == 0 or group >= k else group  # a group never spans rows
    pad = -k % g
    zp = np.pad(z, ((0, 0), (0, pad))).reshape(rows, -1, g)
    qmax = (1 << (bits - 1)) - 1
    scale = np.abs(zp).max(axis=2, keepdims=True) / max(qmax, 1)
    scale[scale == 0] = 1.0
    q = np.clip(_round_half_away(zp / scale), -qmax - 1, qmax)
    return q.reshape(rows, -1)[:, :k].astype(np.int64)


#: largest operand file read (bytes): a 7B model's largest weight matrix in int8 is 180 MB
MAX_OPERAND_BYTES = 512 * 2**20


def load_tensor(spec, bits: int, file: str | None, key: str) -> np.ndarray:
    """The flattened integers of a ``file`` operand, checked against ``bits``."""
    path = Path(spec.file)
    if not path.is_absolute() and file:
        path = Path(file).resolve().parent / path
    data = read_bytes(path, MAX_OPERAND_BYTES, ConfigError, ".npy operand file")
    try:
        arr = np.load(io.BytesIO(data), allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise ConfigError(f"{where(file, key + '.file')}: cannot read {str(path)!r} "
                          f"({exc.__class__.__name__}); allowed: a .npy integer array") from None
    if not isinstance(arr, np.ndarray):  # np.load returns an NpzFile for a .npz archive
        raise ConfigError(f"{where(file, key + '.file')}: {str(path)!r} is a .npz archive, "
                          f"not one array; allowed: a .npy integer array (np.save)")
    if arr.dtype.kind not in "iu" or arr.size == 0:
        raise ConfigError(f"{where(file, key + '.file')}: {str(path)!r} holds {arr.dtype} "
                          f"values; allowed: a non-empty integer array")
    if arr.dtype == np.uint64 and int(arr.max()) > np.iinfo(np.int64).max:  # would wrap
        raise ConfigError(f"{where(file, key + '.file')}: {str(path)!r} holds uint64 values up "
                          f"to {int(arr.max())}, beyond any {bits}-bit operand; allowed: values "
                          f"in [{-(1 << (bits - 1))}, {(1 << (bits - 1)) - 1}]")
    flat = arr.astype(np.int64).ravel()
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    if flat.min() < lo or flat.max() > hi:
        raise ConfigError(f"{where(file, key + '.file')}: values span [{flat.min()}, "
                          f"{flat.max()}], outside the {bits}-bit range [{lo}, {hi}]")
    return flat


def draw(spec, bits: int, rows: int, k: int, rng: np.random.Generator,
         tensor: np.ndarray | None = None, offset: int = 0) -> np.ndarray:
    """A ``rows x k`` int64 array of ``bits``-bit operand values following ``spec``.

    ``tensor`` (from :func:`load_tensor`) serves ``file`` specs, starting at element ``offset``.
    """
    if spec.dist == "file":
        idx = (offset + np.arange(rows * k, dtype=np.int64)) % tensor.size
        return tensor[idx].reshape(rows, k)
    if spec.dist == "absmax":
        return _draw_absmax(rng, rows, k, bits, spec.shape, spec.group)
    return _draw_grid(rng, rows * k, bits, spec.dist, spec.sigma).reshape(rows, k)
