"""DRAM energy per command and per cycle from IDD currents (Micron TN-41-01 / DRAMsim3 rule).

With currents in mA, VDD in V and time in ns, V x mA x ns = pJ. Per rank (``devices`` chips in
parallel):

* ACT+PRE pair: VDD x (IDD0 x tRC - (IDD3N x tRAS + IDD2N x (tRC - tRAS))) x devices. The pair is
  charged to ACT; PRE itself costs 0 (IDD0 is measured over an ACT-PRE cycle).
* RD / WR: VDD x (IDD4R/IDD4W - IDD3N) x tBL x devices, plus the interface energy
  ``io_pj_per_bit`` for each data bit.
* REF: VDD x (IDD5AB - IDD3N) x tRFC x devices.
* Background per rank and cycle: VDD x IDD3N x devices while any bank is open (active standby),
  VDD x IDD2N x devices otherwise (precharge standby).
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.memory.spec import DramSpec


@dataclass(frozen=True)
class DramEnergy:
    """Energies in pJ: per command, per data bit, per rank-cycle of background."""

    act: float
    rd: float
    wr: float
    ref: float
    io_per_bit: float
    active_standby: float
    precharge_standby: float

    @classmethod
    def of(cls, spec: DramSpec) -> "DramEnergy":
        p, t, tck = spec.power, spec.timing, spec.tck_ns
        v, dev = p["VDD"], p["devices"]
        act = v * (p["IDD0"] * t["tRC"] - (p["IDD3N"] * t["tRAS"]
                                          + p["IDD2N"] * (t["tRC"] - t["tRAS"]))) * dev * tck
        return cls(act=max(act, 0.0),
                   rd=v * (p["IDD4R"] - p["IDD3N"]) * t["tBL"] * dev * tck,
                   wr=v * (p["IDD4W"] - p["IDD3N"]) * t["tBL"] * dev * tck,
                   ref=v * (p["IDD5AB"] - p["IDD3N"]) * t["tRFC"] * dev * tck,
                   io_per_bit=spec.io_pj_per_bit,
                   active_standby=v * p["IDD3N"] * dev * tck,
                   precharge_standby=v * p["IDD2N"] * dev * tck)

    def breakdown_pj(self, commands: dict, bits: float, active_rank_cycles: float,
                     idle_rank_cycles: float) -> dict:
        """Energy by component (pJ) for the given command counts and rank-cycles."""
        return {"act": commands["ACT"] * self.act,
                "rd": commands["RD"] * self.rd,
                "wr": commands["WR"] * self.wr,
                "ref": commands["REF"] * self.ref,
                "io": bits * self.io_per_bit,
                "background": (active_rank_cycles * self.active_standby
                               + idle_rank_cycles * self.precharge_standby)}
