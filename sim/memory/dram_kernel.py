"""Command-level DRAM controller: per-bank state machines, FR-FCFS, refresh (Numba).

One call simulates one controller (a channel or pseudo channel with its own command and data
bus) serving a request sequence. It is event driven: at a cycle where a command can issue it
issues exactly the command the per-cycle reference (:mod:`sim.memory.dram_reference`) would choose;
otherwise it jumps straight to the next cycle where anything can change (a timing constraint
expiring, a refresh falling due, a request arriving). The decisions are therefore the
reference's, cycle for cycle, at a cost per command rather than per cycle.

Policy (both models):

1. Refresh first. A rank whose refresh is due takes no new commands; the controller closes its
   open banks with one PREA as soon as every open bank may precharge, then issues REF.
2. Otherwise the oldest queued request whose row is open and whose RD/WR may issue now.
3. Otherwise the oldest queued request whose row command may issue now: ACT on a closed bank;
   PRE on a bank open to another row, unless a queued request still hits the open row.
4. At most one command per cycle. Closed-page policy turns a column command into RDA/WRA
   when no other queued request hits its row.

Requests come from explicit arrays (address fields, arrival cycle, write flag) or, for
saturating streams, are generated from a request index through the address mapping. For
streams the kernel can find the exact periodic steady state: at every row boundary it takes a
snapshot of the controller state relative to the current time and row; when a snapshot recurs,
the stretch between the two is repeated as many times as fit and the rest is simulated. Tests
prove this equal to the full simulation.
"""

from __future__ import annotations

import numpy as np

from sim.core.jit import kernel

# Timing indices (order of sim.memory.spec.TIMING_NAMES).
CL, CWL, TBL, TRCD, TRCDWR, TRP, TRAS, TRC, TCCD_S, TCCD_L = range(10)
TRRD_S, TRRD_L, TFAW, TWTR_S, TWTR_L, TRTP, TWR, TRFC, TREFI, TRTRS = range(10, 20)

# Stats indices of the returned array.
ST_ACT, ST_PRE, ST_RD, ST_WR, ST_REF, ST_HITS, ST_ACTIVE, ST_LAST, ST_END = range(9)
ST_SKIPPED, ST_PERIOD_REQ, ST_PERIOD_CYC = 9, 10, 11
N_STATS = 12
_N_PERIODIC = 7  # stats that scale with repeated periods: ACT..ACTIVE

FAR_PAST = -(1 << 40)
NEVER = 1 << 62


@kernel
def _fields(i, explicit, e_bank, e_row, e_wr, sh, wd, geo, stream_write):
    """(bank, row, is_write) of request ``i``; bank = (rank * G + bg) * B + ba."""
    if explicit:
        return e_bank[i], e_row[i], e_wr[i]
    ra = (i >> sh[0]) & ((1 << wd[0]) - 1)
    bg = (i >> sh[1]) & ((1 << wd[1]) - 1)
    ba = (i >> sh[2]) & ((1 << wd[2]) - 1)
    ro = (i >> sh[3]) & ((1 << wd[3]) - 1)
    return (ra * geo[1] + bg) * geo[2] + ba, ro, stream_write


@kernel
def _active_until(t, active_acc, open_count, active_since):
    """Rank-cycles with a bank open, summed over ranks, up to cycle ``t``."""
    total = 0
    for r in range(active_acc.shape[0]):
        total += active_acc[r]
        if open_count[r] > 0:
            total += t - active_since[r]
    return total


@kernel
def _hash(v, n):
    h = np.uint64(1469598103934665603)
    for k in range(n):
        h = (h ^ np.uint64(v[k] & 0xFFFFFFFFFFFF)) * np.uint64(1099511628211)
    return h


@kernel
def run_controller(tm, geo, closed_page, qcap, refresh, explicit, n,
                   e_bank, e_row, e_wr, e_arr, sh, wd, stream_write, detect, max_snaps,
                   complete):
    """Serve ``n`` requests on one controller; return the stats array (see ``ST_*``).

    ``tm``: timings (DRAM cycles); ``geo``: (ranks, bank groups, banks per group); ``refresh``:
    0 off, 1 all-bank refresh per rank staggered by tREFI / ranks, 2 all ranks due together.
    ``explicit``: requests come from ``e_*`` arrays (bank id, row, write flag, arrival cycle);
    else request ``i`` is stream index ``i`` decoded with shifts ``sh`` / widths ``wd`` of
    (rank, bank group, bank, row) and all arrive at cycle 0. ``complete`` (length ``n`` or 0)
    receives each request's completion cycle: data returned (RD) or written (WR).
    """
    R, G, B = geo[0], geo[1], geo[2]
    nb = R * G * B
    stats = np.zeros(N_STATS, dtype=np.int64)
    rd_to_rd_l = max(tm[TCCD_L], tm[TBL])
    rd_to_rd_s = max(tm[TCCD_S], tm[TBL])
    rank_switch = tm[TBL] + tm[TRTRS]
    rd_to_wr = tm[CL] + tm[TBL] + tm[TRTRS] - tm[CWL]
    wr_to_rd_l = tm[CWL] + tm[TBL] + tm[TWTR_L]
    wr_to_rd_s = tm[CWL] + tm[TBL] + tm[TWTR_S]
    wr_to_rd_o = max(tm[CWL] + tm[TBL] + tm[TRTRS] - tm[CL], 0)
    wr_to_pre = tm[CWL] + tm[TBL] + tm[TWR]

    open_row = np.full(nb, -1, dtype=np.int64)
    next_act = np.zeros(nb, dtype=np.int64)
    next_pre = np.zeros(nb, dtype=np.int64)
    next_rd = np.zeros(nb, dtype=np.int64)
    next_wr = np.zeros(nb, dtype=np.int64)
    faw = np.full((R, 4), FAR_PAST, dtype=np.int64)
    faw_ptr = np.zeros(R, dtype=np.int64)
    ref_due = np.zeros(R, dtype=np.int64)
    for r in range(R):  # refresh: 0 off, 1 ranks staggered by tREFI / R, 2 all ranks together
        if refresh == 0:
            ref_due[r] = NEVER
        elif refresh == 1:
            ref_due[r] = (r + 1) * tm[TREFI] // R
        else:
            ref_due[r] = tm[TREFI]
    open_count = np.zeros(R, dtype=np.int64)
    active_since = np.zeros(R, dtype=np.int64)
    active_acc = np.zeros(R, dtype=np.int64)

    qidx = np.zeros(qcap, dtype=np.int64)
    qbank = np.zeros(qcap, dtype=np.int64)
    qrow = np.zeros(qcap, dtype=np.int64)
    qwr = np.zeros(qcap, dtype=np.int64)
    qact = np.zeros(qcap, dtype=np.int64)
    qn = 0
    nxt = 0  # next request to admit

    # periodic-steady-state detection (streams only)
    detecting = detect and not explicit and n > 0
    period = 1 << sh[3]
    block_shift = sh[3] + wd[3]
    snap_len = 6 * nb + 5 * R + 1 + 2 * qcap
    snaps = np.zeros((max_snaps if detecting else 1, snap_len), dtype=np.int64)
    snap_hash = np.zeros(max_snaps if detecting else 1, dtype=np.uint64)
    snap_t = np.zeros(max_snaps if detecting else 1, dtype=np.int64)
    snap_stats = np.zeros((max_snaps if detecting else 1, _N_PERIODIC), dtype=np.int64)
    snap_base = np.zeros(max_snaps if detecting else 1, dtype=np.int64)
    n_snaps = 0
    snap_block = -1
    cur = np.zeros(snap_len, dtype=np.int64)

    t = 0
    last = 0
    # a column command must issue within this many cycles of the previous one while requests
    # wait: timings that let refresh close every row before its access would otherwise livelock
    patience = 64 * (tm[TREFI] + tm[TRFC]) + (1 << 20)
    last_col = 0
    while True:
        # ---- admit arrivals --------------------------------------------------------------
        while qn < qcap and nxt < n and (not explicit or e_arr[nxt] <= t):
            b_, r_, w_ = _fields(nxt, explicit, e_bank, e_row, e_wr, sh, wd, geo, stream_write)
            qidx[qn] = nxt
            qbank[qn] = b_
            qrow[qn] = r_
            qwr[qn] = w_
            qact[qn] = 0
            qn += 1
            nxt += 1
            if detecting and nxt > 1 and (nxt - 1) % period == 0:
                base = nxt - 1
                block = base >> block_shift
                if block != snap_block:  # fields above the row changed: start afresh
                    snap_block = block
                    n_snaps = 0
                row_base = (base >> sh[3]) & ((1 << wd[3]) - 1)
                k = 0
                for b in range(nb):
                    if open_row[b] >= 0:
                        cur[k] = 1
                        cur[k + 1] = open_row[b] - row_base
                    else:
                        cur[k] = 0
                        cur[k + 1] = 0
                    cur[k + 2] = max(next_act[b] - t, 0)
                    cur[k + 3] = max(next_pre[b] - t, 0)
                    cur[k + 4] = max(next_rd[b] - t, 0)
                    cur[k + 5] = max(next_wr[b] - t, 0)
                    k += 6
                for r in range(R):
                    cur[k] = ref_due[r] - t if refresh != 0 else 0
                    for j in range(4):
                        cur[k + 1 + j] = max(faw[r, (faw_ptr[r] + j) % 4] + tm[TFAW] - t, 0)
                    k += 5
                cur[k] = qn
                k += 1
                for j in range(qcap):
                    if j < qn:
                        cur[k] = qidx[j] - base
                        cur[k + 1] = qact[j]
                    else:
                        cur[k] = 0
                        cur[k + 1] = 0
                    k += 2
                h = _hash(cur, snap_len)
                match = -1
                for s in range(n_snaps):
                    if snap_hash[s] == h:
                        same = True
                        for j in range(snap_len):
                            if snaps[s, j] != cur[j]:
                                same = False
                                break
                        if same:
                            match = s
                            break
                if match >= 0:
                    d_req = base - snap_base[match]
                    d_t = t - snap_t[match]
                    limit_idx = min(n, (block + 1) << block_shift)
                    reps = (limit_idx - 1 - base) // d_req
                    if reps > 0:
                        shift_t = reps * d_t
                        shift_rows = (reps * d_req) >> sh[3]
                        for s_ in range(_N_PERIODIC):
                            if s_ == ST_ACTIVE:
                                now_active = _active_until(t, active_acc, open_count,
                                                           active_since)
                                stats[s_] += reps * (now_active - snap_stats[match, s_])
                            else:
                                stats[s_] += reps * (stats[s_] - snap_stats[match, s_])
                        last += shift_t  # stream completions are monotone in issue time
                        t += shift_t
                        last_col += shift_t
                        for b in range(nb):
                            if open_row[b] >= 0:
                                open_row[b] += shift_rows
                            next_act[b] += shift_t
                            next_pre[b] += shift_t
                            next_rd[b] += shift_t
                            next_wr[b] += shift_t
                        for r in range(R):
                            for j in range(4):
                                faw[r, j] += shift_t
                            if refresh != 0:
                                ref_due[r] += shift_t
                            active_since[r] += shift_t
                        for j in range(qn):
                            qidx[j] += reps * d_req
                            qrow[j] += shift_rows
                        nxt += reps * d_req
                        stats[ST_SKIPPED] = reps * d_req
                        stats[ST_PERIOD_REQ] = d_req
                        stats[ST_PERIOD_CYC] = d_t
                    detecting = False
                elif n_snaps < max_snaps:
                    for j in range(snap_len):
                        snaps[n_snaps, j] = cur[j]
                    snap_hash[n_snaps] = h
                    snap_t[n_snaps] = t
                    snap_base[n_snaps] = base
                    for s_ in range(_N_PERIODIC):
                        snap_stats[n_snaps, s_] = stats[s_]
                    snap_stats[n_snaps, ST_ACTIVE] = _active_until(t, active_acc, open_count,
                                                                   active_since)
                    n_snaps += 1
        if qn == 0 and nxt >= n:
            break

        # ---- choose one command ----------------------------------------------------------
        cand = NEVER
        issued = False
        # 1. refresh
        for r in range(R):
            if t < ref_due[r]:
                cand = min(cand, ref_due[r])
                continue
            first = r * G * B
            if open_count[r] > 0:
                ready = 0
                for b in range(first, first + G * B):
                    if open_row[b] >= 0:
                        ready = max(ready, next_pre[b])
                if ready <= t:  # PREA
                    for b in range(first, first + G * B):
                        if open_row[b] >= 0:
                            open_row[b] = -1
                            next_act[b] = max(next_act[b], t + tm[TRP])
                            stats[ST_PRE] += 1
                    active_acc[r] += t - active_since[r]
                    open_count[r] = 0
                    issued = True
                    break
                cand = min(cand, ready)
            else:
                ready = 0
                for b in range(first, first + G * B):
                    ready = max(ready, next_act[b])
                if ready <= t:  # REF
                    for b in range(first, first + G * B):
                        next_act[b] = max(next_act[b], t + tm[TRFC])
                    ref_due[r] += tm[TREFI]
                    stats[ST_REF] += 1
                    issued = True
                    break
                cand = min(cand, ready)
        # 2. column command of the oldest ready row hit
        if not issued:
            for q in range(qn):
                b = qbank[q]
                r = b // (G * B)
                if t >= ref_due[r] or open_row[b] != qrow[q]:
                    continue
                ready = next_wr[b] if qwr[q] else next_rd[b]
                if ready > t:
                    cand = min(cand, ready)
                    continue
                g = (b // B) % G
                # column-to-column gap in the same direction, turnaround to the other one
                if qwr[q]:
                    same_dir, other_dir = next_wr, next_rd
                    turn_o, turn_l, turn_s = wr_to_rd_o, wr_to_rd_l, wr_to_rd_s
                else:
                    same_dir, other_dir = next_rd, next_wr
                    turn_o, turn_l, turn_s = rd_to_wr, rd_to_wr, rd_to_wr
                for x in range(nb):
                    if x // (G * B) != r:
                        gap, turn = rank_switch, turn_o
                    elif (x // B) % G == g:
                        gap, turn = rd_to_rd_l, turn_l
                    else:
                        gap, turn = rd_to_rd_s, turn_s
                    same_dir[x] = max(same_dir[x], t + gap)
                    other_dir[x] = max(other_dir[x], t + turn)
                if qwr[q]:
                    next_pre[b] = max(next_pre[b], t + wr_to_pre)
                    done = t + tm[CWL] + tm[TBL]
                    stats[ST_WR] += 1
                    last_col = t
                else:
                    next_pre[b] = max(next_pre[b], t + tm[TRTP])
                    done = t + tm[CL] + tm[TBL]
                    stats[ST_RD] += 1
                    last_col = t
                if qact[q] == 0:
                    stats[ST_HITS] += 1
                if closed_page:
                    more = False
                    for x in range(qn):
                        if x != q and qbank[x] == b and qrow[x] == qrow[q]:
                            more = True
                            break
                    if not more:  # auto-precharge
                        open_row[b] = -1
                        next_act[b] = max(next_act[b], next_pre[b] + tm[TRP])
                        stats[ST_PRE] += 1
                        open_count[r] -= 1
                        if open_count[r] == 0:
                            active_acc[r] += t - active_since[r]
                if complete.shape[0] > 0:
                    complete[qidx[q]] = done
                last = max(last, done)
                for x in range(q, qn - 1):
                    qidx[x] = qidx[x + 1]
                    qbank[x] = qbank[x + 1]
                    qrow[x] = qrow[x + 1]
                    qwr[x] = qwr[x + 1]
                    qact[x] = qact[x + 1]
                qn -= 1
                issued = True
                break
        # 3. row command of the oldest request that can use one
        if not issued:
            for q in range(qn):
                b = qbank[q]
                r = b // (G * B)
                if t >= ref_due[r]:
                    continue
                if open_row[b] < 0:
                    ready = max(next_act[b], faw[r, faw_ptr[r]] + tm[TFAW])
                    if ready > t:
                        cand = min(cand, ready)
                        continue
                    g = (b // B) % G
                    first = r * G * B
                    for x in range(first, first + G * B):
                        if (x // B) % G == g:
                            next_act[x] = max(next_act[x], t + tm[TRRD_L])
                        else:
                            next_act[x] = max(next_act[x], t + tm[TRRD_S])
                    next_act[b] = max(next_act[b], t + tm[TRC])
                    next_rd[b] = max(next_rd[b], t + tm[TRCD])
                    next_wr[b] = max(next_wr[b], t + tm[TRCDWR])
                    next_pre[b] = max(next_pre[b], t + tm[TRAS])
                    faw[r, faw_ptr[r]] = t
                    faw_ptr[r] = (faw_ptr[r] + 1) % 4
                    open_row[b] = qrow[q]
                    if open_count[r] == 0:
                        active_since[r] = t
                    open_count[r] += 1
                    qact[q] = 1
                    stats[ST_ACT] += 1
                    issued = True
                    break
                if open_row[b] != qrow[q]:
                    hit_queued = False
                    for x in range(qn):
                        if qbank[x] == b and qrow[x] == open_row[b]:
                            hit_queued = True
                            break
                    if hit_queued:
                        continue
                    if next_pre[b] > t:
                        cand = min(cand, next_pre[b])
                        continue
                    open_row[b] = -1
                    next_act[b] = max(next_act[b], t + tm[TRP])
                    open_count[r] -= 1
                    if open_count[r] == 0:
                        active_acc[r] += t - active_since[r]
                    stats[ST_PRE] += 1
                    issued = True
                    break
        if issued:
            stats[ST_END] = t
            t += 1
            if qn > 0 and t - last_col > patience:
                stats[ST_END] = -2  # livelock: commands issue but no access completes
                break
            continue
        if explicit and qn < qcap and nxt < n:
            cand = min(cand, e_arr[nxt])
        if cand <= t or cand >= NEVER:
            stats[ST_END] = -1  # no progress possible: a bug, reported by the caller
            break
        t = cand
    for r in range(R):
        if open_count[r] > 0:
            active_acc[r] += max(last, t) - active_since[r]
        stats[ST_ACTIVE] += active_acc[r]
    stats[ST_LAST] = last
    return stats
