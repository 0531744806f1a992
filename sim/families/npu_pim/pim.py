"""PIM attention on HBM banks: timing vector, KV-cache layout, channel programs, channel runs.

NeuPIMs / Newton dataflow (NeuPIMs, ASPLOS'24, Sec. IV): each request's K and V live in one
channel. A *tile* is the same row in all ``banks`` banks of the channel.

* Logits ``q K^T``: bank ``b`` of key tile ``t`` holds token ``banks * t + b``; a row holds
  ``row_elems / d_k`` heads of that token. Per query chunk of ``row_elems`` elements: GWRITE the
  chunk, then per key tile one PIM_GEMV of ``ceil(d_k / macs)`` MACs per head in the row.
* Softmax of every head on the NPU vector unit; the logits go back through the memory path.
* Attend ``s V``: bank ``b`` holds one output dimension of one head for ``row_elems`` consecutive
  tokens. Per head and per ``row_elems``-token chunk: GWRITE the logit chunk, then
  ``ceil(d_k / banks)`` tiles of one PIM_GEMV of ``ceil(tokens / macs)`` MACs (rounded up to a
  power of two, as NeuPIMs' header encodes ``log2`` of the count).

:func:`request_program` emits this as rows of :mod:`sim.families.npu_pim.kernel`'s program format;
:func:`channel_program` strings the requests of one channel together, with the softmax between
each request's logit and attend GEMVs either overlapped with the next request's logits (dual row
buffers) or exposed (single row buffer: results cannot reach the NPU while PIM holds the banks).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.families.npu_pim.kernel import (GWRITE, MARK, N_TIMING, P_ACT_GACT, P_CL, P_GEMV_GWR,
                                         P_GEMV_MIN_K, P_GEMV_NPRE, P_GEMV_PRE, P_GEMV_RD,
                                         P_RD_GEMV, P_TBL,
                                         P_TCCD_L, P_TCCD_S, P_TFAW, P_TGW, P_TRAS, P_TRC, P_TRCD,
                                         P_TRP, P_TRRD_L, P_TRRD_S, P_TRTP, P_TRTRS, S_ACT, S_GACT,
                                         S_GEMV, S_GWRITE, S_LAST_ISSUE, S_MACCMD, S_NORMAL_END,
                                         S_PIM_END, S_PPRE, S_PRE, S_RD, S_READS_BESIDE_PIM, TILE,
                                         WAIT, run_channel)

#: PIM command timings that are not DRAM-standard parameters. NeuPIMs@f299af3 is the authors'
#: artifact, github.com/casys-kaist/NeuPIMs at commit f299af3, with NewtonSim in extern/.
PIM_TIMING_SOURCES = {  # NewtonSim's timing.cc / configuration.cc in NeuPIMs@f299af3
    "tGW": "GWRITE = (tCCD_S + tCCD_L) x 32 = 96 cycles (NewtonSim configuration.cc)",
    "gemv_to_pim_pre": "PIM_GEMV -> PIM_PRE 5 cycles (NewtonSim timing.cc)",
    "gemv_to_rd": "PIM_GEMV -> RD 4 cycles: result burst + rank switch (NewtonSim timing.cc)",
    "rd_to_gemv": "RD -> PIM_GEMV 2 cycles, other bank group (NewtonSim timing.cc)",
    "gemv_to_gwrite": "PIM_GEMV -> GWRITE 2 cycles (NewtonSim timing.cc)",
    "gemv_occupancy": "PIM_GEMV(k) holds the channel 2 (max(k, 6) + 1) cycles; Newton's k "
                      "COMPs and READRES 2 (k + 1) (NewtonSim timing.cc, channel_state.cc)",
    "pim_to_pre": "PIM -> normal PRE 5 cycles single row buffer, 0 dual (NewtonSim timing.cc)",
    "act_to_gact": "ACT <-> G_ACT same bank tRC single row buffer, tRRD_L dual "
                   "(NewtonSim timing.cc)",
}


#: PIM command sets (``pim.command_set``): what the NPU sends per head of a tile, and the fewest
#: MAC steps a GEMV occupies the channel for (NeuPIMs@f299af3, npu+pim branch
#: NeuPIMSLogitSoftmax.cc / NeuPIMSAttend.cc; NewtonSim channel_state.cc)
COMMAND_SETS = {"composite": {"per_head": "one PIM_COMPS_READRES", "k_min": 6},
                "newton": {"per_head": "k PIM_COMPs and a PIM_READRES", "k_min": 1}}


def pim_timing(t: dict, dual: bool, t_gw: int, command_set: str = "composite") -> np.ndarray:
    """The kernel's timing vector from DRAM timings ``t`` (cycles), the row-buffer mode and
    the command set."""
    tm = np.zeros(N_TIMING, dtype=np.int64)
    for idx, name in ((P_CL, "CL"), (P_TBL, "tBL"), (P_TRCD, "tRCD"), (P_TRP, "tRP"),
                      (P_TRAS, "tRAS"), (P_TRC, "tRC"), (P_TCCD_S, "tCCD_S"),
                      (P_TCCD_L, "tCCD_L"), (P_TRRD_S, "tRRD_S"), (P_TRRD_L, "tRRD_L"),
                      (P_TFAW, "tFAW"), (P_TRTP, "tRTP"), (P_TRTRS, "tRTRS")):
        tm[idx] = t[name]
    tm[P_TGW] = t_gw
    tm[P_GEMV_PRE] = 5
    tm[P_GEMV_RD] = 4
    tm[P_RD_GEMV] = 2
    tm[P_GEMV_GWR] = 2
    tm[P_GEMV_NPRE] = 0 if dual else 5
    tm[P_ACT_GACT] = t["tRRD_L"] if dual else t["tRC"]
    tm[P_GEMV_MIN_K] = COMMAND_SETS[command_set]["k_min"]
    return tm


def instruction_count(prog: np.ndarray, command_set: str) -> int:
    """PIM instructions the NPU sends to run ``prog`` on one channel: a GWRITE per GWRITE row,
    and per tile a PIM_HEADER plus, per head, one composite command or (Newton) k COMPs and a
    READRES (NeuPIMs@f299af3 NeuPIMSLogitSoftmax.cc, NeuPIMSAttend.cc)."""
    gwrites = int(np.count_nonzero(prog[:, 0] == GWRITE))
    tiles = prog[prog[:, 0] == TILE]
    per_head = tiles[:, 3] + 1 if command_set == "newton" else np.ones(len(tiles), np.int64)
    return gwrites + len(tiles) + int((tiles[:, 2] * per_head).sum())


@dataclass(frozen=True)
class Layout:
    """How attention maps onto one channel's PIM banks (elements are KV values)."""

    banks: int        # PIM banks per channel
    row_elems: int    # KV elements per bank row
    macs: int         # multipliers per bank: elements one PIM_GEMV MAC step consumes
    d_k: int          # head dimension
    heads: int        # query heads on this device (one KV head each: multi-head attention)

    @property
    def heads_per_row(self) -> int:
        return max(1, self.row_elems // self.d_k)


def _attend_k(tokens: int, macs: int, pow2: bool = True) -> int:
    """MAC steps of one attend GEMV over ``tokens``: NeuPIMs' composite header encodes log2 of
    the count, so it is rounded up to a power of two; Newton's COMPs are counted exactly
    (NeuPIMs@f299af3 NeuPIMSAttend.cc)."""
    k = math.ceil(tokens / macs)
    return 1 << (k - 1).bit_length() if pow2 else k


def request_program(lay: Layout, kv_len: int, row0: int,
                    command_set: str = "composite") -> tuple[list, list, int]:
    """(logit rows, attend rows, rows used) of one request; KV rows start at ``row0``."""
    pow2 = command_set == "composite"
    hpr = lay.heads_per_row
    q_chunks = math.ceil(lay.heads * lay.d_k / lay.row_elems)
    key_tiles = math.ceil(kv_len / lay.banks)
    k_logit = math.ceil(lay.d_k / lay.macs)
    logit, row = [], row0
    for c in range(q_chunks):
        logit.append((GWRITE, 0, 0, 0))
        heads_here = min(hpr, lay.heads - c * hpr)
        for _ in range(key_tiles):
            logit.append((TILE, row, heads_here, k_logit))
            row += 1
    attend = []
    chunks = math.ceil(kv_len / lay.row_elems)
    dim_tiles = math.ceil(lay.d_k / lay.banks)
    for _ in range(lay.heads):
        for c in range(chunks):
            tokens = min(lay.row_elems, kv_len - c * lay.row_elems)
            attend.append((GWRITE, 0, 0, 0))
            for _ in range(dim_tiles):
                attend.append((TILE, row, 1, _attend_k(tokens, lay.macs, pow2)))
                row += 1
    return logit, attend, row - row0


def channel_program(lay: Layout, kv_lens, softmax_cycles, dual: bool,
                    command_set: str = "composite") -> np.ndarray:
    """Program of one channel serving requests ``kv_lens`` (in order).

    ``softmax_cycles[i]``: DRAM cycles from the end of request ``i``'s logit GEMVs until its
    logits are back for the attend GEMVs. Dual row buffers let the channel run request ``i+1``'s
    logits meanwhile; a single row buffer leaves it idle.
    """
    rows, parts, row = [], [], 0
    for n in kv_lens:
        logit, attend, used = request_program(lay, int(n), row, command_set)
        parts.append((logit, attend))
        row += used
    for i, (logit, attend) in enumerate(parts):
        if not dual:
            rows += logit + [(MARK, i, 0, 0), (WAIT, i, int(softmax_cycles[i]), 0)] + attend
            continue
        if i == 0:
            rows += logit + [(MARK, 0, 0, 0)]
        if i + 1 < len(parts):
            rows += parts[i + 1][0] + [(MARK, i + 1, 0, 0)]
        rows += [(WAIT, i, int(softmax_cycles[i]), 0)] + attend
    return np.array(rows, dtype=np.int64).reshape(-1, 4)


@dataclass(frozen=True)
class ChannelRun:
    """One channel's PIM program (and normal reads) as simulated; DRAM cycles."""

    pim_end: int
    normal_end: int
    reads_beside_pim: int
    commands: dict


def run_program(tm: np.ndarray, geo: np.ndarray, dual: bool, prog: np.ndarray,
                n_normal: int = 0, queue: int = 32, cols: int = 16, base_row: int = 1 << 14
                ) -> ChannelRun:
    """Simulate one channel (see :func:`sim.families.npu_pim.kernel.run_channel`)."""
    st = run_channel(tm, geo, dual, prog, n_normal, queue, cols, base_row)
    if st[S_LAST_ISSUE] < 0:
        raise RuntimeError("PIM channel stalled; please report")
    cmds = {"G_ACT": int(st[S_GACT]), "PIM_PRE": int(st[S_PPRE]), "PIM_GEMV": int(st[S_GEMV]),
            "MAC": int(st[S_MACCMD]), "GWRITE": int(st[S_GWRITE]), "ACT": int(st[S_ACT]),
            "PRE": int(st[S_PRE]), "RD": int(st[S_RD])}
    return ChannelRun(int(st[S_PIM_END]), int(st[S_NORMAL_END]), int(st[S_READS_BESIDE_PIM]),
                      cmds)


def mha_estimate(lay: Layout, kv_len: int, t_tile: int = 184, t_gwrite: int = 100) -> int:
    """NeuPIMs' Algorithm 1 MHA latency estimate (cycles) with its scheduler constants."""
    e = lay.heads * lay.d_k
    r = lay.row_elems
    return (t_gwrite * math.ceil(e / r) + t_tile * math.ceil(e / r) * math.ceil(kv_len / lay.banks)
            + t_gwrite * lay.heads * math.ceil(kv_len / r)
            + t_tile * lay.heads * math.ceil(kv_len / r) * math.ceil(lay.d_k / lay.banks))


def assign_channels(kv_lens, channels: int, policy: str, lay: Layout) -> list[list[int]]:
    """Request indices per channel: round robin, or NeuPIMs' greedy min-load bin packing
    (requests by decreasing length, each to the channel with the least estimated MHA load)."""
    out: list[list[int]] = [[] for _ in range(channels)]
    if policy == "round_robin":
        for i in range(len(kv_lens)):
            out[i % channels].append(i)
        return out
    load = [0] * channels
    for i in sorted(range(len(kv_lens)), key=lambda j: (-kv_lens[j], j)):
        c = min(range(channels), key=lambda x: (load[x], x))
        out[c].append(i)
        load[c] += mha_estimate(lay, kv_lens[i])
    return out


def split_sub_batches(per_channel: list[list[int]]) -> tuple[list[list[int]], list[list[int]]]:
    """NeuPIMs Algorithm 3: each channel's requests halved into the two sub-batches (odd
    counts alternate which half gets the extra request)."""
    sb1, sb2, turn = [], [], True
    for reqs in per_channel:
        half = len(reqs) / 2
        if len(reqs) % 2:
            half = math.ceil(half) if turn else math.floor(half)
            turn = not turn
        half = int(half)
        sb1.append(reqs[:half])
        sb2.append(reqs[half:])
    return sb1, sb2


__all__ = ["Layout", "ChannelRun", "COMMAND_SETS", "pim_timing", "instruction_count",
           "request_program", "channel_program", "run_program", "mha_estimate", "assign_channels",
           "split_sub_batches", "PIM_TIMING_SOURCES"]
