"""Command-level PIM channel: a NeuPIMs/Newton PIM program beside normal reads (Numba).

One call simulates one HBM channel whose banks carry PIM MAC units. The channel runs, in order,
a *PIM program* (the attention GEMVs of the requests mapped to it) and, optionally, a saturating
stream of normal reads (the NPU's traffic). Commands and timings follow NeuPIMs' NewtonSim
(casys-kaist/NeuPIMs@f299af3: NewtonSim/src/timing.cc and configuration.cc):

* ``GWRITE`` copies a row into the channel's global vector buffer (``tGW`` cycles; the source row
  is taken as open, as NeuPIMs' placeholder source does).
* A *tile* (``TILE row n k``) is: ``PIM_PRE`` of every bank whose PIM row buffer holds another
  row (one per cycle), ``G_ACT`` of each bank group (bank groups in order, ranks interleaved;
  a G_ACT fills the rank's four-activate window), then ``n`` GEMVs of ``k`` MAC steps, each
  occupying the channel ``2 (max(k, k_min) + 1)`` cycles: NeuPIMs' composite ``PIM_GEMV(k)``
  (``k_min`` 6, its pipeline fill) or Newton's ``k`` COMPs and a READRES (``k_min`` 1), both
  paced by ``max(tBL, tCCD_S)`` = 2 cycles per command.
* ``MARK s`` records when the PIM work issued so far completes; ``WAIT s lat`` holds later PIM
  commands until that time plus ``lat`` (the NPU's softmax between the logit and attend GEMVs).

Row-buffer modes: ``dual`` (NeuPIMs: each bank has a memory and a PIM row buffer; normal
commands use the memory one and issue in any cycle the PIM head cannot) and ``single`` (Newton:
one buffer per bank; normal traffic is blocked until the PIM program has issued, then finds the
PIM rows open). PIM commands have priority; one command per cycle on the C/A bus; normal
commands are FR-FCFS over a window of ``queue`` requests. Refresh is not modelled here.

Like :mod:`sim.memory.dram_kernel` the loop is event driven: it computes the earliest legal cycle of
the PIM head and of every normal candidate and jumps there, so it issues exactly the commands
the per-cycle reference (:mod:`sim.families.npu_pim.reference`) issues, cycle for cycle.
"""

from __future__ import annotations

import numpy as np

from sim.core.jit import kernel

# program kinds
GWRITE, TILE, MARK, WAIT = 0, 1, 2, 3
# timing vector indices (pim_timing())
(P_CL, P_TBL, P_TRCD, P_TRP, P_TRAS, P_TRC, P_TCCD_S, P_TCCD_L, P_TRRD_S, P_TRRD_L, P_TFAW,
 P_TRTP, P_TRTRS, P_TGW, P_GEMV_PRE, P_GEMV_RD, P_RD_GEMV, P_GEMV_GWR, P_GEMV_NPRE,
 P_ACT_GACT, P_GEMV_MIN_K) = range(21)
N_TIMING = 21
# stats indices
(S_PIM_END, S_NORMAL_END, S_READS_BESIDE_PIM, S_GACT, S_PPRE, S_GEMV, S_MACCMD, S_GWRITE,
 S_ACT, S_PRE, S_RD, S_LAST_ISSUE) = range(12)
N_STATS = 12

NEVER = 1 << 62
FAR = -(1 << 40)


@kernel
def gemv_occupancy(k, k_min):
    """Channel cycles one GEMV of ``k`` MAC steps occupies: 2 (max(k, k_min) + 1) (NewtonSim
    channel_state.cc: composite PIM_GEMV with k_min 6; Newton COMPs + READRES with k_min 1)."""
    return 2 * (max(k, k_min) + 1)


@kernel
def _visible(x, cols, done_in, ring, hi):
    """True when normal chunk ``x`` (``cols`` requests to one bank and row, served oldest
    first) still has an unserved request inside the window that ends before ``hi``."""
    i = x * cols + done_in[x % ring]
    return i < hi and i < (x + 1) * cols


@kernel
def run_channel(tm, geo, dual, prog, n_normal, queue, cols, base_row):
    """Run a PIM program (rows of ``(kind, a, b, c)``) and ``n_normal`` reads on one channel.

    ``tm``: timings (see ``P_*``); ``geo``: (ranks, bank groups, banks per group). Returns the
    stats array (``S_*``): end cycles of the PIM work and of the normal stream, command counts.
    """
    R, G, B = geo[0], geo[1], geo[2]
    nb = R * G * B
    st = np.zeros(N_STATS, dtype=np.int64)
    mem_row = np.full(nb, -1, dtype=np.int64)
    pim_row = np.full(nb, -1, dtype=np.int64) if dual else mem_row  # single: one buffer
    t_act = np.full(nb, FAR, dtype=np.int64)
    t_pre = np.full(nb, FAR, dtype=np.int64)
    t_rd = np.full(nb, FAR, dtype=np.int64)
    t_gact = np.full(nb, FAR, dtype=np.int64)
    t_ppre = np.full(nb, FAR, dtype=np.int64)
    faw = np.full((R, 4), FAR, dtype=np.int64)
    faw_ptr = np.zeros(R, dtype=np.int64)
    act_bg = np.full((R, G), FAR, dtype=np.int64)
    act_rank = np.full(R, FAR, dtype=np.int64)
    rd_bg = np.full((R, G), FAR, dtype=np.int64)
    rd_rank = np.full(R, FAR, dtype=np.int64)
    marks = np.zeros(max(prog.shape[0], 1), dtype=np.int64)
    t_gemv, k_gemv, t_gwr, last_rd = FAR, 0, FAR, FAR
    barrier = 0
    pim_end = 0
    ring = queue // cols + 2  # chunks a window can touch, plus one
    done_in = np.zeros(ring, dtype=np.int64)  # chunk (ring slot) -> requests served, oldest first
    head = 0          # oldest unserved normal request
    n_served = 0
    normal_end = 0
    pc = 0            # program counter
    phase = 0         # within a tile: 0 PIM_PRE, 1 G_ACT, 2 GEMV
    idx = 0           # bank (phase 0), group slot (phase 1) or GEMV count (phase 2)
    rd_gap_l = max(tm[P_TCCD_L], tm[P_TBL])
    rd_gap_s = max(tm[P_TCCD_S], tm[P_TBL])
    rd_gap_o = tm[P_TBL] + tm[P_TRTRS]
    t = 0
    n_prog = prog.shape[0]
    while True:
        # ---- resolve instant program entries and the PIM head's earliest cycle -------------
        pim_t = NEVER
        p_cmd = -1  # 0 GWRITE, 1 PIM_PRE, 2 G_ACT, 3 GEMV
        p_arg = 0
        while pc < n_prog:
            kind = prog[pc, 0]
            if kind == MARK:
                marks[prog[pc, 1]] = pim_end
                pc += 1
                continue
            if kind == WAIT:
                barrier = max(barrier, marks[prog[pc, 1]] + prog[pc, 2])
                pc += 1
                continue
            if kind == GWRITE:
                p_cmd = 0
                pim_t = max(barrier, t_gwr + tm[P_TGW], t_gemv + tm[P_GEMV_GWR])
                break
            row = prog[pc, 1]
            if phase == 0:
                while idx < nb and pim_row[idx] == row:
                    idx += 1
                if idx < nb and pim_row[idx] < 0:
                    idx += 1
                    continue
                if idx < nb:
                    p_cmd, p_arg = 1, idx
                    pim_t = max(barrier, t_gemv + tm[P_GEMV_PRE], t_gact[idx] + tm[P_TRAS])
                    if not dual:
                        pim_t = max(pim_t, t_rd[idx] + tm[P_TRTP])
                    break
                phase, idx = 1, 0
            if phase == 1:
                # group slot idx -> (rank, group): groups in order, ranks interleaved
                while idx < R * G:
                    r_, g_ = idx % R, idx // R
                    first = (r_ * G + g_) * B
                    if pim_row[first] != row:
                        break
                    idx += 1
                if idx < R * G:
                    r_, g_ = idx % R, idx // R
                    first = (r_ * G + g_) * B
                    p_cmd, p_arg = 2, idx
                    pim_t = barrier
                    for j in range(4):
                        pim_t = max(pim_t, faw[r_, j] + tm[P_TFAW])
                    for b in range(first, first + B):
                        pim_t = max(pim_t, t_ppre[b] + tm[P_TRP], t_act[b] + tm[P_ACT_GACT])
                        if not dual:
                            pim_t = max(pim_t, t_pre[b] + tm[P_TRP])
                    break
                phase, idx = 2, 0
            if phase == 2:
                if idx < prog[pc, 2]:
                    p_cmd = 3
                    pim_t = max(barrier, t_gemv + gemv_occupancy(k_gemv, tm[P_GEMV_MIN_K]),
                                t_gwr + tm[P_TGW], last_rd + tm[P_RD_GEMV])
                    for b in range(nb):
                        pim_t = max(pim_t, t_gact[b] + tm[P_TRCD])
                    break
                pc += 1
                phase, idx = 0, 0
                continue
        pim_done = pc >= n_prog
        # ---- normal candidates ------------------------------------------------------------
        n_t = NEVER
        n_cmd = -1  # 0 RD, 1 ACT, 2 PRE
        n_bank = -1
        n_slot = -1  # chunk of the chosen normal command
        normal_open = n_served < n_normal and (dual or pim_done)
        if normal_open:
            # the window's requests, chunk by chunk: a chunk is ``cols`` consecutive requests
            # to one (bank, row); they are served oldest first, so each chunk is represented
            # by its oldest unserved request (same bank, row and earliest cycle as the rest)
            hi = min(head + queue, n_normal)
            x_hi = (hi - 1) // cols
            # column command: oldest row hit
            for x in range(head // cols, x_hi + 1):
                b = x % nb
                if not _visible(x, cols, done_in, ring, hi) or mem_row[b] != base_row + x // nb:
                    continue
                r_ = b // (G * B)
                g_ = (b // B) % G
                e = max(t_act[b] + tm[P_TRCD], t_gemv + tm[P_GEMV_RD], rd_bg[r_, g_] + rd_gap_l,
                        rd_rank[r_] + rd_gap_s)
                for rr in range(R):
                    if rr != r_:
                        e = max(e, rd_rank[rr] + rd_gap_o)
                if b == 0:
                    e = max(e, t_gwr + tm[P_TGW])
                if e < n_t:
                    n_t, n_cmd, n_bank, n_slot = e, 0, b, x
                if e <= t:
                    break
            if n_t > t:
                # row command: oldest chunk that needs one
                for x in range(head // cols, x_hi + 1):
                    b = x % nb
                    if not _visible(x, cols, done_in, ring, hi) or mem_row[b] == base_row + x // nb:
                        continue
                    r_ = b // (G * B)
                    g_ = (b // B) % G
                    if mem_row[b] < 0:
                        e = max(t_pre[b] + tm[P_TRP], t_act[b] + tm[P_TRC],
                                act_bg[r_, g_] + tm[P_TRRD_L], act_rank[r_] + tm[P_TRRD_S],
                                faw[r_, faw_ptr[r_]] + tm[P_TFAW], t_gact[b] + tm[P_ACT_GACT])
                        c = 1
                    else:
                        hit = False
                        for xj in range(head // cols, x_hi + 1):
                            if (xj % nb == b and base_row + xj // nb == mem_row[b]
                                    and _visible(xj, cols, done_in, ring, hi)):
                                hit = True
                                break
                        if hit:
                            continue
                        e = max(t_act[b] + tm[P_TRAS], t_rd[b] + tm[P_TRTP],
                                t_gact[b] + tm[P_TRAS], t_gemv + tm[P_GEMV_NPRE])
                        c = 2
                    if e < n_t:
                        n_t, n_cmd, n_bank, n_slot = e, c, b, x
                    if e <= t:
                        break
        if pim_done and not normal_open and n_served >= n_normal:
            break
        nxt = min(pim_t, n_t)
        if nxt >= NEVER:
            st[S_LAST_ISSUE] = -1  # nothing can ever issue: a bug, reported by the caller
            break
        t = max(t, nxt)
        if pim_t <= t:
            # ---- issue the PIM head -----------------------------------------------------------
            if p_cmd == 0:
                t_gwr = t
                pim_end = max(pim_end, t + tm[P_TGW])
                st[S_GWRITE] += 1
                pc += 1
            elif p_cmd == 1:
                pim_row[p_arg] = -1
                t_ppre[p_arg] = t
                st[S_PPRE] += 1
                idx += 1
            elif p_cmd == 2:
                r_, g_ = p_arg % R, p_arg // R
                first = (r_ * G + g_) * B
                for b in range(first, first + B):
                    pim_row[b] = prog[pc, 1]
                    t_gact[b] = t
                for j in range(4):
                    faw[r_, j] = t
                st[S_GACT] += 1
                idx += 1
            else:
                k = prog[pc, 3]
                t_gemv, k_gemv = t, k
                pim_end = max(pim_end, t + gemv_occupancy(k, tm[P_GEMV_MIN_K]))
                st[S_GEMV] += 1
                st[S_MACCMD] += k
                idx += 1
        else:
            # ---- issue the normal command ---------------------------------------------------
            b = n_bank
            r_ = b // (G * B)
            g_ = (b // B) % G
            if n_cmd == 0:
                t_rd[b] = t
                last_rd = t
                rd_bg[r_, g_] = t
                rd_rank[r_] = t
                done_in[n_slot % ring] += 1
                n_served += 1
                normal_end = max(normal_end, t + tm[P_CL] + tm[P_TBL])
                if pc < n_prog:
                    st[S_READS_BESIDE_PIM] = n_served
                while head < n_normal:
                    x = head // cols
                    head = max(head, x * cols + done_in[x % ring])
                    if head < min((x + 1) * cols, n_normal):
                        break
                    done_in[x % ring] = 0  # chunk fully served: its ring slot is free
                st[S_RD] += 1
            elif n_cmd == 1:
                mem_row[b] = base_row + n_slot // nb
                t_act[b] = t
                act_bg[r_, g_] = t
                act_rank[r_] = t
                faw[r_, faw_ptr[r_]] = t
                faw_ptr[r_] = (faw_ptr[r_] + 1) % 4
                st[S_ACT] += 1
            else:
                mem_row[b] = -1
                t_pre[b] = t
                st[S_PRE] += 1
        st[S_LAST_ISSUE] = t
        t += 1
    st[S_PIM_END] = pim_end
    st[S_NORMAL_END] = normal_end
    return st
