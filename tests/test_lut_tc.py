"""LUT tensor-core family: kernel vs per-cycle reference, bit-exact LUT arithmetic, published
unit and system figures (ISCA'25 LUT Tensor Core) within stated tolerances."""

import numpy as np
import pytest

from sim.families.lut_tc import validation as V
from sim.simulation.arch import load_arch
from sim.core.errors import ConfigError, WorkloadError
from sim.families.lut_tc import kernel as K
from sim.core.ops import TableBuild
from sim.families.lut_tc import reference as R
from sim.simulation.simulate import load_workload, simulate

CFG = "arch_configs/lut_tc.yaml"


# ---- timing: fast kernel == per-cycle reference --------------------------------------------
@pytest.mark.parametrize("seed", range(6))
def test_block_cycles_match_per_cycle_reference(seed):
    rng = np.random.default_rng(seed)
    for _ in range(25):
        args = dict(bm=int(rng.integers(1, 40)), bn=int(rng.integers(1, 200)),
                    k=int(rng.integers(1, 90)), bk=int(rng.choice([4, 8, 16, 32])),
                    tm=int(rng.choice([1, 2, 8])), tn=int(rng.choice([4, 16, 64])), tk=4,
                    units=int(rng.integers(1, 6)), passes=int(rng.integers(1, 5)),
                    a_chunk_bits=int(rng.choice([32, 64, 128])),
                    b_bits=int(rng.choice([1, 2, 4, 16])), c_bits=16,
                    dq_ops=int(rng.choice([0, 0, 3])), vlanes=int(rng.choice([16, 64])),
                    port=int(rng.choice([128, 512, 1024])), latency=2,
                    eff_permille=int(rng.choice([1000, 710, 650, 333, 999])))
        assert K.block_cycles(*args.values()) == R.cluster_cycles(**args), args


def test_block_schedule_matches_per_cycle_reference():
    rng = np.random.default_rng(7)
    for _ in range(40):
        d = rng.integers(1, 50, size=int(rng.integers(1, 40))).astype(np.int64)
        c = int(rng.integers(1, 8))
        wave_end, makespan = K.schedule(d, c)
        assert makespan == R.schedule_cycles(d, c) == wave_end[-1]
        assert np.all(np.diff(wave_end) >= 0)


def test_unit_ops_count_every_lookup_once():
    # padded tiles: ceil over each block edge; with divisible shapes exactly m n k / (tm tn tk)
    assert K.unit_ops(256, 1024, 64, 128, 512, 32, 2, 64, 4) == 128 * 16 * 16
    assert K.unit_ops(3, 65, 5, 128, 512, 32, 2, 64, 4) == 2 * 2 * 2


# ---- arithmetic: LUT path == dequantised NumPy --------------------------------------------
@pytest.mark.parametrize("w_bits", [1, 2, 3, 4])
@pytest.mark.parametrize("sym,neg", [(False, "circuit"), (True, "circuit"), (True, "offline")])
def test_lut_mpgemm_is_bit_exact(w_bits, sym, neg):
    rng = np.random.default_rng(w_bits * 10 + sym)
    for k in (4, 13, 64):
        a = rng.integers(-128, 128, size=(3, k))
        q = rng.integers(0, 2 ** w_bits, size=(k, 7))
        assert np.array_equal(R.lut_mpgemm(a, q, w_bits, 4, sym, neg),
                              R.dequant_reference(a, q, w_bits))
        af = rng.standard_normal((3, k)).astype(np.float16).astype(np.float64)  # FP16 acts
        assert np.array_equal(R.lut_mpgemm(af, q, w_bits, 4, sym, neg),
                              R.dequant_reference(af, q, w_bits))


def test_quantized_tables_err_within_half_step_per_lookup():
    rng = np.random.default_rng(3)
    a = rng.integers(-128, 128, size=(4, 64))
    q = rng.integers(0, 4, size=(64, 9))
    got = R.lut_mpgemm(a, q, 2, 4, True, "offline", lut_bits=8)
    err = np.abs(got - R.dequant_reference(a, q, 2))
    # each of 16 tables per row is looked up once per plane (weights 1 + 2); error <= scale/2
    scales = np.stack([R.quantize_tables(R.build_tables(a[:, c:c + 4], True), 8)[1][:, 0]
                       for c in range(0, 64, 4)], axis=1)
    bound = (scales / 2).sum(axis=1, keepdims=True) * 3 + 1e-9
    assert np.all(err <= bound)
    assert err.max() > 0  # quantization is lossy here


# ---- published figures -----------------------------------------------------------------------
def test_table1_peaks_fall_out_of_the_configs():
    for row, ref in V.data()["table1"].items():
        assert V.table1_units(row)["peak"] == pytest.approx(ref["peak"], rel=2e-3), row


def test_table2_ablation_within_10_percent():
    for row, (area, p_area, power, p_power) in V.table2().items():
        assert area == pytest.approx(p_area, rel=0.10), row
        assert power == pytest.approx(p_power, rel=0.10), row
    rows = V.table2()
    assert rows["unpu"][0] > rows["reinterpret"][0] > rows["no_negation"][0] > rows["lut_tc"][0]


def test_table3_energy_efficiency_within_10_percent():
    assert V.table3_tops_per_w() == pytest.approx(V.data()["table3_tops_per_w_w1a8"], rel=0.10)


def test_table1_lut_tc_area_per_sm_within_20_percent():
    # the shipped units take W1-W4 (Table 3); the paper's Table 1 unit is W2-only (+17 % here)
    for row in ("a100_lut_4x", "a100_lut_8x", "h100_lut_4x", "h100_lut_8x"):
        ref = V.data()["table1"][row]["tc_area_per_sm"]
        assert V.table1_units(row)["tc_area_per_sm"] == pytest.approx(ref, rel=0.20), row


def test_lut_beats_mac_on_density_and_energy():
    # Fig. 12 / Fig. 14 qualitative claims; the exact 18x / 4-6x are not reproduced
    lut, mac = V.dp4_densities()
    assert lut > 4 * mac
    area_x, power_x = V.w1_tc_ratios()
    assert area_x > 4 and power_x > 4


def test_energy_efficiency_headline_within_30_percent():
    lut8, fp16 = V.table1_units("a100_lut_8x"), V.table1_units("a100_fp16")
    ratio = lut8["tops_per_w"] / fp16["tops_per_w"]
    assert ratio == pytest.approx(V.data()["headline"]["energy_x"], rel=0.30)


@pytest.fixture(scope="module")
def table1_latencies():
    return {(row, col): V.table1_latency_ms(row, col) for row in V.data()["table1"]
            for col in ("bs1_seq2048", "bs1024_seq1")}


def test_table1_speedups_over_fp16_tc(table1_latencies):
    t1 = V.data()["table1"]
    for col in ("bs1_seq2048", "bs1024_seq1"):
        base, ref_base = table1_latencies[("a100_fp16", col)], t1["a100_fp16"][col + "_ms"]
        for row in t1:
            sim_x = base / table1_latencies[(row, col)]
            paper_x = ref_base / t1[row][col + "_ms"]
            assert sim_x == pytest.approx(paper_x, rel=0.30), (row, col)
    # the headline 5.51x (A100-LUT-8X over FP16, BS1024) within 20 %
    x = table1_latencies[("a100_fp16", "bs1024_seq1")] / table1_latencies[("a100_lut_8x", "bs1024_seq1")]
    assert x == pytest.approx(V.data()["headline"]["speedup_x"], rel=0.20)


def test_table1_latencies_twelve_of_fourteen_within_20_percent(table1_latencies):
    """Issue 26: BitNet-3B end-to-end latencies, at least 12 of Table 1's 14 within 20 %."""
    errors = {key: ms / V.data()["table1"][key[0]][key[1] + "_ms"] - 1
              for key, ms in table1_latencies.items()}
    assert sum(abs(e) <= 0.20 for e in errors.values()) >= 12, errors


def test_sixteen_bit_operands_take_two_passes_on_an_eight_bit_tensor_core():
    """An INT8 / FP8 tensor core runs FP16 MMAs at half its 8-bit rate (A100 / H100
    datasheets); the issue efficiency stretches compute by its inverse."""
    arch, spec = "arch_configs/mac_tc_a100_int8.yaml", "llama7b_prefill"
    sets = ["workload.act_bits=8", "workload.weight_bits=8", "workload.prompt_len=1024"]

    def op(name, extra=(), arch_sets=()):
        r = simulate(load_arch(arch, list(arch_sets)), spec, sets + list(extra))
        return next(o for o in r.ops if o.name == name)

    qk8 = op("attn_qk")
    qk16 = op("attn_qk", ["workload.kv_bits=16", "workload.attention_bits=16"])
    assert qk16.roofline_cycles == pytest.approx(2 * qk8.roofline_cycles, rel=1e-3)
    assert qk16.compute_cycles == pytest.approx(2 * qk8.compute_cycles, rel=0.05)
    gate, ideal = op("gate_proj"), op("gate_proj", arch_sets=["mac.efficiency=1"])
    assert "issuing at 65 % of peak" in gate.mapping
    assert gate.compute_cycles == pytest.approx(ideal.compute_cycles / 0.65, rel=0.02)


def test_every_op_is_a_kernel_with_a_launch_gap():
    """``chip.launch_overhead`` adds one gap (ns x clock) after every op's tiles, on its unit,
    with no traffic; 0 leaves the plans as they were."""
    from sim.families.lut_tc.family import LutTc
    fam = LutTc()
    plain = load_arch(CFG, ["chip.launch_overhead=0 ns"])
    gapped = load_arch(CFG)
    ctx0, ctx1 = fam.prepare(plain.cfg, plain.file), fam.prepare(gapped.cfg, gapped.file)
    gap = round(gapped.cfg.chip.launch_overhead * 1e-9 * gapped.cfg.tech.frequency)
    assert ctx0.launch_cycles == 0 and ctx1.launch_cycles == gap == 2256  # 1.6 us at 1.41 GHz
    ops = fam.lower(ctx1, load_workload("llama7b_decode", gapped).ops)
    for op in ops[:12]:
        a, b = fam.plan(ctx0, op), fam.plan(ctx1, op)
        assert (b.counts * b.compute_cycles).sum() == (a.counts * a.compute_cycles).sum() + gap
        assert b.dram_read_bytes == a.dram_read_bytes and b.dram_write_bytes == a.dram_write_bytes


# ---- precompute ------------------------------------------------------------------------------
def test_precompute_fusion_and_sharing():
    arch = load_arch(CFG, ["lut.precompute=separate"])
    w = load_workload("llama7b_decode", arch)
    from sim.families.lut_tc.family import LutTc
    fam = LutTc()
    ctx = fam.prepare(arch.cfg, arch.file)
    ops = fam.lower(ctx, w.ops)
    layer0 = [o for o in ops if o.layer == 0]
    tables = [o for o in layer0 if isinstance(o, TableBuild)]
    assert [t.name for t in tables] == ["q_proj.tables", "o_proj.tables", "gate_proj.tables",
                                        "down_proj.tables"]  # q/k/v and gate/up share tables
    fused = LutTc().lower(LutTc().prepare(load_arch(CFG).cfg, CFG), w.ops)
    names = [o.name for o in fused if o.layer == 0 and isinstance(o, TableBuild)]
    # norms and the FFN activation absorb the build; o_proj follows a GEMM, so it stays separate
    assert names == ["attn_norm+tables", "o_proj.tables", "ffn_norm+tables", "act+tables"]
    assert not any(o.name == "attn_norm" for o in fused)


def test_precompute_overhead_ordering_and_fused_range():
    for case, o in V.precompute_overheads().items():
        assert 0 <= o["fused"] <= o["unfused"], case
        assert o["fused"] < 3.5, case  # Table 4: 2.5 % fused


# ---- reports, errors -------------------------------------------------------------------------
def test_report_conserves_macs_and_weight_bytes_and_is_deterministic():
    w = load_workload("llama7b_decode", load_arch(CFG))
    r1, r2 = simulate(CFG, "llama7b_decode"), simulate(CFG, "llama7b_decode")
    assert r1.macs == sum(o.macs for o in w.ops)
    weight_bytes = sum(o.b_bytes for o in w.ops if getattr(o, "b_source", "") == "weight")
    assert sum(r.bytes["dram_read"] for r in r1.ops) >= weight_bytes
    assert r1.cycles == r2.cycles and r1.energy_joules == r2.energy_joules
    assert r1.cycles >= r1.roofline_cycles
    assert r1.energy_breakdown["lut_units"] > 0 and r1.area_breakdown["lut_units"]["mm2"] > 0


def test_mac_path_dequantizes_narrow_weights():
    r = simulate("arch_configs/mac_tc_a100_int8.yaml", "bitnet_b158_3b_decode",
                 ["workload.act_bits=8", "workload.batch=64"])
    q = next(o for o in r.ops if o.name == "q_proj")
    assert q.unit == "mac" and q.vector_ops > 0 and "dequant" in q.mapping


def test_bad_inputs_name_the_key():
    with pytest.raises(ConfigError, match="lut.lut_bits"):
        load_arch(CFG, ["lut.act_format=fp16", "lut.lut_bits=4"])
    with pytest.raises(ConfigError, match="lut.negation"):
        load_arch(CFG, ["lut.symmetric=false"])
    with pytest.raises(WorkloadError, match="lut.weight_bits"):
        simulate(CFG, "llama7b_decode", ["workload.weight_bits=8"])
