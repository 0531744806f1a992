"""The accelerator-family interface and its registry.

A family is one folder under ``sim/families/`` whose package defines (or imports) a
:class:`Family` subclass decorated with :func:`register_family`. :mod:`sim.families` discovers
the folders by scanning, so adding a family touches no core file. ``kind:`` in an arch YAML
picks the family.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field

import numpy as np

from sim.core.config import Config, Section
from sim.core.costs import Price
from sim.core.ops import Op

_REGISTRY: dict[str, type["Family"]] = {}


def register_family(cls: type["Family"]) -> type["Family"]:
    """Class decorator: register ``cls`` under ``cls.kind`` (duplicates are a programming error)."""
    if not getattr(cls, "kind", None):
        raise TypeError(f"{cls.__name__} must set kind")
    if cls.kind in _REGISTRY and _REGISTRY[cls.kind] is not cls:
        raise TypeError(f"family kind {cls.kind!r} registered twice "
                        f"({_REGISTRY[cls.kind].__module__} and {cls.__module__})")
    _REGISTRY[cls.kind] = cls
    return cls


def registered() -> dict[str, type["Family"]]:
    """The families registered so far, by kind (:func:`sim.families.discover` imports them all)."""
    return dict(_REGISTRY)


@dataclass
class OpPlan:
    """How one op runs on one unit: tile groups plus the counts that price it.

    Tile groups are run-length encoded: group ``g`` has ``counts[g]`` identical tiles, each moving
    ``load_bytes[g]`` from DRAM before it runs, busy ``compute_cycles[g]`` on ``unit`` and writing
    ``store_bytes[g]`` back. ``energy_pj`` holds dynamic energy by component; ``sram_bytes`` the
    on-chip traffic (read, write); ``roofline_cycles`` max(compute bound, compulsory DRAM bound).
    """

    unit: str
    counts: np.ndarray
    load_bytes: np.ndarray
    compute_cycles: np.ndarray
    store_bytes: np.ndarray
    macs: int
    peak_macs_per_cycle: float
    roofline_cycles: int
    energy_pj: dict[str, float]
    sram_read_bytes: int = 0
    sram_write_bytes: int = 0
    vector_ops: int = 0
    mapping: str = ""
    #: traffic at levels other than DRAM and SRAM, e.g. ``{"pim_read": bytes}`` read by
    #: processing-in-memory units inside the banks
    other_bytes: dict = field(default_factory=dict)
    #: MACs the unit actually computes when they differ from the model's ``macs`` (a causal
    #: attention kernel skips the masked key blocks; split or padded tiles compute extra);
    #: None = ``macs``. Peak, roofline and utilisation are about these.
    executed_macs: int | None = None

    @property
    def computed_macs(self) -> int:
        """MACs the unit executes (``executed_macs`` or the model's ``macs``)."""
        return self.macs if self.executed_macs is None else self.executed_macs

    @property
    def dram_read_bytes(self) -> int:
        return int((self.counts * self.load_bytes).sum())

    @property
    def dram_write_bytes(self) -> int:
        return int((self.counts * self.store_bytes).sum())

    @property
    def ideal_compute_cycles(self) -> int:
        return int((self.counts * self.compute_cycles).sum())


@dataclass(frozen=True)
class AreaItem:
    """Area of one component in mm² and the price entries it came from."""

    mm2: float
    entries: tuple[str, ...]
    detail: str = ""


def memory_and_vector_area(cfg: Config, costs, sram: dict, fma_area) -> dict[str, AreaItem]:
    """Area items every family with SRAM buffers, a vector unit and DRAM shares: one per
    buffer (CACTI grid), the vector unit's FMA lanes and the configured DRAM PHY."""
    items = {}
    for b, buf in sram.items():
        p = buf.area_mm2(costs)
        items[f"sram_{b}"] = AreaItem(p.value, p.entries, f"{cfg.sram[b] / 2**20:.3g} MiB in "
                                      f"{buf.banks} banks of {buf.width} B words")
    items["vector_unit"] = AreaItem(cfg.vector.lanes * fma_area.value * 1e-6, fma_area.entries,
                                    f"{cfg.vector.lanes} FP32 FMA lanes")
    if cfg.dram.phy_area > 0:
        items["dram_phy"] = AreaItem(cfg.dram.phy_area, ("config: dram.phy_area",),
                                     "as configured (not node-scaled)")
    return items


class Family(abc.ABC):
    """Base class of an accelerator family (see docs/adding_a_family.md).

    Subclasses set ``kind``, ``description`` and ``schema`` (a :class:`~sim.core.config.Section`) as
    class attributes and implement the abstract methods.
    """

    kind = ""
    description = ""
    schema: Section
    #: energy components of the family's compute, listed before the common ones in reports
    energy_components: tuple[str, ...] = ()

    def check(self, cfg: Config, file: str | None) -> list[str]:
        """Layer-two rules across fields; return one message per problem."""
        return []

    def native_bits(self, cfg: Config) -> dict[str, int]:
        """Default ``weight_bits`` / ``act_bits`` for workloads that leave them null."""
        return {"weight_bits": 16, "act_bits": 16}

    def check_workload(self, ctx, workload) -> list[str]:
        """Problems running ``workload`` on this architecture (precision, capacity)."""
        return []

    def serving_overrides(self, cfg: Config, phase: str) -> list[tuple[str, object]]:
        """Config overrides for the part of the design that runs ``phase`` (prefill or
        decode) of a serving run; by default the whole design runs both."""
        return []

    def lower(self, ctx, ops: tuple) -> tuple:
        """Rewrite the workload's op graph for this hardware (e.g. split an op into two);
        by default unchanged."""
        return ops

    def dependencies(self, ctx, ops) -> list | None:
        """``deps[i]``: the ops op ``i`` waits for; None: each op waits for the one before."""
        return None

    def refine(self, ctx, ops, plans, timings) -> list | None:
        """New plans after a first simulation (e.g. contention measured from the overlap);
        None keeps the first result."""
        return None

    def compulsory_levels(self, ctx) -> dict[str, tuple[str, ...]]:
        """Report byte counters (``dram_read``, ``sram_read``, ...) that must carry each class of
        compulsory traffic (:func:`sim.core.invariants.compulsory_bytes`): ``weights`` and
        ``kv_read`` (the cached context) are read at least once at each level listed, and
        ``kv_write`` (the new keys and values) written. By default weights and KV stream from
        DRAM through SRAM and new KV goes back to DRAM."""
        return {"weights": ("dram_read", "sram_read"), "kv_read": ("dram_read", "sram_read"),
                "kv_write": ("dram_write",)}

    def report_extras(self, ctx, report) -> dict:
        """Family-specific totals for the report's ``extras`` section."""
        return {}

    def pricing(self, ctx) -> dict[str, list[str]]:
        """For each energy component, the cost-table entries (with sources) that priced it."""
        return {}

    @abc.abstractmethod
    def prepare(self, cfg: Config, file: str | None):
        """Per-arch context shared by every op's plan (costs, channel, peaks)."""

    @abc.abstractmethod
    def plan(self, ctx, op: Op) -> OpPlan:
        """Map one op onto the hardware."""

    @abc.abstractmethod
    def area(self, ctx) -> dict[str, AreaItem]:
        """Area per component in mm², each non-zero or explained."""

    @abc.abstractmethod
    def units(self, ctx) -> list[str]:
        """Names of the units that ops can occupy (for the event core and the trace)."""

    def static_power_w(self, ctx, area_mm2: float) -> Price:
        """Leakage power (W) of the chip with ``area_mm2`` of on-chip area: by default
        ``tech.leakage_w_per_mm2`` of the context's config times the area."""
        return Price(ctx.cfg.tech.leakage_w_per_mm2 * area_mm2, ("config: tech.leakage_w_per_mm2",))

    def static_power(self, ctx, area_mm2: float) -> dict[str, Price]:
        """Power (W by component) drawn whether anything runs or not, charged for the whole run:
        the chip's measured or datasheet idle power (``power.idle_w``) where the config gives
        one, else the leakage of :meth:`static_power_w`."""
        idle = _power_field(ctx, "idle_w")
        if idle is not None:
            return {"idle": Price(idle, ("config: power.idle_w",))}
        return {"leakage": self.static_power_w(ctx, area_mm2)}

    def busy_power(self, ctx) -> dict[str, Price]:
        """Power (W by component) drawn on top of static power while an op runs, whatever it
        computes: clock tree, control and uncore of an active chip (``power.active_w``). Charged
        for each op's duration and reported as dynamic energy; none by default."""
        active = _power_field(ctx, "active_w")
        return {"active": Price(active, ("config: power.active_w",))} if active else {}

    #: the design's power management holds its power at :meth:`power_limit_w` (a GPU lowers
    #: its clock); otherwise a run above the limit is only flagged
    enforces_power_limit = False

    def power_limit_w(self, ctx) -> float | None:
        """The design's power limit (TDP or board limit, W) where one is known
        (``power.limit_w``): a run whose average power exceeds it is flagged, or held at it
        (:attr:`enforces_power_limit`). None by default."""
        return _power_field(ctx, "limit_w")

    def channel(self, ctx):
        """The DRAM system (:class:`sim.memory.DramSystem`) ops stream through, None for a design
        without DRAM; by default the context's ``channel``."""
        return ctx.channel


def _power_field(ctx, name: str):
    """``power.<name>`` of the context's config, None where its schema has no power section."""
    power = getattr(ctx.cfg, "power", None)
    return None if power is None else getattr(power, name, None)
