"""wafer_mesh: the link model against its per-cycle reference, the algorithms' published
properties (WaferLLM, OSDI'25) and the LLaMA numbers within the stated tolerances."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.simulation.arch import load_arch
from sim.core.errors import ConfigError, WorkloadError
from sim.families.wafer_mesh.family import WaferMesh
from sim.families.wafer_mesh.kernel import run_streams
from sim.families.wafer_mesh.mesh import (GEMM_ALGORITHMS, GEMV_COMPARISON_SIDES,
                                          GEMV_COMPARISON_SIZES, Fabric, Messages, gemm, gemv,
                                          gemv_speedup, interleaved_successor)
from sim.families.wafer_mesh.reference import ReferenceMesh
from sim.simulation.simulate import load_workload, simulate

WSE2 = "arch_configs/wse2.yaml"


def fabric():
    a = load_arch(WSE2)
    return WaferMesh().prepare(a.cfg, a.file).fabric


# ---- the link model -------------------------------------------------------------------------
def _xy_path(w, a, b):
    """Directed links (node * 4 + dir) of an XY route on a w-wide mesh."""
    (x, y), (tx, ty) = a, b
    out = []
    while x != tx:
        d = 0 if tx > x else 1
        out.append((y * w + x) * 4 + d)
        x += 1 if d == 0 else -1
    while y != ty:
        d = 2 if ty > y else 3
        out.append((y * w + x) * 4 + d)
        y += 1 if d == 2 else -1
    return out


@pytest.mark.parametrize("seed", range(6))
def test_kernel_equals_per_cycle_reference_on_random_xy_traffic(seed):
    rng = np.random.default_rng(seed)
    w = h = int(rng.integers(2, 9))
    n = int(rng.integers(1, 14))
    lat = rng.integers(1, 4, size=w * h * 4)
    paths, words, ready, deps, lag = [], [], [], [], []
    for m in range(n):
        a = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        b = a
        while b == a:
            b = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        paths.append(_xy_path(w, a, b))
        words.append(int(rng.integers(1, 12)))
        ready.append(int(rng.integers(0, 20)))
        deps.append([int(rng.integers(-1, m)) if m else -1 for _ in range(2)])
        lag.append(int(rng.integers(0, 6)))
    ptr = np.r_[0, np.cumsum([len(p) for p in paths])].astype(np.int64)
    head, done = run_streams(ptr, np.array([x for p in paths for x in p], dtype=np.int64),
                             lat.astype(np.int64), w * h * 4, np.array(words, dtype=np.int64),
                             np.array(ready, dtype=np.int64), np.array(deps, dtype=np.int64),
                             np.array(lag, dtype=np.int64))
    ref_head, ref_done = ReferenceMesh(lat, w * h * 4).run(paths, words, ready, deps, lag)
    assert list(head) == ref_head and list(done) == ref_done


def test_cut_through_and_contention():
    f = Fabric(alpha=1, ramp=0, relay=5, elems_per_wavelet=1, simd=4, vec_overhead=0,
               step_sync=0)
    one = Messages(16)
    one.add(0, 10, 50)
    assert one.run(f)[1][0] == 10 + 50          # h * alpha + W, not h * W
    two = Messages(16)
    two.add(0, 10, 50)
    two.add(2, 8, 50)                            # shares links 2..7: waits for the first tail
    assert two.run(f)[1][1] == 2 + 50 + 6 + 50
    chain = Messages(16)
    prev = -1
    for i in range(5):                           # streaming relays: d * beta + W
        prev = chain.add(i, i + 1, 40, deps=(prev,) if prev >= 0 else (), lag=5 if i else 0)
    assert chain.run(f)[1][-1] == 1 + 4 * (1 + 5) + 40


@pytest.mark.parametrize("n", [2, 3, 5, 8, 33, 720])
def test_interleaved_ring_is_one_cycle_with_neighbours_within_two_hops(n):
    succ = interleaved_successor(n)
    assert max(abs(succ[p] - p) for p in range(n)) <= 2
    seen, p = set(), 0
    for _ in range(n):
        seen.add(p)
        p = succ[p]
    assert p == 0 and len(seen) == n


# ---- algorithms: WaferLLM's published properties ---------------------------------------------
def test_gemv_latency_against_table6():
    """[1,16K]x[16K,16K] 1,320 and [1,32K]x[32K,32K] 2,233 cycles on WSE-2 (Table 6 at 1.1 GHz,
    read as 720 x 720 cores); within 25 %."""
    f = fabric()
    for size, paper in ((16384, 1320), (32768, 2233)):
        got = gemv("meshgemv", size, size, 720, f, 24).cycles
        assert abs(got / paper - 1) < 0.25, (size, got)


def test_meshgemv_about_4_6x_over_chain_allreduce():
    """WaferLLM 7.3: MeshGEMV ~4.6x faster than Cerebras' pipeline-allreduce GEMV on average
    over 2K/8K/16K; within 20 %. The mean depends on the grid of meshes: we use the uniform
    30^2..720^2 grid that spans the baseline's U (360^2..720^2 alone gives 7.9x, see
    docs/wafer_mesh.md)."""
    mean, _ = gemv_speedup("chain", fabric())
    assert abs(mean / 4.6 - 1) < 0.20, mean


def test_chain_gemv_is_u_shaped_and_meshgemv_turns_later():
    """Paper 7.3: the baseline's latency first falls, then rises with cores; MeshGEMV's
    inflection comes at a larger core count."""
    f = fabric()
    for size in GEMV_COMPARISON_SIZES:
        chain = [gemv("chain", size, size, p, f).cycles for p in GEMV_COMPARISON_SIDES]
        mesh = [gemv("meshgemv", size, size, p, f).cycles for p in GEMV_COMPARISON_SIDES]
        low = int(np.argmin(chain))
        assert 0 < low < len(chain) - 1, (size, chain)
        assert int(np.argmin(mesh)) > low, size


def test_gemv_communication_dominates_at_large_meshes():
    f = fabric()
    shares = [gemv("meshgemv", 8192, 8192, p, f) for p in (240, 480, 720)]
    shares = [t.comm / t.cycles for t in shares]
    assert shares == sorted(shares) and shares[-1] > 0.5


def test_meshgemm_two_to_three_times_summa_and_cannon():
    """Paper: MeshGEMM 2-3x faster than SUMMA and Cannon (GEMM 2K and 8K, 360..720 cores);
    the geometric mean of each baseline's slowdown lies in 2-3x within 25 %, and MeshGEMM keeps
    > 70 % of its cycles computing at 720 x 720."""
    f = fabric()
    for base in ("summa", "cannon"):
        r = [gemm(base, s, s, s, p, f).cycles / gemm("meshgemm", s, s, s, p, f).cycles
             for s in (2048, 8192) for p in (360, 480, 600, 720)]
        g = math.exp(np.mean(np.log(r)))
        assert 2 * 0.75 < g < 3 * 1.25, (base, g)
    for s in (2048, 8192):
        t = gemm("meshgemm", s, s, s, 720, f)
        assert t.compute / t.cycles > 0.7


# ---- LLaMA on WSE-2 ---------------------------------------------------------------------------
def _tps(phase, side, model="llama3_8b"):
    key = "decode_side" if phase == "decode" else "prefill_side"
    over = ["workload.context_len=4096"] if phase == "decode" else ["workload.prompt_len=4096"]
    return simulate(load_arch(WSE2, [f"mesh.{key}={side}"]), f"{model}_{phase}",
                    over).tokens_per_second


def test_llama3_8b_decode_against_table4():
    """2,699.9 / 2,501.5 / 2,243.3 tokens/s at 420^2 / 540^2 / 660^2 (540 calibrates
    fabric.relay); within 25 %, and throughput falls as cores grow (latency-bound GEMVs)."""
    got = [_tps("decode", s) for s in (420, 540, 660)]
    for g, paper in zip(got, (2699.9, 2501.5, 2243.3)):
        assert abs(g / paper - 1) < 0.25, got
    assert got[0] > got[1] > got[2]


def test_llama3_8b_prefill_against_table3():
    """20,320.6 / 25,037.2 / 27,686.5 tokens/s at 480^2 / 600^2 / 720^2 with a 4K prompt (600
    calibrates core.vec_overhead); within 25 %, and throughput grows with cores."""
    got = [_tps("prefill", s) for s in (480, 600, 720)]
    for g, paper in zip(got, (20320.6, 25037.2, 27686.5)):
        assert abs(g / paper - 1) < 0.25, got
    assert got[0] < got[1] < got[2]


def test_kv_capacity_shift_vs_concat():
    """Table 5, LLaMA3-8B: 137,548 tokens (shift) vs 382 (concat) within 10 % (shift calibrates
    core.reserved; concat follows)."""
    out = {}
    for layout, paper in (("shift", 137548), ("concat", 382)):
        a = load_arch(WSE2, [f"algorithms.kv_layout={layout}"])
        fam = WaferMesh()
        ctx = fam.prepare(a.cfg, a.file)
        out[layout] = fam.kv_capacity_tokens(ctx, load_workload("llama3_8b_decode", a))
        assert abs(out[layout] / paper - 1) < 0.10, out


def test_capacity_errors_name_the_key():
    with pytest.raises(WorkloadError, match="mesh.rows"):
        simulate(load_arch(WSE2), "gpt3_175b_decode")
    with pytest.raises(WorkloadError, match="context_len"):
        simulate(load_arch(WSE2, ["algorithms.kv_layout=concat"]), "llama3_8b_decode",
                 ["workload.context_len=4096"])


def test_routes_beyond_the_colours_are_refused():
    with pytest.raises(ConfigError, match="algorithms.gemm"):
        load_arch(WSE2, ["fabric.colors=8"])


def test_every_powered_core_draws_its_always_on_power():
    """Static power is core.idle_mw on each of mesh.powered_cores (the whole wafer, not the
    region that computes), leakage x area without idle_mw; fewer powered cores than the mesh
    is refused."""
    r = simulate(load_arch(WSE2), "llama7b_decode")
    cfg = load_arch(WSE2).cfg
    assert r.static_components == ["idle"]
    assert r.power["static_w"] == pytest.approx(cfg.mesh.powered_cores * cfg.core.idle_mw * 1e-3)
    leak = simulate(load_arch(WSE2, ["core.idle_mw=null", "mesh.powered_cores=null"]),
                    "llama7b_decode")
    assert leak.power["static_w"] == pytest.approx(
        cfg.tech.leakage_w_per_mm2 * cfg.mesh.rows * cfg.mesh.cols * cfg.core.area_mm2)
    with pytest.raises(ConfigError, match="mesh.powered_cores"):
        load_arch(WSE2, ["mesh.powered_cores=1000"])


@pytest.mark.parametrize("alg", GEMM_ALGORITHMS)
def test_reports_conserve_macs_and_are_deterministic(alg):
    a = load_arch(WSE2, [f"algorithms.gemm={alg}", "mesh.prefill_side=64"])
    r1 = simulate(a, "llama7b_prefill", ["workload.prompt_len=256"])
    r2 = simulate(a, "llama7b_prefill", ["workload.prompt_len=256"])
    w = load_workload("llama7b_prefill", a, ["workload.prompt_len=256"])
    assert sum(o.macs for o in r1.ops) == sum(op.macs for op in w.ops)
    assert r1.cycles == r2.cycles and r1.energy_joules == r2.energy_joules
    assert r1.extras["energy_paper_convention_joules"] > 0
