"""NPU + PIM (NeuPIMs) family: PIM command timing, kernel == per-cycle reference, KV layout,
request-length distributions and system-level properties."""

import math

import numpy as np
import pytest

from sim.families.npu_pim.kernel import GWRITE, MARK, TILE, WAIT, run_channel
from sim.memory.spec import load_presets
from sim.families.npu_pim.family import shared_tile_cycles
from sim.families.npu_pim.pim import (Layout, assign_channels, channel_program, instruction_count,
                                      mha_estimate, pim_timing, request_program, run_program,
                                      split_sub_batches)
from sim.families.npu_pim.reference import ReferenceChannel, shared_tile_reference
from sim.workloads.seqlens import snapshot_lengths
from sim.simulation.simulate import simulate

HBM2 = load_presets()["HBM2"]["timing"]
GEO = np.array([2, 4, 4])
NEUPIMS_7B_TP4 = Layout(banks=32, row_elems=512, macs=16, d_k=128, heads=8)


def tm(dual=True, command_set="composite"):
    return pim_timing(HBM2, dual, 96, command_set)


def prog(*rows):
    return np.array(rows, dtype=np.int64).reshape(-1, 4)


# ---- micro targets (NeuPIMs (Heo et al., ASPLOS'24) Sec. V-D) ------------------------------------------------------
@pytest.mark.parametrize("k,occ", [(1, 14), (6, 14), (8, 18), (32, 66)])
def test_gemv_occupancy_is_2_max_k_6_plus_1(k, occ):
    """Two back-to-back PIM_GEMV(k) on an open row: the second issues 2(max(k,6)+1) later."""
    one = run_program(tm(), GEO, True, prog((TILE, 0, 1, k)))
    two = run_program(tm(), GEO, True, prog((TILE, 0, 2, k)))
    assert two.pim_end - one.pim_end == occ == 2 * (max(k, 6) + 1)


@pytest.mark.parametrize("k,occ", [(1, 4), (6, 14), (8, 18)])
def test_newton_comps_and_readres_take_2_k_plus_1(k, occ):
    """Newton's k COMPs and a READRES are each paced at max(tBL, tCCD_S) = 2 cycles: no
    pipeline-fill minimum of 6 as the composite command has (NewtonSim channel_state.cc)."""
    one = run_program(tm(True, "newton"), GEO, True, prog((TILE, 0, 1, k)))
    two = run_program(tm(True, "newton"), GEO, True, prog((TILE, 0, 2, k)))
    assert two.pim_end - one.pim_end == occ == 2 * (k + 1)


def test_newton_sends_every_comp_as_an_instruction():
    """Per tile a PIM_HEADER; per head one composite command, or k COMPs and a READRES
    (NeuPIMs@f299af3 NeuPIMSLogitSoftmax.cc / NeuPIMSAttend.cc); one per GWRITE."""
    p = prog((GWRITE, 0, 0, 0), (TILE, 0, 4, 8), (TILE, 1, 4, 8), (GWRITE, 0, 0, 0),
             (TILE, 2, 1, 19), (MARK, 0, 0, 0), (WAIT, 0, 5, 0))
    assert instruction_count(p, "composite") == 2 + 3 + (4 + 4 + 1)
    assert instruction_count(p, "newton") == 2 + 3 + (4 * 9 + 4 * 9 + 1 * 20)
    newton = request_program(NEUPIMS_7B_TP4, 300, 0, "newton")[1]
    assert {r[3] for r in newton if r[0] == TILE} == {19}   # Newton counts COMPs exactly


def test_eight_group_activations_over_two_ranks_then_first_gemv():
    """8 G_ACTs (4 groups x 2 ranks, tFAW 30 per rank, ranks 1 cycle apart): the last issues
    at 3 tFAW + 1 = 91 and the first GEMV at 91 + tRCD = 105; a k=32 GEMV then holds 66."""
    r = run_program(tm(), GEO, True, prog((TILE, 0, 1, 32)))
    assert r.commands["G_ACT"] == 8
    assert r.pim_end == 3 * 30 + 1 + 14 + 66


def test_gwrite_holds_the_pim_queue_96_cycles():
    """GEMVs wait 96 cycles for the GWRITE; the row's G_ACTs go ahead meanwhile (from cycle 1,
    the C/A bus took the GWRITE at 0), so the GEMV issues at max(96, 1 + 91 + 14) = 106."""
    r = run_program(tm(), GEO, True, prog((GWRITE, 0, 0, 0), (TILE, 0, 1, 32)))
    assert r.pim_end == 106 + 66
    slow = pim_timing(HBM2, True, 300)
    assert run_program(slow, GEO, True, prog((GWRITE, 0, 0, 0), (TILE, 0, 1, 32))).pim_end == 366
    assert run_program(tm(), GEO, True, prog((GWRITE, 0, 0, 0))).pim_end == 96


def test_pim_internal_bandwidth_is_16x_external_per_channel():
    """The configured NeuPIMs device: every bank's MAC lanes take 2 B operands each PIM step
    (2 DRAM cycles) against the channels' external peak (NeuPIMs (Heo et al., ASPLOS'24) Sec. V-D)."""
    from sim.simulation.arch import load_arch
    from sim.families.npu_pim.family import NpuPim
    arch = load_arch("arch_configs/neupims.yaml")
    fam = NpuPim()
    ctx = fam.prepare(arch.cfg, arch.file)
    internal = fam.pim_peak_macs_per_cycle(ctx) * 2 * arch.cfg.tech.frequency
    assert internal / ctx.channel.spec.peak_bandwidth == 16


def test_mha_estimator_matches_neupims_algorithm_1():
    """GPT3-7B TP4, L = 300 with NeuPIMs' 184 / 100 constants: 10,568 cycles (NeuPIMs (Heo et al., ASPLOS'24) Sec. IV)."""
    assert mha_estimate(NEUPIMS_7B_TP4, 300) == 10568


def test_request_program_follows_the_kv_layout():
    logit, attend, rows = request_program(NEUPIMS_7B_TP4, 300, 0)
    tiles = [r for r in logit if r[0] == TILE]
    assert len(tiles) == 2 * math.ceil(300 / 32)            # 2 query chunks x key tiles
    assert all(r[2] == 4 and r[3] == 8 for r in tiles)        # 4 heads per row, k = 128/16
    att = [r for r in attend if r[0] == TILE]
    assert len(att) == 8 * 1 * 4                              # heads x 512-token chunks x d_k/32
    assert all(r[3] == 32 for r in att)                       # ceil(300/16) = 19 -> 32
    assert rows == len(tiles) + len(att)


# ---- kernel == per-cycle reference -------------------------------------------------------------
def _random_case(rng):
    rows = []
    for i in range(int(rng.integers(1, 7))):
        c = rng.integers(0, 4)
        if c == 0:
            rows.append((GWRITE, 0, 0, 0))
        elif c == 1:
            rows += [(MARK, i, 0, 0), (WAIT, i, int(rng.integers(0, 80)), 0)]
        else:
            rows.append((TILE, int(rng.integers(0, 3)), int(rng.integers(1, 4)),
                         int(rng.integers(1, 12))))
    geo = [(1, 2, 2), (2, 2, 2), (2, 4, 4), (1, 4, 2)][int(rng.integers(0, 4))]
    return (prog(*rows), geo, int(rng.integers(0, 90)), int(rng.integers(1, 9)),
            int(rng.integers(1, 5)))


@pytest.mark.parametrize("dual", [True, False])
@pytest.mark.parametrize("command_set", ["composite", "newton"])
def test_kernel_equals_per_cycle_reference(dual, command_set):
    rng = np.random.default_rng((7 if dual else 8) + (10 if command_set == "newton" else 0))
    t = tm(dual, command_set)
    for _ in range(30):
        p, geo, n, q, cols = _random_case(rng)
        fast = run_channel(t, np.array(geo), dual, p, n, q, cols, 100)
        ref = ReferenceChannel(t, *geo, dual).run(p, n, q, cols, 100)
        assert [int(x) for x in fast] == ref, (p.tolist(), geo, n, q, cols)


# ---- the NPU as NeuPIMs' simulator maps it ----------------------------------------------------------
def test_shared_tile_closed_form_equals_instruction_by_instruction_issue():
    """:func:`shared_tile_cycles` against the per-instruction WS-core model, on random shapes,
    array sizes and split widths, pipelined or product by product, serial or double-buffered
    preload."""
    rng = np.random.default_rng(5)
    for _ in range(200):
        r, c = (int(x) for x in rng.choice([4, 8, 16, 128], 2))
        arrays = int(rng.choice([1, 2, 8]))
        shapes = [tuple(int(x) for x in rng.integers(1, 300, 3)) + (int(rng.integers(1, 4)),)
                  for _ in range(int(rng.integers(1, 4)))]
        for serial in (True, False):
            for per_product in (True, False):
                assert (shared_tile_cycles(r, c, arrays, serial, shapes, per_product)
                        == shared_tile_reference(r, c, arrays, serial, shapes, per_product))


def test_shared_tile_costs_of_neupims_gemms_and_attention_gemvs():
    """GPT3-7B TP4: QKV of 512 tokens is 128 activation tiles of 24 weight blocks, each tile
    128 + 23 x 16 cycles, plus 127 + 270 of fill and drain. Decode attention of one head over
    300 keys, each from an empty pipeline: logits 127 + 128 + 2 x 16 + 270 = 557; attend 127 +
    3 x 128 + 270 = 781 (NeuPIMs@f299af3 issue rules; the instruction trace of its QKV GEMM
    shows 2,944 GEMMs and 128 PRELOADs, docs/npu_pim.md)."""
    assert shared_tile_cycles(128, 128, 8, True, [(512, 3072, 4096, 1)]) == 127 + 128 * (
        128 + 23 * 16) + 270
    assert shared_tile_cycles(128, 128, 8, True, [(1, 300, 128, 1)], True) == 557
    assert shared_tile_cycles(128, 128, 8, True, [(1, 128, 300, 1)], True) == 781


def test_kernel_equals_reference_with_windows_of_many_rows():
    """Windows spanning many (bank, row) chunks, cut mid-chunk, with a ragged last chunk."""
    rng = np.random.default_rng(11)
    for _ in range(12):
        p, geo, _, _, _ = _random_case(rng)
        cols = int(rng.integers(2, 6))
        q = int(rng.integers(cols + 1, 9 * cols))
        n = int(rng.integers(3 * cols, 140)) | 1
        for dual in (True, False):
            fast = run_channel(tm(dual), np.array(geo), dual, p, n, q, cols, 100)
            ref = ReferenceChannel(tm(dual), *geo, dual).run(p, n, q, cols, 100)
            assert [int(x) for x in fast] == ref, (p.tolist(), geo, n, q, cols)


def test_reads_beside_pim_gain_from_a_deeper_lookahead():
    """G_ACTs hold off normal ACTs for a tFAW each, so reads beside PIM live on rows opened in
    the gaps: a window of 2 rows gets well under half the channel, 16 rows most of it."""
    p = channel_program(NEUPIMS_7B_TP4, [300] * 2, [200] * 2, True)
    alone = run_program(tm(True), GEO, True, p).pim_end
    share = {q: run_program(tm(True), GEO, True, p, n_normal=alone, queue=q).reads_beside_pim
             * 2 / alone for q in (32, 256, 1024)}
    assert share[32] < 0.5 < 0.65 < share[256] <= 1.0
    assert abs(share[1024] - share[256]) < 0.05


def test_kernel_equals_reference_on_a_real_request_with_reads():
    logit, attend, _ = request_program(Layout(8, 64, 4, 16, 2), 40, 0)
    p = prog(*(logit + [(MARK, 0, 0, 0), (WAIT, 0, 30, 0)] + attend))
    for dual in (True, False):
        fast = run_channel(tm(dual), np.array([2, 2, 2]), dual, p, 60, 8, 4, 1000)
        ref = ReferenceChannel(tm(dual), 2, 2, 2, dual).run(p, 60, 8, 4, 1000)
        assert [int(x) for x in fast] == ref


def test_single_row_buffer_blocks_normal_reads_dual_interleaves_them():
    p = prog(*request_program(NEUPIMS_7B_TP4, 300, 0)[0])
    single = run_program(tm(False), GEO, False, p, n_normal=2000)
    dual = run_program(tm(True), GEO, True, p, n_normal=2000)
    assert single.reads_beside_pim == 0 and dual.reads_beside_pim > 0
    assert dual.normal_end < single.normal_end


# ---- request lengths and channel assignment -------------------------------------------------------
def test_sharegpt_snapshot_mean_near_neupims_traces():
    """NeuPIMs' bs512 ShareGPT traces have mean seq_len 297-300 (NeuPIMs (Heo et al., ASPLOS'24) Sec. V-D); within 5 %."""
    lens = np.array(snapshot_lengths("sharegpt", 512, 0))
    assert abs(lens.mean() - 300) / 300 < 0.05
    assert lens.max() <= 2048
    assert snapshot_lengths("sharegpt", 512, 0) == snapshot_lengths("sharegpt", 512, 0)
    assert np.mean(snapshot_lengths("alpaca", 512, 0)) < 80


def test_greedy_assignment_balances_channels_better_than_round_robin():
    lens = [n + 1 for n in snapshot_lengths("sharegpt", 256, 0)]
    def spread(policy):
        per = assign_channels(lens, 32, policy, NEUPIMS_7B_TP4)
        loads = [sum(mha_estimate(NEUPIMS_7B_TP4, lens[i]) for i in ch) for ch in per]
        assert sorted(i for ch in per for i in ch) == list(range(256))
        return max(loads) / np.mean(loads)
    assert spread("greedy") < 1.06 < 1.3 < spread("round_robin")


def test_sub_batches_halve_every_channel():
    per = [[0, 1, 2], [3, 4, 5], [6, 7]]
    sb1, sb2 = split_sub_batches(per)
    assert sb1 == [[0, 1], [3], [6]] and sb2 == [[2], [4, 5], [7]]


# ---- system ---------------------------------------------------------------------------------------
SYSTEM = ["workload.batch=64", "workload.tensor_parallel=4", "workload.context_dist=sharegpt"]


@pytest.fixture(scope="module")
def runs():
    return {a: simulate(f"arch_configs/{a}.yaml", "gpt3_7b_decode", SYSTEM)
            for a in ("npu_only", "npu_pim_naive", "neupims")}


def test_pim_macs_are_the_attention_macs(runs):
    r = runs["npu_pim_naive"]
    lens = [n + 1 for n in snapshot_lengths("sharegpt", 64, 0)]
    pim = sum(row.macs for row in r.ops if row.kind == "pim_gemv")
    assert pim == 32 * 2 * 8 * 128 * sum(lens)
    npu = runs["npu_only"]
    att = sum(row.macs for row in npu.ops if row.role == "attention")
    assert att == pim


def test_weight_bytes_are_conserved_across_systems(runs):
    def weights(r):
        return sum(row.bytes["dram_read"] for row in r.ops
                   if row.kind == "dma" and row.shape.startswith("weights"))
    assert weights(runs["npu_pim_naive"]) == weights(runs["npu_only"]) > 0


def test_pim_moves_attention_off_the_npu(runs):
    assert runs["npu_pim_naive"].tokens_per_second > runs["npu_only"].tokens_per_second
    assert runs["neupims"].extras["mode"] == "dual"
    assert 0 < runs["neupims"].extras["pim_utilization"] < 1
    assert 0 < runs["neupims"].extras["npu_utilization"] < 1


def test_sub_batches_keep_the_channels_their_kv_cache_was_placed_on():
    """Each sub-batch's PIM attention runs on the channels the whole batch was assigned to
    (Algorithm 3 halves every channel's list; nothing is reassigned per sub-batch)."""
    from sim.simulation.arch import load_arch
    from sim.families.npu_pim.family import _channel_lens
    from sim.core.ops import PimAttention
    from sim.simulation.simulate import load_workload
    arch = load_arch("arch_configs/neupims.yaml")
    w = load_workload("gpt3_7b_decode", arch, ["workload.batch=256", "workload.tensor_parallel=4",
                                               "workload.context_dist=sharegpt"])
    fam = arch.family
    ctx = fam.prepare(arch.cfg, arch.file)
    pim = [o for o in fam.lower(ctx, w.ops) if isinstance(o, PimAttention) and o.layer == 0]
    assert [o.name for o in pim] == ["attention.sb1", "attention.sb2"]
    lens = [n + 1 for n in snapshot_lengths("sharegpt", 256, 0)]
    whole = assign_channels(lens, 32, "greedy", NEUPIMS_7B_TP4)
    halves = split_sub_batches(whole)
    for op, half in zip(pim, halves):
        assert op.channel_sizes == tuple(len(r) for r in half)
        got = _channel_lens(op, 32, "greedy", NEUPIMS_7B_TP4)
        assert got == [[lens[i] for i in r] for r in half]


@pytest.mark.jit_heavy
def test_sub_batches_overlap_npu_and_pim():
    r = simulate("arch_configs/neupims.yaml", "gpt3_7b_decode",
                 ["workload.batch=256", "workload.tensor_parallel=4",
                  "workload.context_dist=sharegpt"])
    assert r.extras["sub_batch_interleaving"]
    pim = [(iv.start, iv.end) for iv in r.intervals if iv.unit == "pim"]
    arr = [(iv.start, iv.end, r.ops[iv.op_index].name) for iv in r.intervals
           if iv.unit == "array"]
    overlap = sum(max(0, min(e, pe) - max(s, ps)) for s, e, _ in arr for ps, pe in pim[:8])
    assert overlap > 0
    assert r.cycles < sum(row.cycles for row in r.ops)  # units ran concurrently


@pytest.mark.jit_heavy
def test_results_are_deterministic():
    a = simulate("arch_configs/neupims.yaml", "gpt3_7b_decode", SYSTEM).to_dict()
    b = simulate("arch_configs/neupims.yaml", "gpt3_7b_decode", SYSTEM).to_dict()
    assert a == b


def test_pim_rejects_prefill_and_grouped_query_attention():
    from sim.core.errors import WorkloadError
    with pytest.raises(WorkloadError, match="decode"):
        simulate("arch_configs/neupims.yaml", "gpt3_7b_prefill", ["workload.prompt_len=16"])
    with pytest.raises(WorkloadError, match="KV head"):
        simulate("arch_configs/neupims.yaml", "llama3_8b_decode", ["workload.context_len=16"])


def test_tensor_parallel_split_must_divide_heads():
    from sim.core.errors import WorkloadError
    with pytest.raises(WorkloadError, match="tensor_parallel"):
        simulate("arch_configs/neupims.yaml", "gpt3_7b_decode", ["workload.tensor_parallel=3"])


# ---- NeuPIMs' own simulator, run here -------------------------------------------------------------
def _repro():
    import importlib.util
    from pathlib import Path
    path = Path(__file__).resolve().parent.parent / "docs" / "npu_pim_repro.py"
    spec = importlib.util.spec_from_file_location("npu_pim_repro", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_reference_records_follow_neupims_layer_extrapolation():
    """Each recorded iteration is NeuPIMs' one-layer result extrapolated by its own formula."""
    for p in _repro().reference_points():
        n = p["layers"]
        for system, rec in p["systems"].items():
            st = rec.get("stage_cycles")
            if st is None:
                expect = n * rec["layer_cycles"]
            elif "C" in st:
                expect = st["A"] + st["B"] + (st["C"] + st["D"]) * (n - 1) + st["E"] + st["F"]
            else:
                expect = n * (st["A"] + st["B"] + st["E"])
            assert rec["iteration_cycles"] == expect, (p["name"], system)


@pytest.mark.jit_heavy
def test_every_system_within_30_percent_of_neupims_own_simulator():
    """At every point recorded from NeuPIMs' simulator (GPT3-7B TP4: ShareGPT b256/b512, Alpaca
    b64/b512; GPT3-30B ShareGPT b256, Alpaca b384), each system is within 30 % of its cycles
    per layer (issue 27), and the two simulators order every pair of systems the same way
    wherever the reference separates them by more than 5 % (sub-batch interleaving loses at both
    GPT3-30B points in both)."""
    rows = _repro().compare_with_reference()
    for r in rows:
        assert r["ours"] == pytest.approx(r["reference"], rel=0.30), r
    for point in {r["point"] for r in rows}:
        c = {r["system"]: r for r in rows if r["point"] == point}
        for a in c:
            for b in c:
                ref = c[a]["reference"] / c[b]["reference"]
                if ref < 0.95:
                    assert c[a]["ours"] < c[b]["ours"], (point, a, b)


@pytest.mark.slow
def test_memory_energy_per_unit_of_work_matches_the_paper():
    """NeuPIMs Sec. VIII-B: memory power 1.8x NPU-only's for a 2.4x speed-up, i.e. NeuPIMs'
    memory energy per unit of work is 0.75 of NPU-only's; within the +-10 % of the paper's
    averaged figure, over GPT3-7B and 30B, both length distributions, batches 64/256/512 (the
    repro's --quick grid; the full grid gives 0.83). The power ratio itself (1.20 on the full
    grid) trails the paper's with the speed-up (1.44 vs 2.4, issue 27)."""
    repro = _repro()
    points = [(m, b, d) for m in ("gpt3_7b", "gpt3_30b") for d in ("sharegpt", "alpaca")
              for b in (64, 256, 512)]
    ratios = repro.memory_ratios(points)
    paper = repro.PAPER_MEMORY["memory energy neupims/npu_only"]
    assert ratios["memory energy neupims/npu_only"] == pytest.approx(paper, rel=0.10)
    assert 1.0 < ratios["memory power neupims/npu_only"] < 1.8


def test_streamed_weight_parts_conserve_work_and_taper_to_one_k_tile():
    """A weight GEMM on shared activation tiles: k cut into L2 tiles, the first token tile's
    pass in transfer-sized parts whose last one halves down to one k tile, then the other token
    tiles from SRAM. MACs, weight bytes and parameters add up to the GEMM's."""
    from sim.core.ops import Gemm, Transfer
    from sim.families.npu_pim.family import _streamed_weight_parts
    op = Gemm("fc1", 0, "ffn", m=300, n=4096, k=4096 + 640, param_elems=4096 * (4096 + 640))
    parts = _streamed_weight_parts(op, 8 << 20, 32 << 20, 128, 128)
    gemms = [p for p in parts if isinstance(p, Gemm)]
    moved = sum(p.nbytes for p in parts if isinstance(p, Transfer))
    assert sum(g.macs for g in gemms) == op.macs
    assert moved == op.b_bytes
    assert sum(g.param_elems for g in gemms) == op.param_elems
    first = [g for g in gemms if not g.name.endswith(".rest")]
    assert all(g.m == 128 for g in first) and first[-1].k == 128
    assert {g.m for g in gemms if g.name.endswith(".rest")} == {300 - 128}


def test_one_instruction_per_cycle_front_end_bounds_the_newton_attention():
    """With Newton's command set and NeuPIMs' npu+pim front end (one PIM instruction per
    cycle) an attention op takes max(its slowest channel, its instruction count) cycles; with
    an unbounded front end, the channel time alone."""
    import re
    base = ["workload.batch=64", "workload.tensor_parallel=4", "workload.context_dist=sharegpt"]
    from sim.simulation.arch import load_arch

    def attention(dispatch):
        arch = load_arch("arch_configs/npu_pim_naive.yaml",
                         [f"pim.dispatch_per_cycle={dispatch}"])
        r = simulate(arch, "gpt3_7b_decode", base)
        return next(o for o in r.ops if o.kind == "pim_gemv" and o.layer == 0)
    bound, free = attention(1), attention(0)
    instructions = int(re.search(r"(\d+) newton instructions", bound.mapping).group(1))
    assert instructions > free.cycles            # this batch is front-end bound
    assert bound.cycles == max(free.cycles, instructions)
