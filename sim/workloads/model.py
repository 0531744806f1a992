"""Transformer model configs (data in ``workloads/models/``) and workload sizes: schemas,
validation, and the closed-form MAC count the invariant checks hold every lowering to.

A *workload* is a model plus a phase and sizes: ``llama7b_decode`` is model ``llama7b`` in the
decode phase with the default sizes; ``--set workload.batch=8`` changes a size. Loading one by name
or file is :mod:`sim.workloads.loader`; its op graph is :mod:`sim.workloads.lowering`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.core.config import REQUIRED, Config, Field, Section, load_yaml_file, validate
from sim.core.config.safe_input import is_file
from sim.core.errors import WorkloadError, where
from sim.core.ops import Op
from sim.core.paths import PROJECT_ROOT
from sim.workloads import seqlens

WORKLOAD_DIR = PROJECT_ROOT / "workloads"
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
    "attention_bits": Field("int", None, "Precision of the attention path: Q, the scores and "
                            "their softmax, P (null = act_bits); e.g. 16 for BitNet b1.58, which "
                            "quantizes only its linear layers' inputs", nullable=True,
                            minimum=1, maximum=32),
    "context_dist": Field("enum", "fixed",
                          "Decode: per-request KV lengths; fixed: every request has context_len; "
                          "sharegpt / alpaca: an in-flight continuous-batching snapshot drawn "
                          "with `seed` (sim/workloads/data/seq_dists.yaml)",
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
    #: each request's own length in a serving step (prompt tokens in prefill, cached tokens in
    #: decode); empty when every request has the sizes of ``cfg``
    lens: tuple[int, ...] = ()
    #: prefill of prompt chunks: tokens each request had cached before its chunk of ``lens``
    #: (chunked prefill); empty: every prompt starts from an empty cache
    prior: tuple[int, ...] = ()

    @property
    def kv_tokens(self) -> int:
        """Tokens in one device's KV cache at the end of the run (all requests)."""
        c = self.cfg
        batch = c.batch // c.pipeline_parallel
        if self.lens:
            return sum(self.lens[:batch]) + sum(self.prior[:batch]) + (
                batch if c.phase == "decode" else 0)
        return batch * (c.context_len + 1 if c.phase == "decode" else c.prompt_len)

    @property
    def tokens(self) -> int:
        """Tokens produced (decode) or consumed (prefill) by one run."""
        c = self.cfg
        batch = c.batch // c.pipeline_parallel
        if c.phase == "prefill" and self.lens:
            return sum(self.lens[:batch])
        return batch if c.phase == "decode" else batch * c.prompt_len


def available_models() -> list[str]:
    return sorted(p.stem for p in MODEL_DIR.glob("*.yaml"))


def load_model(model_id: str, label: str | None = None) -> Model:
    """Read and validate ``workloads/models/<model_id>.yaml``; ``label`` (the workload's file
    or name) prefixes the message of an unknown model."""
    path = MODEL_DIR / f"{model_id}.yaml"
    if "/" in model_id or "\\" in model_id or "\0" in model_id or not is_file(path):
        from sim.core.config.schema import did_you_mean
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
    for key in ("kv_bits", "attention_bits"):
        if data[key] is None:
            data[key] = data["act_bits"]
    cfg = Config(data)
    if model.positional == "learned":  # positions past the table have no embedding at all
        problem = _beyond_positions(model, cfg, label)
        if problem:
            raise WorkloadError(problem)
    problems = parallel_problems(model, cfg, label)
    if problems:
        raise WorkloadError(problems)
    return model, cfg


def request_kv_lens(w: Config, lens: tuple[int, ...] = ()) -> tuple[int, ...]:
    """Keys each request of one device's (micro-)batch attends to in decode (context + 1);
    ``lens``, when given, are the requests' cached tokens (a serving step's batch)."""
    b = w.batch // w.pipeline_parallel
    if lens:
        return tuple(n + 1 for n in lens[:b])
    if w.context_dist == "fixed":
        return (w.context_len + 1,) * b
    return tuple(n + 1 for n in seqlens.snapshot_lengths(w.context_dist, w.batch, w.seed)[:b])


def prompt_groups(w: Config, lens: tuple[int, ...] = (),
                  prior: tuple[int, ...] = ()) -> tuple[tuple[int, int, int], ...]:
    """Prefill with per-request prompt ``lens``: ``(prompt tokens, requests, keys)`` per
    distinct chunk, longest first, where a chunk of ``p`` tokens after ``prior`` cached ones
    attends to ``prior + p`` keys; empty when the batch shares ``w.prompt_len`` (or in
    decode)."""
    if w.phase != "prefill" or not lens:
        return ()
    before = prior or (0,) * len(lens)
    counts: dict[tuple[int, int], int] = {}
    for n, c in list(zip(lens, before))[:w.batch // w.pipeline_parallel]:
        counts[(n, c)] = counts.get((n, c), 0) + 1
    return tuple((n, k, n + c) for (n, c), k in sorted(counts.items(), reverse=True))


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


def closed_form_macs(model: Model, w: Config, lens: tuple[int, ...] = (),
                     prior: tuple[int, ...] = ()) -> int:
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
    prompts = prompt_groups(w, lens, prior)
    if w.phase == "decode" and w.context_dist == "fixed" and not lens:
        keys = batch * (w.context_len + 1)
    elif w.phase == "decode":
        keys = sum(request_kv_lens(w, lens))
    else:
        keys = batch * w.prompt_len
    attention = 2 * nq * q_len * m.hd * keys
    tokens = batch * q_len
    if prompts:  # each prompt attends over itself: sum of squares, not batch x mean^2
        tokens = sum(p * n for p, n, _ in prompts)
        attention = 2 * nq * m.hd * sum(p * keys * n for p, n, keys in prompts)
    total = (m.layers // pp) * (tokens * weights + attention)
    if pp == 1:
        lm_rows = tokens if (w.phase == "decode" or w.logits == "all") else batch
        total += lm_rows * -(-m.vocab // tp) * m.hidden
    return total
