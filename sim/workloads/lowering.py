"""A model and its sizes lowered to the op graph of one forward pass.

Lowering follows the Hugging Face implementations of the three model styles (LLaMA, GPT-3/GPT-2,
OPT): per decoder layer, norm -> Q/K/V projections -> RoPE -> KV-cache append -> per-KV-head
attention (QK^T, softmax, PV; grouped-query heads are stacked into the M dimension so each K/V
head is read once) -> O projection -> residual add -> norm -> FFN (gate/up/SiLU*up/down, or
fc1/GELU|ReLU/fc2) -> residual add; then the final norm and the LM head. Decode (one new token
per sequence) yields GEMVs when batch is 1; prefill yields GEMMs. Attention in prefill computes the
full (unmasked) score matrix, as non-fused kernels do; causal skipping is not modelled.
"""

from __future__ import annotations

from sim.core.config import Config
from sim.core.ops import Elementwise, Gemm, Op
from sim.workloads.model import Model, prompt_groups, request_kv_lens


def lower(model: Model, w: Config, lens: tuple[int, ...] = (),
          prior: tuple[int, ...] = ()) -> list[Op]:
    """The op graph of one forward pass (one decode step, or the whole prompt) on one device.

    With tensor parallelism the ops are one device's shard (heads, FFN columns, LM-head rows);
    with pipeline parallelism one stage's layers on one micro-batch (the embedding and LM head
    of the first and last stages are left out). Collectives are not modelled.

    ``lens`` gives each request its own length, as a serving step batches them: the prompt
    tokens of each request in prefill (one attention product per distinct length), the tokens
    already cached of each request in decode; empty: ``w``'s sizes for every request.
    ``prior`` (prefill): tokens each request had cached before its prompt chunk of ``lens``
    (chunked prefill: the chunk's queries attend to the cached keys and its own). A chunk of
    one token after cached ones is a decode: those of a step form one attention product over
    their concatenated keys, as in a decode step (a mixed step of chunks and decodes).
    """
    m = model
    tp, pp = w.tensor_parallel, w.pipeline_parallel
    batch = w.batch // pp
    q_len = 1 if w.phase == "decode" else w.prompt_len
    kv_len = w.context_len + 1 if w.phase == "decode" else w.prompt_len
    prompts = prompt_groups(w, lens, prior)
    tokens = sum(p * n for p, n, _ in prompts) if prompts else batch * q_len
    hid, hd, nq, nkv = m.hidden, m.hd, m.heads // tp, m.n_kv // tp
    ffn = m.ffn // tp
    group = nq // nkv
    wb, ab, kb, qb = w.weight_bits, w.act_bits, w.kv_bits, w.attention_bits
    bias = 1 if m.bias else 0
    norm_params = hid * (2 if m.norm == "layernorm" else 1)
    kv_lens = request_kv_lens(w, lens) if (w.phase == "decode" and (
        lens or w.context_dist != "fixed")) else ()
    # a mixed serving step (chunked prefill): each decode is a one-token chunk after its cache
    decodes = tuple(keys for p, n, keys in prompts if p == 1 < keys for _ in range(n))
    ops: list[Op] = []

    def linear(name, layer, role, n, k, m_rows=tokens):
        ops.append(Gemm(name, layer, role, m=m_rows, n=n, k=k, a_bits=ab, b_bits=wb, c_bits=ab,
                        param_elems=n * k + bias * n))

    def vec(name, layer, role, op, elements, n_in, n_out, params=0, params_read=None,
            param_bits=None, kv=0, bits=ab):
        ops.append(Elementwise(name, layer, role, op, elements, bits=bits, in_elems=n_in,
                               out_elems=n_out, param_elems=params,
                               param_read_elems=params if params_read is None else params_read,
                               param_bits=param_bits or ab, kv_write_elems=kv, kv_bits=kb))

    if pp == 1:
        vec("embed", -1, "embedding", "gather", tokens * hid, 0, tokens * hid,
            params=m.vocab * hid, params_read=tokens * hid, param_bits=ab)
    if m.positional == "learned" and pp == 1:
        vec("pos_embed", -1, "embedding", "add", tokens * hid, tokens * hid, tokens * hid,
            params=m.max_positions * hid,
            params_read=(max(p for p, _, _ in prompts) if prompts else q_len) * hid, param_bits=ab)
    act = {"silu_gated": "silu_mul", "gelu": "gelu", "relu": "relu"}[m.ffn_act]
    for L in range(m.layers // pp):
        vec("attn_norm", L, "norm", m.norm, tokens * hid, tokens * hid, tokens * hid,
            params=norm_params, param_bits=ab)
        linear("q_proj", L, "qkv", nq * hd, hid)
        linear("k_proj", L, "qkv", nkv * hd, hid)
        linear("v_proj", L, "qkv", nkv * hd, hid)
        if m.positional == "rope":
            vec("rope", L, "qkv", "rope", tokens * (nq + nkv) * hd,
                tokens * (nq + nkv) * hd, tokens * (nq + nkv) * hd)
        vec("kv_append", L, "kv_cache", "copy", tokens * 2 * nkv * hd, tokens * 2 * nkv * hd, 0,
            kv=tokens * 2 * nkv * hd)
        if kv_lens:  # requests of different lengths, concatenated per KV head
            products = [(1, nkv, sum(kv_lens), kv_lens)]
        elif prompts:  # prompts of different lengths: one product per distinct chunk
            products = [(p, n * nkv, keys, ()) for p, n, keys in prompts if not p == 1 < keys]
            if decodes:  # one-token chunks after cached tokens: decodes, one product
                products.append((1, nkv, sum(decodes), decodes))
        else:
            products = [(q_len, batch * nkv, kv_len, ())]
        for rows, count, n_keys, per_request in products:
            ops.append(Gemm("attn_qk", L, "attention", m=group * rows, n=n_keys, k=hd,
                            count=count, a_bits=qb, b_bits=kb, c_bits=qb, b_source="kv",
                            kv_lens=per_request))
            scores = count * group * rows * n_keys
            vec("softmax", L, "attention", "softmax", scores, scores, scores, bits=qb)
            ops.append(Gemm("attn_pv", L, "attention", m=group * rows, n=hd, k=n_keys,
                            count=count, a_bits=qb, b_bits=kb, c_bits=qb, b_source="kv",
                            kv_lens=per_request))
        if m.subln:
            vec("attn_subln", L, "norm", m.norm, tokens * nq * hd, tokens * nq * hd,
                tokens * nq * hd, params=nq * hd * (2 if m.norm == "layernorm" else 1))
        linear("o_proj", L, "o_proj", hid, nq * hd)
        vec("attn_residual", L, "residual", "add", tokens * hid, 2 * tokens * hid, tokens * hid)
        vec("ffn_norm", L, "norm", m.norm, tokens * hid, tokens * hid, tokens * hid,
            params=norm_params, param_bits=ab)
        if m.ffn_act == "silu_gated":
            linear("gate_proj", L, "ffn", ffn, hid)
            linear("up_proj", L, "ffn", ffn, hid)
            vec("act", L, "ffn", act, tokens * ffn, 2 * tokens * ffn, tokens * ffn)
        else:
            linear("fc1", L, "ffn", ffn, hid)
            vec("act", L, "ffn", act, tokens * ffn, tokens * ffn, tokens * ffn)
        if m.subln:
            vec("ffn_subln", L, "norm", m.norm, tokens * ffn, tokens * ffn, tokens * ffn,
                params=ffn * (2 if m.norm == "layernorm" else 1))
        linear("down_proj" if m.ffn_act == "silu_gated" else "fc2", L, "ffn", hid, ffn)
        vec("ffn_residual", L, "residual", "add", tokens * hid, 2 * tokens * hid, tokens * hid)
    if pp > 1:
        return ops
    vec("final_norm", -1, "norm", m.norm, tokens * hid, tokens * hid, tokens * hid,
        params=norm_params, param_bits=ab)
    lm_rows = tokens if (w.phase == "decode" or w.logits == "all") else batch
    vocab = -(-m.vocab // tp)
    ops.append(Gemm("lm_head", -1, "lm_head", m=lm_rows, n=vocab, k=hid, a_bits=ab, b_bits=wb,
                    c_bits=ab, param_elems=0 if m.tied_embeddings else vocab * hid))
    return ops
