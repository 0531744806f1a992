"""The memory system: command-level DRAM against its per-cycle reference and the protocol's
figures, the periodic steady state against full simulation, presets, energy, SRAM."""

import math

import numpy as np
import pytest

from sim.core.config import Config
from sim.core.config.schema import validate
from sim.core.errors import ConfigError
from sim.memory.energy import DramEnergy
from sim.memory.spec import DRAM, address_map, load_presets, resolve_spec
from sim.memory.sram import SramBuffer, _predict, access_cycles, load_points, strided_access_cycles
from sim.memory.system import controller_shares, run_requests, run_stream
from sim.memory.dram_reference import ReferenceController, Request


def spec_of(**kw):
    data, problems = validate(dict(kw), DRAM, "t.yaml")
    assert not problems, problems
    spec, problems = resolve_spec(Config(data), "t.yaml")
    assert not problems, problems
    return spec


def problems_of(**kw):
    data, problems = validate(dict(kw), DRAM, "t.yaml")
    return problems or resolve_spec(Config(data), "t.yaml")[1]


def address(spec, bank, row, col, ch=0):
    """Byte address of (flat bank, row, column) on channel ``ch``."""
    o, am = spec.org, address_map(spec)
    f = {"ra": bank // (o["bankgroups"] * o["banks_per_group"]),
         "bg": (bank // o["banks_per_group"]) % o["bankgroups"], "ba": bank % o["banks_per_group"],
         "ro": row, "co": col, "ch": ch, "pc": 0}
    return sum(int(v) << am.shifts[k] for k, v in f.items()) << am.offset_bits


# ---- fast path == per-cycle reference ------------------------------------------------------
@pytest.mark.parametrize("seed", range(24))
def test_kernel_matches_per_cycle_reference(seed):
    rng = np.random.default_rng(seed)
    preset = ("HBM2", "DDR4-3200", "HBM3", "GDDR6", "LPDDR5", "HBM2E")[seed % 6]
    spec = spec_of(preset=preset, channels=1, pseudo_channels=1,
                   queue_depth=int(rng.choice([1, 4, 8, 16])),
                   page_policy=("open", "closed")[seed % 2],
                   refresh=("staggered", "simultaneous", "off")[seed % 3],
                   timing={"tREFI": int(rng.integers(300, 900)),
                           "tRFC": int(rng.integers(20, 150))})
    n = int(rng.integers(10, 90))
    bank = rng.integers(0, spec.banks, n)
    row = rng.integers(0, 3, n)
    col = rng.integers(0, spec.columns, n)
    addr = [address(spec, b, r, c) for b, r, c in zip(bank, row, col)]
    arrival = np.sort(rng.integers(0, int(rng.choice([1, 60, 600])), n))
    write = rng.random(n) < rng.choice([0.0, 0.3, 1.0])
    done, counts = run_requests(spec, addr, arrival, write)
    o = spec.org
    ref = ReferenceController(spec.timing, o["ranks"], o["bankgroups"], o["banks_per_group"],
                              spec.queue_depth, spec.closed_page, spec.refresh)
    expected = ref.run([Request(i, int(bank[i]), int(row[i]), bool(write[i]), int(arrival[i]))
                        for i in range(n)])
    assert done.tolist() == [expected[i] for i in range(n)]
    assert counts == ref.counts


# ---- periodic steady state == full simulation ----------------------------------------------
@pytest.mark.parametrize("preset", ["HBM2", "HBM2E", "HBM3"] + [
    pytest.param(p, marks=pytest.mark.jit_heavy) for p in ("DDR4-3200", "LPDDR5", "GDDR6")])
@pytest.mark.parametrize("extra", [{}, {"page_policy": "closed"},
                                   {"refresh": "simultaneous", "queue_depth": 8}])
def test_periodic_steady_state_equals_full_simulation(preset, extra):
    spec = spec_of(preset=preset, **extra)
    for nbytes, write in ((12345, False), (3 << 21, True), (1 << 24, False)):
        fast = run_stream(spec, nbytes, write, detect=True)
        full = run_stream(spec, nbytes, write, detect=False)
        assert (fast.cycles, fast.commands, fast.hits, fast.active_rank_cycles) == \
            (full.cycles, full.commands, full.hits, full.active_rank_cycles)


def test_steady_state_skips_most_of_a_long_stream():
    spec = spec_of(preset="HBM2", channels=1)
    fast = run_stream(spec, 1 << 26)
    assert fast.extrapolated > 0.9 * fast.requests
    assert fast.period[0] > 0 and fast.period[1] > 0


@pytest.mark.slow
def test_steady_state_equals_full_simulation_with_refresh_on_a_long_stream():
    spec = spec_of(preset="HBM2", channels=1)
    fast, full = run_stream(spec, 1 << 27, detect=True), run_stream(spec, 1 << 27, detect=False)
    assert fast.extrapolated > 0
    assert (fast.cycles, fast.commands, fast.active_rank_cycles) == \
        (full.cycles, full.commands, full.active_rank_cycles)


def test_controller_shares_partition_the_stream():
    spec = spec_of(preset="HBM3")
    for accesses in (1, 7, 1000, 123457):
        shares = controller_shares(spec, accesses)
        assert sum(n * c for n, c in shares.items()) == accesses
        assert sum(shares.values()) == spec.controllers
        assert max(shares) - min(shares) <= math.ceil(accesses / spec.controllers)


# ---- protocol figures (HBM2 = DRAMsim3 HBM2_8Gb_x128, tCK 1 ns) ------------------------------
def test_row_hit_streaming_reaches_peak_and_never_exceeds_it():
    spec = spec_of(preset="HBM2", channels=1, refresh="off")
    assert spec.peak_bandwidth == pytest.approx(32e9)   # 64 B per 2 cycles at 1 GHz
    r = run_stream(spec, 1 << 24)
    achieved = r.requests * 64 / (r.cycles * spec.tck_ns * 1e-9)
    assert 0.95 * 32e9 <= achieved <= 32e9
    done, _ = run_requests(spec, np.arange(4096) * 64)
    assert np.diff(np.sort(done)).min() >= spec.timing["tBL"]  # one burst per tBL at most


def test_device_of_32_channels_streams_about_one_terabyte_per_second():
    spec = spec_of(preset="HBM2", channels=32, refresh="off")
    r = run_stream(spec, 1 << 28)
    achieved = r.requests * 64 / (r.cycles * 1e-9)
    assert spec.peak_bandwidth == pytest.approx(1.024e12)
    assert 0.95 * 1.024e12 <= achieved <= 1.024e12


def test_unloaded_latencies_follow_the_timing_parameters():
    spec = spec_of(preset="HBM2", channels=1, refresh="off")
    t = spec.timing
    closed = t["tRCD"] + t["CL"] + t["tBL"]
    assert closed == 30
    done, _ = run_requests(spec, [address(spec, 0, 0, 0)])
    assert done[0] == closed
    # a row conflict arriving once the bank is idle adds tRP
    done, _ = run_requests(spec, [address(spec, 0, 0, 0), address(spec, 0, 1, 0)], [0, 200])
    assert done[1] - 200 == t["tRP"] + closed == 44
    # two rows of one bank requested together: ACT to ACT is tRC
    done, c = run_requests(spec, [address(spec, 0, 0, 0), address(spec, 0, 1, 0)])
    assert done[1] == t["tRC"] + closed == 78 and c["ACT"] == 2 and c["PRE"] == 1


def test_four_activate_window():
    spec = spec_of(preset="HBM2", channels=1, refresh="off")
    t = spec.timing
    banks = [0, 4, 8, 12, 1, 5]  # bank groups 0,1,2,3,0,1 of rank 0: tRRD_S apart
    done, _ = run_requests(spec, [address(spec, b, 0, 0) for b in banks])
    act = done - (t["tRCD"] + t["CL"] + t["tBL"])
    assert act[:4].tolist() == [0, 4, 8, 12]
    assert act[4] == t["tFAW"]                      # fifth ACT waits for the window
    assert act[5] == act[1] + t["tFAW"]


def test_refresh_costs_about_trfc_over_trefi():
    base = run_stream(spec_of(preset="HBM2", channels=1, ranks=1, refresh="off"), 1 << 24)
    ref = run_stream(spec_of(preset="HBM2", channels=1, ranks=1), 1 << 24)
    t = load_presets()["HBM2"]["timing"]
    loss = 1 - base.cycles / ref.cycles
    share = t["tRFC"] / t["tREFI"]
    assert share <= loss <= 1.25 * share  # + closing and reopening the rows around each REF
    assert ref.commands["REF"] == pytest.approx(ref.cycles / t["tREFI"], abs=1)


def test_random_reads_match_the_activate_bound():
    spec = spec_of(preset="HBM2", channels=1, refresh="off")
    t = spec.timing
    rng = np.random.default_rng(7)
    n = 20000
    done, c = run_requests(spec, rng.integers(0, spec.capacity_bytes // 64, n) * 64)
    # each access needs ACT + PRE + RD; per rank at most 4 ACTs per tFAW, so 2 ranks give
    # 8 / tFAW accesses per cycle, below the command bus (1/3) and the data bus (1 / tBL)
    bound = min(spec.org["ranks"] * 4 / t["tFAW"], 1 / 3, 1 / t["tBL"])
    achieved = n / done.max()
    assert c["ACT"] == n and c["RD"] == n
    assert 0.90 * bound <= achieved <= bound


def test_streaming_energy_per_bit_is_near_the_published_hbm2_figure():
    spec = spec_of(preset="HBM2", channels=8)
    r = run_stream(spec, 1 << 28)
    ranks = spec.org["ranks"] * spec.controllers
    commands = dict(r.commands, REF=r.cycles / spec.timing["tREFI"] * ranks)
    bits = 8 * r.requests * spec.access_bytes
    parts = DramEnergy.of(spec).breakdown_pj(commands, bits, r.active_rank_cycles,
                                             r.cycles * ranks - r.active_rank_cycles)
    assert sum(parts.values()) / bits == pytest.approx(3.9, rel=0.05)  # Chatterjee et al. 2017
    # random access pays an activation per 64 B access: more than half again the read energy
    e = DramEnergy.of(spec)
    assert e.act / 512 > 0.5 * parts["rd"] / bits


def test_every_preset_streams_near_its_peak_without_refresh():
    for name in load_presets():
        spec = spec_of(preset=name, refresh="off")
        r = run_stream(spec, 1 << 24)
        achieved = r.requests * spec.access_bytes / (r.cycles * spec.tck_ns * 1e-9)
        assert 0.95 * spec.peak_bandwidth <= achieved <= spec.peak_bandwidth, name


# ---- presets and overrides -------------------------------------------------------------------
def test_presets_name_their_sources():
    for name, row in load_presets().items():
        for key in ("source", "timing_source", "power_source", "io_source"):
            assert row[key], (name, key)


def test_single_timings_can_be_overridden():
    spec = spec_of(preset="HBM2", timing={"CL": 20, "tRCD": 16})
    assert spec.timing["CL"] == 20 and spec.idle_read_latency_cycles == 16 + 20 + 2


@pytest.mark.parametrize("kw, message", [
    ({"timing": {"tRAS": 40}}, r"dram.timing.tRC: tRC \(48\) < tRAS \(40\) \+ tRP \(14\)"),
    ({"timing": {"tRFC": 5000}}, r"dram.timing.tREFI: .* < tRFC"),
    ({"channels": 12}, r"dram.channels: 12 must be a power of two"),
    ({"address_mapping": "rorabgbaxxco"}, r"dram.address_mapping: .* not a bit order"),
    ({"address_mapping": "rorabgbaco"}, r"lacks ch"),
    ({"bandwidth": "1 TB/s"}, r"dram.bandwidth: only used with dram.model: ideal"),
    ({"row_bytes": 1000}, r"dram.row_bytes: 1000 B is not a multiple"),
])
def test_conflicting_or_malformed_overrides_are_rejected(kw, message):
    import re
    problems = problems_of(**{"preset": "HBM2", "channels": 8, **kw})
    assert any(re.search(message, p) for p in problems), problems
    assert all(p.startswith("t.yaml: dram.") for p in problems)


def test_bad_dram_config_fails_arch_loading(root):
    from sim.simulation.arch import load_arch
    with pytest.raises(ConfigError, match=r"dram.timing.tRC"):
        load_arch(root / "arch_configs" / "systolic.yaml", ["dram.timing.tRAS=60"])


# ---- report integration -------------------------------------------------------------------
def test_report_has_a_dram_section_with_conserved_bytes():
    from tests.conftest import SYSTOLIC
    from sim.simulation.simulate import simulate
    r = simulate(SYSTOLIC, "llama7b_decode", ["workload.context_len=64"])
    d = r.to_dict()["dram"]
    assert set(d) >= {"bandwidth_utilization", "row_hit_rate", "commands", "energy_joules"}
    assert 0 < d["bandwidth_utilization"] <= 1 and 0 <= d["row_hit_rate"] <= 1
    assert d["bytes_read"] == sum(o.bytes["dram_read"] for o in r.ops)
    access = 64
    assert d["commands"]["RD"] == sum(-(-o.bytes["dram_read"] // access) for o in r.ops)
    assert d["energy_joules"] == pytest.approx(r.energy_breakdown["dram"], rel=1e-9)


def test_capacity_overflow_is_a_clear_error():
    from tests.conftest import SYSTOLIC
    from sim.core.errors import WorkloadError
    from sim.simulation.simulate import simulate
    with pytest.raises(WorkloadError, match=r"dram.channels: workload gpt3_175b_decode needs"):
        simulate(SYSTOLIC, "gpt3_175b_decode")


# ---- SRAM -------------------------------------------------------------------------------------
def test_sram_model_reproduces_the_cacti_points():
    for p in load_points()["points"]:
        for key in ("read_pj", "write_pj", "area_mm2"):
            assert _predict(key, p["bytes"], p["width_bytes"]) == pytest.approx(p[key], rel=1e-9)


def test_sram_energy_grows_with_bank_size_and_width():
    from sim.core.costs import CostModel
    costs = CostModel(45, 0.9)
    small = SramBuffer(2**20, 32, 16).read_pj_per_bit(costs).value
    big = SramBuffer(2**20, 2, 16).read_pj_per_bit(costs).value
    assert big > small
    assert SramBuffer(2**20, 8, 16).area_mm2(costs).value > 0


@pytest.mark.parametrize("lanes, stride, banks, ports", [
    (128, 1, 32, 1), (128, 2, 32, 1), (128, 32, 32, 1), (16, 3, 8, 1), (64, 0, 16, 1),
    (7, 4, 16, 1), (128, 8, 32, 2), (100, 6, 16, 2)])
def test_strided_bank_conflicts_match_explicit_count(lanes, stride, banks, ports):
    explicit = access_cycles(np.arange(lanes) * stride, banks, ports)
    assert strided_access_cycles(lanes, stride, banks, ports) == explicit


# ---- cross-check against DRAMsim3 -----------------------------------------------------------
#: DRAMsim3 @2981759 (umd-memsys/DRAMsim3), configs/HBM2_8Gb_x128.ini with channels = 1, run
#: with its trace CPU for 100,000 cycles (docs/memory.md gives the commands): 200,000 sequential
#: 64 B reads -> 46,071 reads = 29.49 B/cycle; uniformly random 64 B reads (seed 7) -> 12,301
#: reads = 7.87 B/cycle. Its organisation: 1 rank, 16 banks, 2 KiB rows, staggered refresh.
DRAMSIM3_SEQ_B_PER_CYCLE = 46071 * 64 / 100000
DRAMSIM3_RAND_B_PER_CYCLE = 12301 * 64 / 100000


@pytest.mark.jit_heavy
def test_bandwidth_agrees_with_dramsim3_runs():
    spec = spec_of(preset="HBM2", channels=1, ranks=1, row_bytes=2048)
    seq = run_stream(spec, 200000 * 64)
    assert seq.requests * 64 / seq.cycles == pytest.approx(DRAMSIM3_SEQ_B_PER_CYCLE, rel=0.03)
    rng = np.random.default_rng(7)
    n = 30000
    done, _ = run_requests(spec, rng.integers(0, (1 << 30) // 64, n) * 64, np.arange(n))
    assert n * 64 / done.max() == pytest.approx(DRAMSIM3_RAND_B_PER_CYCLE, rel=0.03)
