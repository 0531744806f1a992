"""Per-cycle reference PIM channel: one command decision per cycle, legality from history.

Slow and literal on purpose. Every cycle it expands the PIM program's head into its next
command (GWRITE, PIM_PRE, G_ACT, PIM_GEMV), asks "is it legal now?" by scanning every command
issued so far against NeuPIMs' timing rules (casys-kaist/NeuPIMs@f299af3: NewtonSim/src/timing.cc), and otherwise
tries the normal reads FR-FCFS. The four-activate window is checked by counting ACT-equivalents
(a G_ACT counts four). Tests demand the same end cycles and command counts as
:func:`sim.families.npu_pim.kernel.run_channel`.
"""

from __future__ import annotations

from sim.families.npu_pim.kernel import (GWRITE, MARK, N_STATS, P_ACT_GACT, P_CL, P_GEMV_GWR,
                                         P_GEMV_MIN_K,
                                         P_GEMV_NPRE, P_GEMV_PRE, P_GEMV_RD, P_RD_GEMV, P_TBL,
                                         P_TCCD_L, P_TCCD_S, P_TFAW, P_TGW, P_TRAS, P_TRC, P_TRCD,
                                         P_TRP, P_TRRD_L, P_TRRD_S, P_TRTP, P_TRTRS, S_ACT, S_GACT,
                                         S_LAST_ISSUE, S_GEMV, S_GWRITE, S_MACCMD, S_NORMAL_END,
                                         S_PIM_END, S_PPRE, S_PRE, S_RD, S_READS_BESIDE_PIM, WAIT)


def occupancy(k: int, k_min: int) -> int:
    return 2 * (max(k, k_min) + 1)


class ReferenceChannel:
    """One channel of ``ranks x groups x banks`` PIM banks; ``tm`` indexed by ``P_*``."""

    def __init__(self, tm, ranks: int, groups: int, banks: int, dual: bool):
        self.tm = [int(x) for x in tm]
        self.R, self.G, self.B = ranks, groups, banks
        self.nb = ranks * groups * banks
        self.dual = dual
        self.history: list[tuple] = []  # (cycle, command, bank or -1, k)
        self.mem_row = [-1] * self.nb
        self.pim_row = [-1] * self.nb if dual else self.mem_row

    # ---- geometry ---------------------------------------------------------------------------
    def rank(self, b):
        return b // (self.G * self.B)

    def group(self, b):
        return (b // self.B) % self.G

    def group_banks(self, r, g):
        first = (r * self.G + g) * self.B
        return range(first, first + self.B)

    # ---- legality ---------------------------------------------------------------------------
    def _after(self, now, cmds, gap, banks=None):
        """No command in ``cmds`` (to one of ``banks``, if given) within ``gap`` before now."""
        return all(now >= t + gap for t, c, b, _ in self.history
                   if c in cmds and (banks is None or b in banks))

    def _window(self, now, r):
        """ACT-equivalents in the rank's four-activate window ending at ``now``."""
        n = 0
        for t, c, b, _ in self.history:
            if c in ("ACT", "GACT") and self.rank(b) == r and t + self.tm[P_TFAW] > now:
                n += 4 if c == "GACT" else 1
        return n

    def legal_pim(self, now, cmd, arg):
        tm = self.tm
        if cmd == "GWRITE":
            return (self._after(now, ("GWRITE",), tm[P_TGW])
                    and self._after(now, ("GEMV",), tm[P_GEMV_GWR]))
        if cmd == "PPRE":
            ok = (self._after(now, ("GEMV",), tm[P_GEMV_PRE])
                  and self._after(now, ("GACT",), tm[P_TRAS], {arg}))
            return ok and (self.dual or self._after(now, ("RD",), tm[P_TRTP], {arg}))
        if cmd == "GACT":
            r, g = arg
            banks = set(self.group_banks(r, g))
            ok = (self._window(now, r) == 0
                  and self._after(now, ("PPRE",), tm[P_TRP], banks)
                  and self._after(now, ("ACT",), tm[P_ACT_GACT], banks))
            return ok and (self.dual or self._after(now, ("PRE",), tm[P_TRP], banks))
        # GEMV
        for t, c, b, k in self.history:
            if c == "GEMV" and now < t + occupancy(k, tm[P_GEMV_MIN_K]):
                return False
        return (self._after(now, ("GWRITE",), tm[P_TGW])
                and self._after(now, ("RD",), tm[P_RD_GEMV])
                and self._after(now, ("GACT",), tm[P_TRCD]))

    def legal_normal(self, now, cmd, b):
        tm = self.tm
        r, g = self.rank(b), self.group(b)
        if cmd == "RD":
            for t, c, pb, _ in self.history:
                if c != "RD":
                    continue
                if self.rank(pb) != r:
                    gap = tm[P_TBL] + tm[P_TRTRS]
                elif self.group(pb) == g:
                    gap = max(tm[P_TCCD_L], tm[P_TBL])
                else:
                    gap = max(tm[P_TCCD_S], tm[P_TBL])
                if now < t + gap:
                    return False
            return (self._after(now, ("ACT",), tm[P_TRCD], {b})
                    and self._after(now, ("GEMV",), tm[P_GEMV_RD])
                    and (b != 0 or self._after(now, ("GWRITE",), tm[P_TGW])))
        if cmd == "ACT":
            same_bg = {x for x in range(self.nb) if self.rank(x) == r and self.group(x) == g}
            same_rank = {x for x in range(self.nb) if self.rank(x) == r}
            return (self._after(now, ("PRE",), tm[P_TRP], {b})
                    and self._after(now, ("ACT",), tm[P_TRC], {b})
                    and self._after(now, ("ACT",), tm[P_TRRD_L], same_bg)
                    and self._after(now, ("ACT",), tm[P_TRRD_S], same_rank)
                    and self._window(now, r) < 4
                    and self._after(now, ("GACT",), tm[P_ACT_GACT], {b}))
        # PRE
        return (self._after(now, ("ACT",), tm[P_TRAS], {b})
                and self._after(now, ("RD",), tm[P_TRTP], {b})
                and self._after(now, ("GACT",), tm[P_TRAS], {b})
                and self._after(now, ("GEMV",), tm[P_GEMV_NPRE]))

    # ---- the PIM program's head ---------------------------------------------------------------
    def _head(self, prog, state):
        """Advance past finished steps, MARK and WAIT; return the head command or None."""
        while state["pc"] < len(prog):
            kind, a, n, k = (int(x) for x in prog[state["pc"]])
            if kind == MARK:
                state["marks"][a] = state["pim_end"]
                state["pc"] += 1
                continue
            if kind == WAIT:
                state["barrier"] = max(state["barrier"], state["marks"][a] + n)
                state["pc"] += 1
                continue
            if kind == GWRITE:
                return ("GWRITE", None)
            if state["phase"] == 0:
                stale = [b for b in range(self.nb) if self.pim_row[b] not in (-1, a)]
                if stale:
                    return ("PPRE", stale[0])
                state["phase"] = 1
            if state["phase"] == 1:
                for g in range(self.G):
                    for r in range(self.R):
                        if self.pim_row[self.group_banks(r, g)[0]] != a:
                            return ("GACT", (r, g))
                state["phase"], state["done"] = 2, 0
            if state["done"] < n:
                return ("GEMV", k)
            state["pc"] += 1
            state["phase"] = 0
        return None

    # ---- run --------------------------------------------------------------------------------
    def run(self, prog, n_normal=0, queue=32, cols=16, base_row=0, max_cycles=2_000_000):
        """Run the program and the normal reads; return the ``S_*`` stats as a list."""
        tm = self.tm
        st = [0] * N_STATS
        state = {"pc": 0, "phase": 0, "done": 0, "barrier": 0, "pim_end": 0,
                 "marks": [0] * max(len(prog), 1)}
        served = set()
        head = 0
        now = 0

        def fields(i):
            x = i // cols
            return x % self.nb, base_row + x // self.nb

        while True:
            cmd = self._head(prog, state)
            pim_done = cmd is None
            if pim_done and len(served) >= n_normal:
                break
            issued = False
            if cmd is not None and now >= state["barrier"] and self.legal_pim(now, *cmd):
                name, arg = cmd
                if name == "GWRITE":
                    self.history.append((now, "GWRITE", -1, 0))
                    state["pim_end"] = max(state["pim_end"], now + tm[P_TGW])
                    st[S_GWRITE] += 1
                    state["pc"] += 1
                elif name == "PPRE":
                    self.pim_row[arg] = -1
                    self.history.append((now, "PPRE", arg, 0))
                    st[S_PPRE] += 1
                elif name == "GACT":
                    row = int(prog[state["pc"]][1])
                    for b in self.group_banks(*arg):
                        self.pim_row[b] = row
                        self.history.append((now, "GACT", b, 0))
                    st[S_GACT] += 1
                else:
                    self.history.append((now, "GEMV", -1, arg))
                    end = now + occupancy(arg, self.tm[P_GEMV_MIN_K])
                    state["pim_end"] = max(state["pim_end"], end)
                    state["done"] += 1
                    st[S_GEMV] += 1
                    st[S_MACCMD] += arg
                issued = True
            if not issued and len(served) < n_normal and (self.dual or pim_done):
                window = [i for i in range(head, min(head + queue, n_normal)) if i not in served]
                for i in window:  # oldest row hit
                    b, row = fields(i)
                    if self.mem_row[b] == row and self.legal_normal(now, "RD", b):
                        self.history.append((now, "RD", b, 0))
                        served.add(i)
                        st[S_RD] += 1
                        st[S_NORMAL_END] = max(st[S_NORMAL_END], now + tm[P_CL] + tm[P_TBL])
                        if not pim_done:
                            st[S_READS_BESIDE_PIM] = len(served)
                        while head in served:
                            head += 1
                        issued = True
                        break
                if not issued:
                    for i in window:  # oldest row command
                        b, row = fields(i)
                        if self.mem_row[b] == row:
                            continue
                        if self.mem_row[b] < 0:
                            if self.legal_normal(now, "ACT", b):
                                self.mem_row[b] = row
                                self.history.append((now, "ACT", b, 0))
                                st[S_ACT] += 1
                                issued = True
                                break
                        elif not any(fields(j) == (b, self.mem_row[b]) for j in window):
                            if self.legal_normal(now, "PRE", b):
                                self.mem_row[b] = -1
                                self.history.append((now, "PRE", b, 0))
                                st[S_PRE] += 1
                                issued = True
                                break
            if issued:
                st[S_LAST_ISSUE] = now
            now += 1
            if now > max_cycles:
                raise RuntimeError("reference PIM channel made no progress")
        st[S_PIM_END] = state["pim_end"]
        return st


def shared_tile_reference(rows: int, cols: int, arrays: int, serial: bool, shapes,
                          per_product: bool = False) -> int:
    """Instruction-by-instruction model of NeuPIMs' WS core (NeuPIMs@f299af3
    NeuPIMSystolicWS.cc issue_ex_inst): every (token tile, k tile) of every product is a
    PRELOAD followed by one GEMM per further ``cols``-wide weight block, each of size
    ``ceil(cols / arrays)``. An instruction starts ``max(size, 4)`` after the previous one, a
    serial PRELOAD ``rows`` after it; one issued to an empty pipeline starts ``2 rows - 1``
    later if it is a PRELOAD. It finishes ``rows + cols - 2 + max(size, 4)`` after its start.
    ``per_product``: each product is issued when the previous one has finished."""
    size = max(-(-cols // arrays), 4)
    now = 0
    prev_start = None
    end = 0
    for m, n, k, count in shapes:
        for _ in range(count):
            if per_product:
                now, prev_start = end, None
            for _tok in range(-(-m // cols)):
                for _kt in range(-(-k // rows)):
                    for block in range(-(-n // cols)):
                        preload = block == 0
                        if prev_start is None:
                            start = now + (2 * rows - 1 if preload else 0)
                        else:
                            start = prev_start + (rows if preload and serial else size)
                        prev_start = start
                        end = max(end, start + rows + cols - 2 + size)
    return end
