"""Per-cycle reference of the GPU block scheduler (tests only).

Every cycle: CTAs whose work is done leave their slots; then, if the issue gap has passed and a
slot is free, the next CTA of the grid takes the lowest free slot; then every running CTA does
one cycle of work. Nothing here is closed-form: the tests demand that
:func:`sim.families.gpu.kernel.cta_schedule` gives the same makespan and busy slot-cycles.
"""

from __future__ import annotations


class ReferenceBlockScheduler:
    def __init__(self, slots: int, gap: int = 1):
        self.slots = slots
        self.gap = gap

    def run(self, work, max_cycles: int = 1_000_000) -> tuple[int, int]:
        remaining = [None] * self.slots  # cycles left of the CTA in each slot
        nxt, last_issue, busy, finished = 0, None, 0, 0
        for cycle in range(max_cycles):
            for s in range(self.slots):
                if remaining[s] == 0:
                    remaining[s] = None
                    finished += 1
            if finished == len(work):
                return cycle, busy
            while nxt < len(work) and (last_issue is None or cycle - last_issue >= self.gap):
                free = [s for s in range(self.slots) if remaining[s] is None]
                if not free:
                    break
                remaining[free[0]] = int(work[nxt])
                nxt += 1
                last_issue = cycle
                if self.gap > 0:
                    break
            for s in range(self.slots):
                if remaining[s]:
                    remaining[s] -= 1
                    busy += 1
        raise RuntimeError("reference block scheduler did not finish")
