"""DRAM standards as data, the ``dram:`` config section, and the resolved :class:`DramSpec`.

A preset row in ``sim/memory/data/dram_presets.yaml`` gives organisation, timings (DRAM clock
cycles), IDD currents and the interface energy of one standard, each with its source. An arch YAML
picks one (``dram: {preset: HBM2, channels: 32}``) and may override single organisation fields and
timings; :func:`resolve_spec` applies the overrides and rejects combinations that contradict each
other or the DRAM protocol (e.g. ``tRC < tRAS + tRP``).

One *controller* is what has its own command and data bus: a legacy HBM channel, an HBM pseudo
channel, a DDR/LPDDR/GDDR channel. Controllers are independent; the device has
``channels * pseudo_channels`` of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import yaml

from sim.core.config import Config, Field, Section
from sim.core.errors import where

PRESETS_PATH = Path(__file__).resolve().parent / "data" / "dram_presets.yaml"

#: Timing names, in the order the Numba kernel receives them (all in DRAM clock cycles).
TIMING_NAMES = ("CL", "CWL", "tBL", "tRCD", "tRCDWR", "tRP", "tRAS", "tRC", "tCCD_S", "tCCD_L",
                "tRRD_S", "tRRD_L", "tFAW", "tWTR_S", "tWTR_L", "tRTP", "tWR", "tRFC", "tREFI",
                "tRTRS")
TIMING_DOC = {
    "CL": "read latency: RD to first data", "CWL": "write latency: WR to first data",
    "tBL": "burst: data-bus cycles per access", "tRCD": "ACT to RD",
    "tRCDWR": "ACT to WR", "tRP": "PRE to ACT", "tRAS": "ACT to PRE",
    "tRC": "ACT to ACT, same bank", "tCCD_S": "column to column, other bank group",
    "tCCD_L": "column to column, same bank group", "tRRD_S": "ACT to ACT, other bank group",
    "tRRD_L": "ACT to ACT, same bank group", "tFAW": "window holding at most four ACTs per rank",
    "tWTR_S": "end of write data to RD, other bank group",
    "tWTR_L": "end of write data to RD, same bank group", "tRTP": "RD to PRE",
    "tWR": "end of write data to PRE (write recovery)", "tRFC": "REF to ACT (refresh cycle)",
    "tREFI": "interval between REF commands per rank", "tRTRS": "rank-to-rank data-bus switch",
}
ORG_NAMES = ("channels", "pseudo_channels", "ranks", "bankgroups", "banks_per_group", "rows",
             "row_bytes", "bus_bits", "burst_length")
POWER_NAMES = ("VDD", "IDD0", "IDD2N", "IDD3N", "IDD4R", "IDD4W", "IDD5AB", "devices")
#: Address-mapping field tokens: row, rank, bank group, bank, channel, pseudo channel, column.
MAPPING_FIELDS = ("ro", "ra", "bg", "ba", "ch", "pc", "co")


@lru_cache(maxsize=1)
def load_presets() -> dict:
    """The preset table, checked to give every row all keys and a source for each part."""
    with open(PRESETS_PATH, encoding="utf-8") as f:
        table = yaml.safe_load(f)
    for name, row in table.items():
        for key in ("source", "timing_source", "power_source", "io_source"):
            if not row.get(key):
                raise ValueError(f"{PRESETS_PATH}: preset {name} has no {key}")
        missing = ([k for k in ORG_NAMES if k not in row["org"]]
                   + [k for k in TIMING_NAMES if k not in row["timing"]]
                   + [k for k in POWER_NAMES if k not in row["power"]])
        if missing:
            raise ValueError(f"{PRESETS_PATH}: preset {name} lacks {missing}")
    return table


def preset_names() -> tuple[str, ...]:
    return tuple(load_presets())


def _nullable_int(desc: str, maximum: int) -> Field:
    """An organisation override; ``maximum`` bounds it well beyond any real part (the bank
    state machines are arrays of this size)."""
    return Field("int", None, desc, nullable=True, positive=True, maximum=maximum)


DRAM = Section("Off-chip DRAM: a preset standard, optional overrides, controller policy", {
    "model": Field("enum", "cycle", "cycle: command-level bank state machines (FR-FCFS "
                   "controller); ideal: a fixed bandwidth + latency pipe (for isolating compute)",
                   choices=("cycle", "ideal")),
    "preset": Field("enum", "HBM2", "DRAM standard (organisation, timings, currents; see "
                    "docs/memory.md)", choices=preset_names()),
    "channels": _nullable_int("Channels; null = the preset's", 1024),
    "pseudo_channels": _nullable_int("Pseudo channels per channel; null = the preset's", 16),
    "ranks": _nullable_int("Ranks (HBM stack IDs) per controller; null = the preset's", 64),
    "bankgroups": _nullable_int("Bank groups per rank; null = the preset's", 64),
    "banks_per_group": _nullable_int("Banks per bank group; null = the preset's", 64),
    "rows": _nullable_int("Rows per bank; null = the preset's", 2**24),
    "row_bytes": _nullable_int("Row (page) size per controller in bytes; null = the preset's", 2**16),
    "address_mapping": Field("str", None, "Address bit order, most significant first, from the "
                             "tokens ro ra bg ba ch pc co (e.g. rorabgbachco); the access offset "
                             "sits below; null = the preset's", nullable=True),
    "page_policy": Field("enum", "open", "open: rows stay open after an access; closed: "
                         "auto-precharge when no queued request hits the row",
                         choices=("open", "closed")),
    "queue_depth": Field("int", 32, "Requests each controller holds for FR-FCFS scheduling "
                         "(at most 256: the scheduler scans the queue on every command)",
                         positive=True, maximum=256,
                         source="DRAMsim3 trans_queue_size default 32"),
    "refresh": Field("enum", "staggered", "All-bank refresh every tREFI per rank: staggered "
                     "(rank r first due at (r+1) tREFI / ranks, DRAMsim3's default), "
                     "simultaneous (all ranks together) or off",
                     choices=("staggered", "simultaneous", "off")),
    "timing": Section("Single-timing overrides in DRAM clock cycles (null = the preset's)",
                      {name: Field("int", None, TIMING_DOC[name], unit="cycles", nullable=True,
                                   minimum=0, maximum=2**16) for name in TIMING_NAMES}),
    "controller_latency": Field("time", 0.0, "Controller + on-chip network latency added to "
                                "every DRAM access", minimum=0),
    "io_energy_per_bit": Field("energy", None, "Interface energy per data bit; null = the "
                               "preset's", nullable=True, minimum=0),
    "bandwidth": Field("bandwidth", None, "model: ideal only: peak transfer rate of all channels "
                       "together; null = the preset's peak", nullable=True, positive=True),
    "latency": Field("time", None, "model: ideal only: idle read latency; null = the preset's "
                     "closed-row latency tRCD + CL + tBL", nullable=True, minimum=0),
    "phy_area": Field("area", 0.0, "On-die PHY + controller area attributed to this chip",
                      minimum=0),
})


#: banks of the whole DRAM system the command-level model simulates (state arrays per bank)
MAX_BANKS = 2**17

#: ``dram:`` keys whose meaning belongs to one preset (its organisation, timings, interface
#: energy and PHY): a config that changes ``dram.preset`` does not inherit them
PRESET_KEYS = ("channels", "pseudo_channels", "ranks", "bankgroups", "banks_per_group", "rows",
               "row_bytes", "address_mapping", "timing", "io_energy_per_bit", "phy_area")


def rebase_preset(base: dict, top: dict) -> dict:
    """``base`` (a raw arch mapping) without its preset-specific ``dram:`` keys when ``top``
    (the child config, or the overrides as a mapping) sets another ``dram.preset``."""
    new = (top.get("dram") or {}).get("preset") if isinstance(top.get("dram"), dict) else None
    dram = base.get("dram")
    if new is None or not isinstance(dram, dict) or \
            dram.get("preset", DRAM.fields["preset"].default) == new:
        return base
    return {**base, "dram": {k: v for k, v in dram.items() if k not in PRESET_KEYS}}


@dataclass(frozen=True)
class DramSpec:
    """A resolved DRAM configuration. Timings in DRAM cycles, currents in mA, energies in pJ."""

    preset: str
    org: dict
    tck_ns: float
    timing: dict
    power: dict
    io_pj_per_bit: float
    mapping: str
    closed_page: bool
    queue_depth: int
    refresh: str
    sources: dict = field(default_factory=dict)

    # ---- organisation ---------------------------------------------------------------------
    @property
    def controllers(self) -> int:
        return self.org["channels"] * self.org["pseudo_channels"]

    @property
    def banks(self) -> int:
        """Banks per controller (all ranks)."""
        o = self.org
        return o["ranks"] * o["bankgroups"] * o["banks_per_group"]

    @property
    def access_bytes(self) -> int:
        """Bytes moved by one RD or WR (bus width x burst length)."""
        return self.org["bus_bits"] * self.org["burst_length"] // 8

    @property
    def columns(self) -> int:
        """Accesses per row."""
        return self.org["row_bytes"] // self.access_bytes

    @property
    def capacity_bytes(self) -> int:
        return self.controllers * self.banks * self.org["rows"] * self.org["row_bytes"]

    @property
    def frequency_hz(self) -> float:
        return 1e9 / self.tck_ns

    @property
    def peak_bytes_per_cycle(self) -> float:
        """Per controller, in DRAM cycles: one access per max(tBL, tCCD_S)."""
        t = self.timing
        return self.access_bytes / max(t["tBL"], t["tCCD_S"])

    @property
    def peak_bandwidth(self) -> float:
        """All controllers, B/s."""
        return self.peak_bytes_per_cycle * self.frequency_hz * self.controllers

    @property
    def idle_read_latency_cycles(self) -> int:
        """Closed-row read, unloaded: tRCD + CL + tBL (DRAM cycles)."""
        t = self.timing
        return t["tRCD"] + t["CL"] + t["tBL"]

    @property
    def refresh_code(self) -> int:
        """The kernel's refresh switch: 0 off, 1 staggered, 2 simultaneous."""
        return ("off", "staggered", "simultaneous").index(self.refresh)

    def timing_array(self) -> np.ndarray:
        return np.array([self.timing[n] for n in TIMING_NAMES], dtype=np.int64)

    def key(self) -> tuple:
        """Hashable identity for caches."""
        return (self.preset, tuple(sorted(self.org.items())), self.tck_ns,
                tuple(self.timing[n] for n in TIMING_NAMES), self.mapping, self.closed_page,
                self.queue_depth, self.refresh)


@dataclass(frozen=True)
class AddressMap:
    """Bit fields of a physical address, least significant first after the access offset."""

    shifts: dict
    widths: dict
    offset_bits: int

    def decode(self, addr: np.ndarray) -> dict:
        a = np.asarray(addr, dtype=np.int64) >> self.offset_bits
        return {f: (a >> self.shifts[f]) & ((1 << self.widths[f]) - 1) for f in MAPPING_FIELDS}


def _log2_exact(n: int) -> int | None:
    return n.bit_length() - 1 if n > 0 and n & (n - 1) == 0 else None


def field_sizes(spec: DramSpec) -> dict[str, int]:
    o = spec.org
    return {"ro": o["rows"], "ra": o["ranks"], "bg": o["bankgroups"], "ba": o["banks_per_group"],
            "ch": o["channels"], "pc": o["pseudo_channels"], "co": spec.columns}


def parse_mapping(text: str) -> list[str] | None:
    """``'rorabgbachco'`` -> ``['ro', 'ra', 'bg', 'ba', 'ch', 'co']`` (MSB first); None if malformed."""
    text = text.strip().lower().replace("-", "").replace("_", "")
    if len(text) % 2:
        return None
    tokens = [text[i:i + 2] for i in range(0, len(text), 2)]
    if any(t not in MAPPING_FIELDS for t in tokens) or len(set(tokens)) != len(tokens):
        return None
    return tokens


def address_map(spec: DramSpec) -> AddressMap:
    sizes = field_sizes(spec)
    tokens = parse_mapping(spec.mapping)
    shifts, widths, pos = {}, {}, 0
    for tok in reversed(tokens):
        shifts[tok], widths[tok] = pos, _log2_exact(sizes[tok])
        pos += widths[tok]
    for tok in MAPPING_FIELDS:  # fields of size 1 may be left out of the mapping
        if tok not in shifts:
            shifts[tok], widths[tok] = pos, 0
    return AddressMap(shifts, widths, _log2_exact(spec.access_bytes))


def resolve_spec(cfg: Config, file: str | None) -> tuple[DramSpec | None, list[str]]:
    """Apply the ``dram:`` section to its preset; return the spec and every problem found."""
    row = load_presets()[cfg.preset]
    problems: list[str] = []
    given = cfg.to_dict()
    org = {k: (given[k] if given.get(k) is not None else row["org"][k]) for k in ORG_NAMES}
    timing = {k: (cfg.timing[k] if cfg.timing[k] is not None else row["timing"][k])
              for k in TIMING_NAMES}
    mapping = cfg.address_mapping or row["address_mapping"]
    spec = DramSpec(cfg.preset, org, float(row["tCK"]), timing, dict(row["power"]),
                    float(cfg.io_energy_per_bit if cfg.io_energy_per_bit is not None
                          else row["io_pj_per_bit"]),
                    mapping, cfg.page_policy == "closed", int(cfg.queue_depth), cfg.refresh,
                    {k: row[k] for k in ("source", "timing_source", "power_source", "io_source")})
    problems += _org_problems(spec, file, cfg.model == "cycle")
    problems += _timing_problems(spec, cfg, file)
    problems += _mode_problems(cfg, file)
    return (None if problems else spec), problems


def _org_problems(spec: DramSpec, file, addressed: bool = True) -> list[str]:
    """Organisation problems; ``addressed`` (the cycle model decodes addresses) also demands
    power-of-two address fields and a complete address mapping."""
    out = []
    if not addressed:
        return out
    o = spec.org
    banks = (o["channels"] * o["pseudo_channels"] * o["ranks"] * o["bankgroups"]
             * o["banks_per_group"])
    if banks > MAX_BANKS:
        out.append(f"{where(file, 'dram.channels')}: channels x pseudo_channels x ranks x "
                   f"bankgroups x banks_per_group = {banks:,} banks; the cycle model keeps "
                   f"state per bank and allows at most {MAX_BANKS:,} (a 16-stack HBM3 system "
                   f"has about 8,192); allowed: fewer, or dram.model: ideal")
    sizes = field_sizes(spec)
    if spec.org["row_bytes"] % spec.access_bytes:
        out.append(f"{where(file, 'dram.row_bytes')}: {spec.org['row_bytes']} B is not a multiple "
                   f"of the {spec.access_bytes} B access of {spec.preset}")
    for tok, size in sizes.items():
        if _log2_exact(size) is None:
            name = {"ro": "rows", "ra": "ranks", "bg": "bankgroups", "ba": "banks_per_group",
                    "ch": "channels", "pc": "pseudo_channels", "co": "row_bytes"}[tok]
            out.append(f"{where(file, 'dram.' + name)}: {size} must be a power of two (it is an "
                       f"address bit field)")
    tokens = parse_mapping(spec.mapping)
    if tokens is None:
        out.append(f"{where(file, 'dram.address_mapping')}: {spec.mapping!r} is not a bit order; "
                   f"allowed: each of the tokens {' '.join(MAPPING_FIELDS)} at most once, "
                   f"e.g. 'rorabgbachco'")
    else:
        missing = [t for t in MAPPING_FIELDS if t not in tokens and sizes[t] > 1]
        if missing:
            out.append(f"{where(file, 'dram.address_mapping')}: {spec.mapping!r} lacks "
                       f"{', '.join(missing)}; every field larger than 1 needs bits")
    return out


#: (left, right, reason): the protocol demands timing[left] >= sum(timing[r] for r in right).
TIMING_RULES = (
    ("tRC", ("tRAS", "tRP"), "a bank must be open tRAS and precharged tRP between ACTs"),
    ("tRAS", ("tRCD",), "a row is open at least until its first column command"),
    ("tFAW", ("tRRD_S",), "the four-activate window spans at least one ACT spacing"),
    ("tRRD_L", ("tRRD_S",), "same-bank-group spacing is the long one"),
    ("tCCD_L", ("tCCD_S",), "same-bank-group spacing is the long one"),
    ("tWTR_L", ("tWTR_S",), "same-bank-group turnaround is the long one"),
    ("tREFI", ("tRFC",), "a refresh must finish before the next is due"),
)


def _timing_problems(spec: DramSpec, cfg: Config, file) -> list[str]:
    out = []
    t = spec.timing
    for name in ("CL", "CWL", "tBL", "tRCD", "tRCDWR", "tRP", "tRAS", "tRC", "tREFI", "tRFC"):
        if t[name] < 1:
            out.append(f"{where(file, 'dram.timing.' + name)}: {t[name]} must be >= 1 cycle")
    overridden = {n for n in TIMING_NAMES if cfg.timing[n] is not None}
    access = (t["tRP"] + max(t["tRCD"], t["tRCDWR"]) + max(t["CL"], t["CWL"]) + t["tBL"]
              + t["tWR"] + t["tRAS"] + t["tFAW"])
    if overridden and t["tREFI"] - t["tRFC"] <= access:
        out.append(f"{where(file, 'dram.timing.tREFI')}: the {t['tREFI'] - t['tRFC']} cycles "
                   f"between refreshes (tREFI - tRFC) after overrides cannot hold one row cycle "
                   f"and access (tRP + max(tRCD, tRCDWR) + max(CL, CWL) + tBL + tWR + tRAS + "
                   f"tFAW = {access}); every access would be cut by a refresh; allowed: "
                   f"tREFI - tRFC > {access}")
    for left, right, why in TIMING_RULES:
        need = sum(t[r] for r in right)
        if t[left] < need and (overridden & {left, *right}):
            rhs = " + ".join(f"{r} ({t[r]})" for r in right)
            out.append(f"{where(file, 'dram.timing.' + left)}: {left} ({t[left]}) < {rhs} "
                       f"after overrides, which contradicts the protocol ({why}); "
                       f"override {left} too or keep the preset's values")
    return out


def _mode_problems(cfg: Config, file) -> list[str]:
    if cfg.model == "ideal":
        return []
    return [f"{where(file, 'dram.' + key)}: only used with dram.model: ideal (model: cycle "
            f"derives it from the preset's timings); remove it or set dram.model: ideal"
            for key in ("bandwidth", "latency") if cfg[key] is not None]
