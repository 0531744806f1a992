"""Planning shared by every family: element-wise ops on the vector unit, and operand precisions
checked against what the compute unit takes."""

from __future__ import annotations

import numpy as np

from sim.core.components import VECTOR_OPS_PER_ELEMENT
from sim.core.engine import coalesce
from sim.core.errors import where
from sim.core.family import OpPlan
from sim.core.ops import Elementwise


def plan_vector(op: Elementwise, vector, resident_bytes: int, channel, fma_pj: float,
                sram_read_pj_per_bit: float, sram_write_pj_per_bit: float) -> OpPlan:
    """Tiles of ``vector.tile_elements`` streamed through the vector unit; operands bigger than
    ``resident_bytes`` go through DRAM. The pipeline drain is paid once, after the last tile."""
    per_elem = VECTOR_OPS_PER_ELEMENT[op.op]
    return plan_stream(op.elements, op.elements * per_elem, op.in_bytes, op.out_bytes,
                       op.param_read_bytes, op.kv_write_bytes, vector, resident_bytes, channel,
                       fma_pj, sram_read_pj_per_bit, sram_write_pj_per_bit,
                       f"{per_elem} ops/element")


def plan_stream(elements: int, work: int, in_bytes: int, out_bytes: int, param_bytes: int,
                kv_bytes: int, vector, resident_bytes: int, channel, fma_pj: float,
                sram_read_pj_per_bit: float, sram_write_pj_per_bit: float,
                what: str) -> OpPlan:
    """``work`` vector operations over ``elements`` streamed in tiles (see :func:`plan_vector`);
    activations bigger than ``resident_bytes`` and all parameters and KV writes use DRAM."""
    in_dram = in_bytes if in_bytes > resident_bytes else 0
    out_dram = out_bytes if out_bytes > resident_bytes else 0
    load_total = param_bytes + in_dram
    store_total = out_dram + kv_bytes
    tiles = max(1, -(-elements // vector.tile_elements))
    last = elements - (tiles - 1) * vector.tile_elements
    span = max(elements, 1) * vector.lanes  # a tile of e elements costs ceil(e * work / span)
    comp = np.array([-(-vector.tile_elements * work // span)] * (tiles - 1)
                    + [-(-last * work // span), vector.latency], dtype=np.int64)
    counts, load_g, comp_g, store_g = coalesce(np.ones(tiles + 1, dtype=np.int64),
                                               np.r_[split(load_total, tiles), 0], comp,
                                               np.r_[split(store_total, tiles), 0])
    energy = {
        "vector": work * fma_pj,
        "sram": 8 * ((in_bytes + param_bytes) * sram_read_pj_per_bit
                     + (out_bytes + kv_bytes) * sram_write_pj_per_bit),
    }
    roofline = max(-(-work // vector.lanes), channel.peak_cycles(load_total + store_total))
    return OpPlan("vector", counts, load_g, comp_g, store_g, 0, vector.lanes, roofline, energy,
                  sram_read_bytes=in_bytes + param_bytes,
                  sram_write_bytes=out_bytes + kv_bytes, vector_ops=work,
                  mapping=f"{tiles} tile(s) of <= {vector.tile_elements} elements, "
                          f"{what} on {vector.lanes} lanes")


def split(total: int, parts: int) -> np.ndarray:
    """``total`` bytes over ``parts`` tiles: equal shares, the remainder on the last tile."""
    share = total // parts
    out = np.full(parts, share, dtype=np.int64)
    out[-1] += total - share * parts
    return out


def precision_problems(workload, arch_file: str | None, limits: dict[str, tuple[int, str]],
                       minimum: int = 1) -> list[str]:
    """Workload precisions (``weight_bits``, ``act_bits``, ...) above what the compute
    unit takes; ``limits`` maps each to (bits, config key). Below ``minimum`` is also a problem."""
    w = workload.cfg
    label = workload.source_file or f"workload {workload.name}"
    out = []
    for key, (limit, field) in limits.items():
        have = w[key]
        if have > limit:
            out.append(f"{where(label, 'workload.' + key)}: {have} bits exceed {field}={limit} "
                       f"of {arch_file or 'the arch'}; allowed: <= {limit}")
        if have < minimum:
            out.append(f"{where(label, 'workload.' + key)}: {have}-bit operands are not "
                       f"supported here; allowed: >= {minimum}")
    return out
