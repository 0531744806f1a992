"""Per-cycle reference DRAM controller: one command decision per cycle, legality from history.

Slow and literal on purpose. Each cycle it admits arrivals, then asks of every candidate command
"is it legal now?" by scanning the commands issued so far against the protocol's constraint table
(:func:`constraint_table`: preceding command, following command, scope, minimum distance), in the
style of a JEDEC timing table; the four-activate window is checked by counting ACTs. The
scheduling policy is the one of :mod:`sim.memory.dram_kernel` (refresh, then oldest ready row hit,
then oldest ready row command). Tests run both on small request streams and demand the same
completion cycle for every request.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Scopes of a constraint relative to the bank of the preceding command.
SAME_BANK, SAME_BG, SAME_RANK, OTHER_RANK = "bank", "bankgroup", "rank", "other_rank"


def constraint_table(t: dict) -> dict:
    """``{(preceding, following): {scope: cycles}}``; a scope applies to that relation only.

    ``SAME_BG`` covers other banks of the bank group, ``SAME_RANK`` other bank groups of the rank.
    """
    rd_rd_l, rd_rd_s = max(t["tCCD_L"], t["tBL"]), max(t["tCCD_S"], t["tBL"])
    switch = t["tBL"] + t["tRTRS"]
    rd_wr = t["CL"] + t["tBL"] + t["tRTRS"] - t["CWL"]
    wr_rd_o = max(t["CWL"] + t["tBL"] + t["tRTRS"] - t["CL"], 0)
    col = {SAME_BANK: rd_rd_l, SAME_BG: rd_rd_l, SAME_RANK: rd_rd_s, OTHER_RANK: switch}
    return {
        ("ACT", "ACT"): {SAME_BANK: t["tRC"], SAME_BG: t["tRRD_L"], SAME_RANK: t["tRRD_S"]},
        ("ACT", "RD"): {SAME_BANK: t["tRCD"]},
        ("ACT", "WR"): {SAME_BANK: t["tRCDWR"]},
        ("ACT", "PRE"): {SAME_BANK: t["tRAS"]},
        ("RD", "RD"): col,
        ("WR", "WR"): col,
        ("RD", "WR"): {s: rd_wr for s in (SAME_BANK, SAME_BG, SAME_RANK, OTHER_RANK)},
        ("WR", "RD"): {SAME_BANK: t["CWL"] + t["tBL"] + t["tWTR_L"],
                       SAME_BG: t["CWL"] + t["tBL"] + t["tWTR_L"],
                       SAME_RANK: t["CWL"] + t["tBL"] + t["tWTR_S"], OTHER_RANK: wr_rd_o},
        ("RD", "PRE"): {SAME_BANK: t["tRTP"]},
        ("WR", "PRE"): {SAME_BANK: t["CWL"] + t["tBL"] + t["tWR"]},
        ("PRE", "ACT"): {SAME_BANK: t["tRP"]},
        ("PRE", "REF"): {SAME_BANK: t["tRP"]},
        ("ACT", "REF"): {SAME_BANK: t["tRC"]},
        ("REF", "ACT"): {SAME_BANK: t["tRFC"]},
        ("REF", "REF"): {SAME_BANK: t["tRFC"]},
    }


@dataclass
class Request:
    index: int
    bank: int
    row: int
    write: bool
    arrival: int
    activated: bool = False


class ReferenceController:
    """One controller; banks are numbered (rank * G + bank group) * B + bank."""

    def __init__(self, timing: dict, ranks: int, bankgroups: int, banks_per_group: int,
                 queue_depth: int, closed_page: bool = False, refresh: str = "staggered"):
        self.t = timing
        self.R, self.G, self.B = ranks, bankgroups, banks_per_group
        self.nb = ranks * bankgroups * banks_per_group
        self.table = constraint_table(timing)
        self.qcap = queue_depth
        self.closed_page = closed_page
        self.refresh = refresh != "off"
        self.history: list[tuple[int, str, int]] = []  # (cycle, command, bank); REF per bank
        self.open_row = [-1] * self.nb
        self.ref_due = [((r + 1) * timing["tREFI"] // ranks if refresh == "staggered"
                         else timing["tREFI"]) for r in range(ranks)]
        self.counts = {"ACT": 0, "PRE": 0, "RD": 0, "WR": 0, "REF": 0, "hits": 0}

    # ---- geometry ---------------------------------------------------------------------------
    def rank(self, b: int) -> int:
        return b // (self.G * self.B)

    def scope(self, prev_bank: int, bank: int) -> str:
        if prev_bank == bank:
            return SAME_BANK
        if self.rank(prev_bank) != self.rank(bank):
            return OTHER_RANK
        same_bg = (prev_bank // self.B) % self.G == (bank // self.B) % self.G
        return SAME_BG if same_bg else SAME_RANK

    def rank_banks(self, r: int) -> range:
        return range(r * self.G * self.B, (r + 1) * self.G * self.B)

    # ---- legality ---------------------------------------------------------------------------
    def legal(self, now: int, cmd: str, bank: int) -> bool:
        """Every timing constraint between a past command and ``cmd`` to ``bank`` holds at ``now``."""
        for when, prev, pbank in self.history:
            rule = self.table.get((prev, cmd))
            if rule is None:
                continue
            gap = rule.get(self.scope(pbank, bank))
            if gap is not None and now < when + gap:
                return False
        if cmd == "ACT":
            r = self.rank(bank)
            recent = sum(1 for when, prev, pb in self.history
                         if prev == "ACT" and self.rank(pb) == r and when > now - self.t["tFAW"])
            if recent >= 4:
                return False
        return True

    def refresh_due(self, now: int, r: int) -> bool:
        return self.refresh and now >= self.ref_due[r]

    # ---- issue ------------------------------------------------------------------------------
    def _close(self, now: int, bank: int) -> None:
        self.open_row[bank] = -1
        self.history.append((now, "PRE", bank))
        self.counts["PRE"] += 1

    def _try_refresh(self, now: int) -> bool:
        for r in range(self.R):
            if not self.refresh_due(now, r):
                continue
            banks = self.rank_banks(r)
            open_banks = [b for b in banks if self.open_row[b] >= 0]
            if open_banks:
                if all(self.legal(now, "PRE", b) for b in open_banks):
                    for b in open_banks:  # PREA
                        self._close(now, b)
                    return True
            elif all(self.legal(now, "REF", b) for b in banks):
                for b in banks:
                    self.history.append((now, "REF", b))
                self.counts["REF"] += 1
                self.ref_due[r] += self.t["tREFI"]
                return True
        return False

    def _try_column(self, now: int, queue: list[Request], done: dict) -> bool:
        for q in queue:
            if self.refresh_due(now, self.rank(q.bank)) or self.open_row[q.bank] != q.row:
                continue
            cmd = "WR" if q.write else "RD"
            if not self.legal(now, cmd, q.bank):
                continue
            self.history.append((now, cmd, q.bank))
            self.counts[cmd] += 1
            self.counts["hits"] += not q.activated
            t = self.t
            done[q.index] = now + (t["CWL"] if q.write else t["CL"]) + t["tBL"]
            queue.remove(q)
            if self.closed_page and not any(x.bank == q.bank and x.row == q.row for x in queue):
                self._auto_precharge(now, q)
            return True
        return False

    def _auto_precharge(self, now: int, q: Request) -> None:
        """RDA/WRA: the bank precharges at the first cycle a PRE would be legal."""
        pre_at = now
        while not self.legal(pre_at, "PRE", q.bank):
            pre_at += 1
        self._close(pre_at, q.bank)

    def _try_row(self, now: int, queue: list[Request]) -> bool:
        for q in queue:
            b = q.bank
            if self.refresh_due(now, self.rank(b)):
                continue
            if self.open_row[b] < 0:
                if self.legal(now, "ACT", b):
                    self.history.append((now, "ACT", b))
                    self.counts["ACT"] += 1
                    self.open_row[b] = q.row
                    q.activated = True
                    return True
            elif self.open_row[b] != q.row:
                hit_queued = any(x.bank == b and x.row == self.open_row[b] for x in queue)
                if not hit_queued and self.legal(now, "PRE", b):
                    self._close(now, b)
                    return True
        return False

    # ---- run --------------------------------------------------------------------------------
    def run(self, requests: list[Request], max_cycles: int = 10_000_000) -> dict[int, int]:
        """Serve ``requests`` (sorted by arrival); return ``{index: completion cycle}``."""
        pending = list(requests)
        queue: list[Request] = []
        done: dict[int, int] = {}
        now = 0
        while pending or queue:
            while pending and len(queue) < self.qcap and pending[0].arrival <= now:
                queue.append(pending.pop(0))
            if not self._try_refresh(now):
                if not self._try_column(now, queue, done):
                    self._try_row(now, queue)
            now += 1
            if now > max_cycles:
                raise RuntimeError("reference controller made no progress")
        return done
