"""Lowering conservation: MACs, parameter bytes and KV bytes equal closed forms for every model.

The closed forms below are written from the model hyper-parameters alone, independently of
``sim.workloads.lowering.lower``.
"""

import pytest

from sim.core.ops import Gemm
from sim.workloads.loader import load_workload
from sim.workloads.model import available_models, load_model


def closed_form(model_id, phase, batch, prompt=16, context=16, logits="last"):
    c = load_model(model_id).cfg
    kv = c.kv_heads or c.heads
    hd = c.head_dim or c.hidden // c.heads
    h, f, L, V = c.hidden, c.ffn, c.layers, c.vocab
    q_len = 1 if phase == "decode" else prompt
    kv_len = context + 1 if phase == "decode" else prompt
    T = batch * q_len
    ffn_mats = 3 if c.ffn_act == "silu_gated" else 2
    per_layer_w = h * c.heads * hd + 2 * h * kv * hd + c.heads * hd * h + ffn_mats * h * f
    attn = 2 * batch * c.heads * q_len * kv_len * hd
    lm_rows = T if (phase == "decode" or logits == "all") else batch
    macs = L * (T * per_layer_w + attn) + lm_rows * h * V
    norm = 2 if c.norm == "layernorm" else 1
    params = V * h + L * per_layer_w + (2 * L + 1) * norm * h
    if c.bias:
        params += L * (c.heads * hd + 2 * kv * hd + h + (f + h if ffn_mats == 2 else 2 * f + h))
    if c.subln:
        params += L * norm * (c.heads * hd + f)
    if c.positional == "learned":
        params += c.max_positions * h
    if not c.tied_embeddings:
        params += V * h
    kv_read_elems = 2 * L * batch * kv * kv_len * hd
    kv_write_elems = 2 * L * T * kv * hd
    return macs, params, kv_read_elems, kv_write_elems


@pytest.mark.parametrize("model_id", available_models())
@pytest.mark.parametrize("phase,batch", [("decode", 1), ("decode", 4), ("prefill", 2)])
def test_macs_params_and_kv_match_closed_form(model_id, phase, batch):
    w = load_workload(f"{model_id}_{phase}", [("batch", batch), ("prompt_len", 16),
                                              ("context_len", 16)])
    macs, params, kv_read, kv_write = closed_form(model_id, phase, batch)
    assert sum(op.macs for op in w.ops) == macs
    assert sum(op.param_elems for op in w.ops) == params
    kv_gemms = [op for op in w.ops if isinstance(op, Gemm) and op.b_source == "kv"]
    assert sum(op.count * op.k * op.n for op in kv_gemms) == kv_read
    assert sum(getattr(op, "kv_write_elems", 0) for op in w.ops) == kv_write
    kb = w.cfg.kv_bits
    assert sum(op.b_bytes for op in kv_gemms) == kv_read * kb // 8


def test_attention_bits_set_the_attention_path_only():
    """``attention_bits`` prices Q, the scores, softmax and P; linear layers keep act_bits and
    the KV cache kv_bits; left null it follows act_bits."""
    w = load_workload("bitnet_b158_3b_prefill", [("act_bits", 8), ("attention_bits", 16),
                                                 ("prompt_len", 32)])
    by = {op.name: op for op in w.ops if op.layer == 0}
    assert by["attn_qk"].a_bits == by["attn_pv"].a_bits == by["softmax"].bits == 16
    assert by["attn_qk"].b_bits == 8 and by["q_proj"].a_bits == by["attn_norm"].bits == 8
    plain = load_workload("bitnet_b158_3b_prefill", [("act_bits", 8), ("prompt_len", 32)])
    assert plain.cfg.attention_bits == 8 and next(
        op for op in plain.ops if op.name == "softmax").bits == 8


def test_published_parameter_counts():
    """Closed-form parameter totals agree with the models' published sizes (within 3%)."""
    published = {"llama7b": 6.74e9, "llama2_13b": 13.0e9, "llama3_8b": 8.03e9,
                 "opt6_7b": 6.66e9, "gpt3_175b": 175e9, "gpt3_13b": 12.85e9}
    for model_id, count in published.items():
        _, params, _, _ = closed_form(model_id, "decode", 1)
        assert params == pytest.approx(count, rel=0.03), model_id


def test_decode_is_gemv_and_prefill_is_gemm():
    d = load_workload("llama7b_decode")
    p = load_workload("llama7b_prefill", [("prompt_len", 64)])
    assert {op.kind for op in d.ops if isinstance(op, Gemm) and op.b_source == "weight"} == {"gemv"}
    assert {op.kind for op in p.ops if op.name == "q_proj"} == {"gemm"}


def test_gqa_reads_each_kv_head_once():
    w = load_workload("llama3_8b_decode", [("context_len", 99)])
    qk = next(op for op in w.ops if op.name == "attn_qk")
    assert (qk.count, qk.m, qk.k, qk.n) == (8, 4, 128, 100)  # 32 query heads over 8 KV heads


@pytest.mark.parametrize("model_id", available_models())
def test_parameter_bytes_match_closed_form_at_mixed_precision(model_id):
    """Linear weights (and their biases) at weight_bits; embeddings, norms, positions at act_bits."""
    w = load_workload(f"{model_id}_decode", [("weight_bits", 4), ("act_bits", 16)])
    c = load_model(model_id).cfg
    kv = c.kv_heads or c.heads
    hd = c.head_dim or c.hidden // c.heads
    h, f, L, V = c.hidden, c.ffn, c.layers, c.vocab
    ffn_mats = 3 if c.ffn_act == "silu_gated" else 2
    linear = L * (h * c.heads * hd + 2 * h * kv * hd + c.heads * hd * h + ffn_mats * h * f)
    if c.bias:
        linear += L * (c.heads * hd + 2 * kv * hd + h + (f + h if ffn_mats == 2 else 2 * f + h))
    if not c.tied_embeddings:
        linear += V * h
    norm = 2 if c.norm == "layernorm" else 1
    other = V * h + (2 * L + 1) * norm * h
    other += L * norm * (c.heads * hd + f) if c.subln else 0
    other += c.max_positions * h if c.positional == "learned" else 0
    expected = linear * 4 // 8 + other * 16 // 8
    got = sum(op.param_elems * (op.b_bits if isinstance(op, Gemm) else op.param_bits) // 8
              for op in w.ops)
    assert got == expected
