"""Transformer model configs (data in ``workloads/models/``) and their lowering to op graphs.

A *workload* is a model plus a phase and sizes: ``llama7b_decode`` is model ``llama7b`` in the
decode phase with the default sizes; ``--set workload.batch=8`` changes a size. A workload may also
be a YAML file (``model:``, ``phase:`` and sizes) under ``workloads/`` or anywhere on disk.

Lowering follows the Hugging Face implementations of the three model styles (LLaMA, GPT-3/GPT-2,
OPT): per decoder layer, norm -> Q/K/V projections -> RoPE -> KV-cache append -> per-KV-head
attention (QK^T, softmax, PV; grouped-query heads are stacked into the M dimension so each K/V
head is read once) -> O projection -> residual add -> norm -> FFN (gate/up/SiLU*up/down, or
fc1/GELU|ReLU/fc2) -> residual add; then the final norm and the LM head. Decode (one new token
per sequence) yields GEMVs when batch is 1; prefill yields GEMMs. Attention in prefill computes the
full (unmasked) score matrix, as non-fused kernels do; causal skipping is not modelled.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sim.config.safe_input import is_file
from sim.config import REQUIRED, Config, Field, Section, apply_overrides, load_yaml_file, validate
from sim.errors import WorkloadError, where
from sim import seqlens
from sim.ops import Elementwise, Gemm, Op

ROOT = Path(__file__).resolve().parent.parent
WORKLOAD_DIR = ROOT / "workloads"
MODEL_DIR = WORKLOAD_DIR / "models"

MODEL_SCHEMA = Section("A decoder-only transformer", {
    "name": Field("str", None, "Display name", nullable=True),
    "source": Field("str", None, "Where the hyper-parameters come from (paper table, config file)"),
    "style": Field("enum", "llama", "Layer structure family", choices=("llama", "gpt", "opt")),
    "hidden": Field("int", REQUIRED, "Model width d_model", positive=True),
    "layers": Field("int", REQUIRED, "Decoder layers", positive=True),
    "heads": Field("int", REQUIRED, "Query heads", positive=True),
    "kv_heads": Field("int", None, "Key/value heads (GQA); null = heads", positive=True, nullable=True),
    "head_dim": Field("int", None, "Per-head width; null = hidden / heads", positive=True, nullable=True),
    "ffn": Field("int", REQUIRED, "FFN inner width", positive=True),
    "ffn_act": Field("enum", "silu_gated", "FFN non-linearity",
                     choices=("silu_gated", "gelu", "relu")),
    "norm": Field("enum", "rmsnorm", "Normalisation", choices=("rmsnorm", "layernorm")),
    "subln": Field("bool", False, "Extra norms before o_proj and down_proj (BitNet SubLN)"),
    "bias": Field("bool", False, "Linear layers carry biases"),
    "vocab": Field("int", REQUIRED, "Vocabulary size", positive=True),
    "tied_embeddings": Field("bool", False, "LM head shares the token-embedding matrix"),
    "positional": Field("enum", "rope", "Position encoding", choices=("rope", "learned")),
    "max_positions": Field("int", 2048, "Rows of a learned position table / max context", positive=True),
    "weight_bits": Field("int", None, "Native weight precision of the model; null = the arch's",
                         nullable=True, minimum=1, maximum=32),
})

#: bounds far beyond any served batch or context, so that per-request lists stay in memory
MAX_BATCH = 2**20
MAX_TOKENS = 2**24

WORKLOAD_SCHEMA = Section("What to run", {
    "model": Field("str", REQUIRED, "Model id: a file name in workloads/models/ (without .yaml)"),
    "phase": Field("enum", "decode", "Inference phase", choices=("decode", "prefill")),
    "batch": Field("int", 1, "Sequences processed together", positive=True,
                   maximum=MAX_BATCH),
    "prompt_len": Field("int", 512, "Prefill: prompt tokens per sequence", positive=True,
                        maximum=MAX_TOKENS),
    "context_len": Field("int", 512,
                         "Decode: tokens already in the KV cache per sequence (the new token "
                         "attends to context_len + 1 keys)", minimum=0, maximum=MAX_TOKENS),
    "weight_bits": Field("int", None, "Weight precision; null = the model's, else the arch's native",
                         nullable=True, minimum=1, maximum=32),
    "act_bits": Field("int", None, "Activation precision; null = the arch's native",
                      nullable=True, minimum=1, maximum=32),
    "kv_bits": Field("int", None, "KV-cache precision; null = act_bits", nullable=True,
                     minimum=1, maximum=32),
    "context_dist": Field("enum", "fixed",
                          "Decode: per-request KV lengths; fixed: every request has context_len; "
                          "sharegpt / alpaca: an in-flight continuous-batching snapshot drawn "
                          "with `seed` (sim/data/seq_dists.yaml)",
                          choices=("fixed",) + seqlens.names()),
    "seed": Field("int", 0, "Seed of the context_dist draw", minimum=0),
    "tensor_parallel": Field("int", 1, "Devices a layer is split over (Megatron style: heads, "
                             "FFN columns and the LM head vocabulary); ops are one device's shard",
                             positive=True),
    "pipeline_parallel": Field("int", 1, "Pipeline stages: one device runs layers / stages layers "
                               "on micro-batches of batch / stages requests; throughput is the "
                               "pipeline's steady state (one micro-batch per stage time)",
                               positive=True),
    "logits": Field("enum", "last", "Prefill LM head on the last token of each sequence or on all",
                    choices=("last", "all")),
})

_NAMED = re.compile(r"^(?P<model>[A-Za-z0-9_.-]+?)_(?P<phase>decode|prefill)$")


@dataclass(frozen=True)
class Model:
    """Resolved model hyper-parameters (see :data:`MODEL_SCHEMA`)."""

    id: str
    cfg: Config

    def __getattr__(self, name):
        return getattr(self.cfg, name)

    @property
    def n_kv(self) -> int:
        return self.cfg.kv_heads or self.cfg.heads

    @property
    def hd(self) -> int:
        return self.cfg.head_dim or self.cfg.hidden // self.cfg.heads


@dataclass(frozen=True)
class Workload:
    """A model, a phase and its sizes, lowered to ``ops``."""

    name: str
    model: Model
    cfg: Config
    ops: tuple[Op, ...]
    source_file: str | None
    #: MACs of one run from a closed form of the model (not from ``ops``); the invariant check
    #: holds the lowered graph and every report to it
    closed_form_macs: int | None = None
    #: things the simulation runs with but a user should know (one line each), e.g. a RoPE
    #: model asked for more positions than it was trained on
    warnings: tuple[str, ...] = ()

    @property
    def tokens(self) -> int:
        """Tokens produced (decode) or consumed (prefill) by one run."""
        c = self.cfg
        batch = c.batch // c.pipeline_parallel
        return batch if c.phase == "decode" else batch * c.prompt_len


def available_models() -> list[str]:
    return sorted(p.stem for p in MODEL_DIR.glob("*.yaml"))


def available_workloads() -> list[str]:
    named = [f"{m}_{p}" for m in available_models() for p in ("decode", "prefill")]
    files = sorted(p.stem for p in WORKLOAD_DIR.glob("*.yaml"))
    return named + files


def load_model(model_id: str, label: str | None = None) -> Model:
    """Read and validate ``workloads/models/<model_id>.yaml``; ``label`` (the workload's file
    or name) prefixes the message of an unknown model."""
    path = MODEL_DIR / f"{model_id}.yaml"
    if "/" in model_id or "\\" in model_id or "\0" in model_id or not is_file(path):
        from sim.config.schema import did_you_mean
        key = where(label, "model") if label else "workload.model"
        raise WorkloadError(f"{key}: unknown model {model_id!r}"
                            f"{did_you_mean(model_id, available_models())}; "
                            f"known: {', '.join(available_models())}")
    raw = load_yaml_file(path, error=WorkloadError)
    data, problems = validate(raw, MODEL_SCHEMA, str(path))
    if not problems:
        problems += _model_rules(data, str(path))
    if problems:
        raise WorkloadError(problems)
    return Model(model_id, Config(data))


def _model_rules(d: dict, file: str) -> list[str]:
    out = []
    if d["kv_heads"] and d["heads"] % d["kv_heads"]:
        out.append(f"{where(file, 'kv_heads')}: heads={d['heads']} must be a multiple of "
                   f"kv_heads={d['kv_heads']}")
    if d["head_dim"] is None and d["hidden"] % d["heads"]:
        out.append(f"{where(file, 'head_dim')}: hidden={d['hidden']} is not divisible by "
                   f"heads={d['heads']}; set head_dim")
    return out


def resolve_workload_spec(spec: str, overrides: list[tuple[str, object]] = ()) -> tuple[dict, str, str | None]:
    """Turn ``--workload`` (a name or a YAML path) plus overrides into a raw workload mapping.

    Returns ``(raw_mapping, display_name, file_or_None)``.
    """
    path = Path(spec)
    if not (spec.endswith((".yaml", ".yml")) or is_file(path)):
        path = WORKLOAD_DIR / f"{spec}.yaml"  # a named workload file under workloads/
    if spec.endswith((".yaml", ".yml")) or is_file(path):
        raw = load_yaml_file(path, error=WorkloadError)
        if not isinstance(raw, dict):
            raise WorkloadError(f"{path}: expected a mapping with model:, phase:, ...")
        name, file = path.stem, str(path)
    else:
        match = _NAMED.match(spec)
        if not match or match.group("model") not in available_models():
            from sim.config.schema import did_you_mean
            raise WorkloadError(f"--workload: unknown workload {spec!r}"
                                f"{did_you_mean(spec, available_workloads())}; known: "
                                f"{', '.join(available_workloads())} (or a path to a .yaml)")
        raw = {"model": match.group("model"), "phase": match.group("phase")}
        name, file = spec, None
    try:
        raw = apply_overrides(raw, list(overrides), label="--set workload.")
    except Exception as exc:  # ConfigError from a malformed override path
        raise WorkloadError(str(exc)) from None
    return raw, name, file


def load_workload(spec: str | dict, overrides: list[tuple[str, object]] = (),
                  native_bits: dict[str, int] | None = None) -> Workload:
    """Load, validate and lower a workload.

    ``spec`` is a name, a YAML path or an already-parsed mapping (``model:``, ``phase:``, sizes).
    ``native_bits`` (``weight_bits``/``act_bits``) fill precisions the workload leaves null; the
    simulator passes the architecture's native precision.
    """
    from sim.traces import is_trace, load_trace_workload
    if is_trace(spec):
        return load_trace_workload(spec, overrides, native_bits)
    if isinstance(spec, dict):
        raw, name, file = apply_overrides(spec, list(overrides), label="--set workload."), \
            f"{spec.get('model')}_{spec.get('phase', 'decode')}", None
    else:
        raw, name, file = resolve_workload_spec(spec, overrides)
    label = file or f"workload {name}"
    model, cfg = resolve_workload_config(raw, label, native_bits)
    return Workload(name, model, cfg, tuple(lower(model, cfg)), file,
                    closed_form_macs(model, cfg), position_warnings(model, cfg, label))


def _beyond_positions(model: Model, cfg: Config, label: str) -> str:
    """The message when the sequence outgrows the model's ``max_positions`` ('' if it fits)."""
    kind = "learned" if model.positional == "learned" else "RoPE"
    if cfg.phase == "decode" and cfg.context_len + 1 > model.max_positions:
        return (f"{where(label, 'context_len')}: {cfg.context_len} + 1 exceeds the "
                f"{model.max_positions} {kind} positions of {model.id}; allowed: "
                f"context_len <= {model.max_positions - 1}")
    if cfg.phase == "prefill" and cfg.prompt_len > model.max_positions:
        return (f"{where(label, 'prompt_len')}: {cfg.prompt_len} exceeds the "
                f"{model.max_positions} {kind} positions of {model.id}; allowed: "
                f"prompt_len <= {model.max_positions}")
    return ""


def position_warnings(model: Model, cfg: Config, label: str) -> tuple[str, ...]:
    """A RoPE model runs past its trained ``max_positions`` (the rotation extrapolates, as
    long-context serving does), so the simulation goes on, with a warning; a learned table
    has no rows there, which :func:`resolve_workload_config` refuses."""
    problem = _beyond_positions(model, cfg, label) if model.positional == "rope" else ""
    return (problem.replace("; allowed:", ": simulated anyway (RoPE extrapolates); within "
                            "the trained length:"),) if problem else ()


def resolve_workload_config(raw: dict, label: str, native_bits: dict[str, int] | None = None
                            ) -> tuple[Model, Config]:
    """Validate a raw workload mapping and fill its null precisions; no lowering (cheap)."""
    data, problems = validate(raw, WORKLOAD_SCHEMA, label)
    if problems:
        raise WorkloadError(problems)
    model = load_model(data["model"], label)
    native = native_bits or {"weight_bits": 16, "act_bits": 16}
    if data["weight_bits"] is None:
        data["weight_bits"] = model.cfg.weight_bits or native["weight_bits"]
    if data["act_bits"] is None:
        data["act_bits"] = native["act_bits"]
    if data["kv_bits"] is None:
        data["kv_bits"] = data["act_bits"]
    cfg = Config(data)
    if model.positional == "learned":  # positions past the table have no embedding at all
        problem = _beyond_positions(model, cfg, label)
        if problem:
            raise WorkloadError(problem)
    problems = parallel_problems(model, cfg, label)
    if problems:
        raise WorkloadError(problems)
    return model, cfg


def request_kv_lens(w: Config) -> tuple[int, ...]:
    """Keys each request of one device's (micro-)batch attends to in decode (context + 1)."""
    b = w.batch // w.pipeline_parallel
    if w.context_dist == "fixed":
        return (w.context_len + 1,) * b
    return tuple(n + 1 for n in seqlens.snapshot_lengths(w.context_dist, w.batch, w.seed)[:b])


def parallel_problems(model: Model, w: Config, label: str) -> list[str]:
    """Tensor / pipeline splits that do not divide the model or the batch."""
    out = []
    tp, pp = w.tensor_parallel, w.pipeline_parallel
    for what, n in (("heads", model.heads), ("kv_heads", model.n_kv), ("ffn", model.ffn)):
        if n % tp:
            out.append(f"{where(label, 'tensor_parallel')}: {tp} does not divide the "
                       f"{n} {what} of {model.id}; allowed: a divisor of {n}")
            break
    if model.layers % pp:
        out.append(f"{where(label, 'pipeline_parallel')}: {pp} does not divide the "
                   f"{model.layers} layers of {model.id}")
    if w.batch % pp:
        out.append(f"{where(label, 'pipeline_parallel')}: {pp} does not divide batch {w.batch} "
                   f"into equal micro-batches")
    return out


def closed_form_macs(model: Model, w: Config) -> int:
    """MACs of one forward pass on one device, by formula (independent of :func:`lower`).

    Per layer: tokens x (Q, K, V, O and FFN weights) plus attention, 2 x query heads x query
    tokens x keys x head_dim (QK^T and PV); then the LM head on its rows.
    """
    m = model
    tp, pp = w.tensor_parallel, w.pipeline_parallel
    batch = w.batch // pp
    q_len = 1 if w.phase == "decode" else w.prompt_len
    nq, nkv, ffn = m.heads // tp, m.n_kv // tp, m.ffn // tp
    weights = m.hidden * m.hd * (2 * nq + 2 * nkv) + m.hidden * ffn * (
        3 if m.ffn_act == "silu_gated" else 2)
    if w.phase == "decode" and w.context_dist == "fixed":
        keys = batch * (w.context_len + 1)
    elif w.phase == "decode":
        keys = sum(request_kv_lens(w))
    else:
        keys = batch * w.prompt_len
    attention = 2 * nq * q_len * m.hd * keys
    total = (m.layers // pp) * (batch * q_len * weights + attention)
    if pp == 1:
        lm_rows = batch * q_len if (w.phase == "decode" or w.logits == "all") else batch
        total += lm_rows * -(-m.vocab // tp) * m.hidden
    return total


def lower(model: Model, w: Config) -> list[Op]:
    """The op graph of one forward pass (one decode step, or the whole prompt) on one device.

    With tensor parallelism the ops are one device's shard (heads, FFN columns, LM-head rows);
    with pipeline parallelism one stage's layers on one micro-batch (the embedding and LM head
    of the first and last stages are left out). Collectives are not modelled.
    """
    m = model
    tp, pp = w.tensor_parallel, w.pipeline_parallel
    batch = w.batch // pp
    q_len = 1 if w.phase == "decode" else w.prompt_len
    kv_len = w.context_len + 1 if w.phase == "decode" else w.prompt_len
    tokens = batch * q_len
    hid, hd, nq, nkv = m.hidden, m.hd, m.heads // tp, m.n_kv // tp
    ffn = m.ffn // tp
    group = nq // nkv
    wb, ab, kb = w.weight_bits, w.act_bits, w.kv_bits
    bias = 1 if m.bias else 0
    norm_params = hid * (2 if m.norm == "layernorm" else 1)
    kv_lens = request_kv_lens(w) if (w.phase == "decode" and w.context_dist != "fixed") else ()
    ops: list[Op] = []

    def linear(name, layer, role, n, k, m_rows=tokens):
        ops.append(Gemm(name, layer, role, m=m_rows, n=n, k=k, a_bits=ab, b_bits=wb, c_bits=ab,
                        param_elems=n * k + bias * n))

    def vec(name, layer, role, op, elements, n_in, n_out, params=0, params_read=None,
            param_bits=None, kv=0):
        ops.append(Elementwise(name, layer, role, op, elements, bits=ab, in_elems=n_in,
                               out_elems=n_out, param_elems=params,
                               param_read_elems=params if params_read is None else params_read,
                               param_bits=param_bits or ab, kv_write_elems=kv, kv_bits=kb))

    if pp == 1:
        vec("embed", -1, "embedding", "gather", tokens * hid, 0, tokens * hid,
            params=m.vocab * hid, params_read=tokens * hid, param_bits=ab)
    if m.positional == "learned" and pp == 1:
        vec("pos_embed", -1, "embedding", "add", tokens * hid, tokens * hid, tokens * hid,
            params=m.max_positions * hid, params_read=q_len * hid, param_bits=ab)
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
            count, n_keys = nkv, sum(kv_lens)
        else:
            count, n_keys = batch * nkv, kv_len
        ops.append(Gemm("attn_qk", L, "attention", m=group * q_len, n=n_keys, k=hd, count=count,
                        a_bits=ab, b_bits=kb, c_bits=ab, b_source="kv", kv_lens=kv_lens))
        scores = count * group * q_len * n_keys
        vec("softmax", L, "attention", "softmax", scores, scores, scores)
        ops.append(Gemm("attn_pv", L, "attention", m=group * q_len, n=hd, k=n_keys, count=count,
                        a_bits=ab, b_bits=kb, c_bits=ab, b_source="kv", kv_lens=kv_lens))
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
