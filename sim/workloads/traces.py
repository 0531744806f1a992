"""Op traces (``traces/*.jsonl``): reading, replay as a workload, and the cross-check against
the generated op graph. Extraction (torch, transformers) lives in :mod:`sim.workloads.extract`.

Format (version 1; docs/traces.md): JSON lines. The first line is the header::

    {"format": "accelsim-trace", "version": 1, "name": ..., "model_type": "llama",
     "config": {HF config fields}, "phase": "decode", "batch": 1, "context_len": 128,
     "prompt_len": null, "dtype": "bfloat16", "device": "meta", "ops": N,
     "libraries": {"torch": ..., "transformers": ..., "accelsim": ...}}

then one op per line, in execution order::

    {"fn": "linear", "module": "model.layers.0.self_attn.q_proj", "layer": 0, "role": "qkv",
     "inputs": [{"shape": [1, 1, 4096], "dtype": "bfloat16", "source": "activation"},
                {"shape": [4096, 4096], "dtype": "bfloat16", "source": "weight"}],
     "outputs": [{"shape": [1, 1, 4096], "dtype": "bfloat16"}]}

``source`` is ``weight`` (a model parameter, or a view of one), ``kv_cache`` (the KV cache, or
a view of it) or ``activation``; ``stored_shape`` is the shape of the tensor a view was taken
from (a KV head repeated for grouped-query attention reads the stored, smaller tensor).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import math
import zlib
from pathlib import Path

from sim.core.config.safe_input import is_file, read_bytes, show_path
from sim.core.config import Config, validate
from sim.core.errors import WorkloadError
from sim.core.ops import PRECISIONS, Elementwise, Gemm
from sim.workloads.model import MODEL_SCHEMA, WORKLOAD_SCHEMA, Model, Workload

FORMAT, FORMAT_VERSION = "accelsim-trace", 1
DTYPE_BITS = {"float32": 32, "float16": 16, "bfloat16": 16, "float64": 64, "int64": 64,
              "int32": 32, "int8": 8, "uint8": 8, "bool": 8, "float8_e4m3fn": 8}
#: torch function -> vector-unit op class (:data:`sim.core.components.VECTOR_OPS_PER_ELEMENT`)
VECTOR_CLASS = {
    **dict.fromkeys(("add", "sub", "__add__", "__radd__", "__iadd__", "__sub__", "__rsub__",
                     "where", "masked_fill", "clamp", "neg", "__neg__", "abs", "maximum",
                     "minimum"), "add"),
    **dict.fromkeys(("mul", "__mul__", "__rmul__", "__imul__", "div", "div_", "__truediv__",
                     "__rtruediv__", "__floordiv__", "pow", "__pow__", "square"), "mul"),
    **dict.fromkeys(("rsqrt", "sqrt", "exp", "log", "cos", "sin", "reciprocal", "sigmoid",
                     "tanh"), "transcendental"),
    **dict.fromkeys(("mean", "sum", "max", "amax", "min", "amin", "topk", "argmax", "sort",
                     "cumsum", "histc"), "reduce"),
    **dict.fromkeys(("cat", "stack", "index_copy", "index_copy_", "copy_", "index_select",
                     "index_add_", "index_add", "scatter", "gather"), "copy"),
    **dict.fromkeys(("to", "float", "half", "bfloat16", "type_as"), "cast"),
    "silu": "silu", "gelu": "gelu", "relu": "relu", "softmax": "softmax",
    "layer_norm": "layernorm", "rms_norm": "rmsnorm", "embedding": "gather",
}
#: HF config keys -> model fields, per model type (the zoo's MODEL_SCHEMA)
_LLAMA_LIKE = ("llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "gemma")


def is_trace(spec) -> bool:
    return isinstance(spec, (str, Path)) and str(spec).endswith((".jsonl", ".jsonl.gz"))


#: matrix products a trace may record (replayed as GEMMs)
MATMUL_FNS = ("linear", "addmm", "matmul", "bmm", "mm", "__matmul__", "baddbmm")
#: largest trace file read (bytes on disk) and largest decompressed stream: the shipped traces
#: of 7-8B models are about 1 MB of JSON lines
MAX_TRACE_BYTES = 64 * 2**20
MAX_TRACE_TEXT = 256 * 2**20
#: op records one trace may hold (the simulation's work grows with them)
MAX_TRACE_OPS = 200_000


def read_trace(path: str | Path) -> tuple[dict, list[dict]]:
    """``(header, op records)``; a :class:`WorkloadError` names the file and line on bad input."""
    path = Path(path)
    if not is_file(path):
        raise WorkloadError(f"--workload {show_path(path)}: trace file not found")
    text = _trace_text(path)
    lines = [line for line in text.splitlines() if line.strip()]
    records = []
    for i, line in enumerate(lines, start=1):
        try:
            records.append(json.loads(line))
        except (json.JSONDecodeError, RecursionError) as exc:
            reason = getattr(exc, "msg", "nesting too deep")
            raise WorkloadError(f"{path}: line {i}: not JSON ({reason})") from None
    header, records = (records[0] if records else {}), records[1:]
    problems = _header_problems(header, path) or [
        p for i, rec in enumerate(records, start=2) for p in _record_problems(rec, path, i)]
    if not problems:
        problems = _count_problems(header, records, path)
    if problems:
        raise WorkloadError(problems[:10])
    return header, records


def _trace_text(path: Path) -> str:
    """The file's text, gunzipped when it ends in ``.gz``, each bounded in size."""
    data = read_bytes(path, MAX_TRACE_BYTES, WorkloadError, "trace")
    if path.suffix == ".gz":
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as f:
                data = f.read(MAX_TRACE_TEXT + 1)
        except (OSError, EOFError, zlib.error) as exc:  # not gzip, a cut or damaged stream
            raise WorkloadError(f"{path}: cannot read the trace ({exc.__class__.__name__}: "
                                f"a damaged or cut gzip stream); allowed: JSON lines, "
                                f"optionally gzipped") from None
        if len(data) > MAX_TRACE_TEXT:
            raise WorkloadError(f"{path}: decompresses to more than {MAX_TRACE_TEXT:,} bytes, "
                                f"beyond any trace this simulator reads")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WorkloadError(f"{path}: not UTF-8 text (byte {exc.start}); allowed: JSON lines, "
                            f"optionally gzipped") from None


def _count_problems(header: dict, records: list, path) -> list[str]:
    """The header's ``ops`` count against the records that follow (a cut file, no ops)."""
    count = header.get("ops")
    if not _count(count, 1):
        return [f"{path}: line 1: ops: expected the number of op records (an integer >= 1), "
                f"got {count!r}"]
    if count > MAX_TRACE_OPS:
        return [f"{path}: line 1: ops: {count:,} op records; allowed: at most "
                f"{MAX_TRACE_OPS:,} (a 70B-class model's decode step has a few thousand)"]
    if len(records) != count:
        return [f"{path}: the header announces {count:,} op records, the file has "
                f"{len(records):,} (a cut or padded trace); allowed: a complete trace"]
    return []


#: sources an op input may have
SOURCES = ("weight", "kv_cache", "activation")
#: most elements one traced tensor may have (products of a few stay exact in int64)
MAX_ELEMENTS = 2**48


def _header_problems(header, path) -> list[str]:
    """The header's fields, one message each (``FILE: line 1: key: reason``)."""
    at = f"{path}: line 1"
    if not isinstance(header, dict):
        return [f"{at}: expected the header object, got {type(header).__name__}"]
    if header.get("format") != FORMAT:
        return [f"{at}: format: expected {FORMAT!r}, got {header.get('format')!r}"]
    if header.get("version") != FORMAT_VERSION:
        return [f"{at}: version: {header.get('version')!r}; this simulator reads version "
                f"{FORMAT_VERSION}"]
    out = []
    if not isinstance(header.get("model_type"), str):
        out.append(f"{at}: model_type: expected a transformers model type such as 'llama', "
                   f"got {header.get('model_type')!r}")
    if not isinstance(header.get("config"), dict):
        out.append(f"{at}: config: expected the model's config object")
    phase = header.get("phase")
    if phase not in ("decode", "prefill"):
        out.append(f"{at}: phase: {phase!r} is not allowed; expected 'decode' or 'prefill'")
    if not _count(header.get("batch"), 1):
        out.append(f"{at}: batch: expected an integer >= 1, got {header.get('batch')!r}")
    key = "context_len" if phase == "decode" else "prompt_len"
    if phase in ("decode", "prefill") and not _count(header.get(key), phase == "prefill"):
        out.append(f"{at}: {key}: expected an integer >= {int(phase == 'prefill')}, got "
                   f"{header.get(key)!r}")
    if not isinstance(header.get("dtype", "bfloat16"), str):
        out.append(f"{at}: dtype: expected a torch dtype name such as 'bfloat16', got "
                   f"{header.get('dtype')!r}")
    if "name" in header and not isinstance(header["name"], (str, type(None))):
        out.append(f"{at}: name: expected a string, got {header['name']!r}")
    return out


def _count(x, least: int) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and least <= x <= MAX_ELEMENTS


def _shape_ok(shape) -> bool:
    return (isinstance(shape, list) and len(shape) <= 8 and all(_count(d, 0) for d in shape)
            and math.prod(shape) <= MAX_ELEMENTS)


def _record_problems(rec, path, line: int) -> list[str]:
    """One op record's structure: fn, layer, role, inputs / outputs with shapes and sources."""
    at = f"{path}: line {line}"
    if not isinstance(rec, dict):
        return [f"{at}: expected an op object, got {type(rec).__name__}"]
    out = []
    for key in ("fn", "role"):
        if not isinstance(rec.get(key), str):
            out.append(f"{at}: {key}: expected a string, got {rec.get(key)!r}")
    if not isinstance(rec.get("module", ""), str):
        out.append(f"{at}: module: expected a string, got {rec.get('module')!r}")
    layer = rec.get("layer")
    if not (isinstance(layer, int) and not isinstance(layer, bool) and -1 <= layer < 2**31):
        out.append(f"{at}: layer: expected an integer >= -1, got {layer!r}")
    for side in ("inputs", "outputs"):
        tensors = rec.get(side)
        if not isinstance(tensors, list) or (side == "outputs" and not tensors):
            out.append(f"{at}: {side}: expected a list of tensors, got {tensors!r:.60}")
            continue
        for j, t in enumerate(tensors):
            if not isinstance(t, dict) or not _shape_ok(t.get("shape")):
                out.append(f"{at}: {side}[{j}].shape: expected a list of at most 8 "
                           f"non-negative integers, got {t!r:.60}")
            elif side == "inputs" and t.get("source") not in SOURCES:
                out.append(f"{at}: inputs[{j}].source: {t.get('source')!r} is not allowed; "
                           f"expected one of {', '.join(SOURCES)}")
            elif "stored_shape" in t and not _shape_ok(t["stored_shape"]):
                out.append(f"{at}: {side}[{j}].stored_shape: expected a list of non-negative "
                           f"integers, got {t['stored_shape']!r:.60}")
    rows = rec.get("group_rows")
    if rows is not None and not (isinstance(rows, list) and all(_count(r, 0) for r in rows)):
        out.append(f"{at}: group_rows: expected a list of non-negative integers, got {rows!r:.60}")
    fn = rec.get("fn")
    if (isinstance(fn, str) and rows is None and fn not in MATMUL_FNS
            and fn != "scaled_dot_product_attention" and fn not in VECTOR_CLASS):
        out.append(f"{at}: fn: {fn!r} is a function this simulator cannot replay; allowed: "
                   f"{', '.join(MATMUL_FNS)}, scaled_dot_product_attention, a grouped expert "
                   f"GEMM (group_rows) or an element-wise function such as "
                   f"{', '.join(sorted(VECTOR_CLASS)[:8])}, ...")
    return out


def trace_digest(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def model_fields(model_type: str, c: dict) -> dict:
    """The zoo's model fields (MODEL_SCHEMA) from a Hugging Face config."""
    if model_type == "gpt2":
        hidden = c.get("n_embd", 768)
        return dict(style="gpt", hidden=hidden, layers=c.get("n_layer", 12), heads=c.get("n_head", 12),
                    ffn=c.get("n_inner") or 4 * hidden, ffn_act="gelu", norm="layernorm", bias=True,
                    vocab=c.get("vocab_size", 50257), tied_embeddings=True, positional="learned",
                    max_positions=c.get("n_positions", 1024))
    if model_type == "opt":
        return dict(style="opt", hidden=c["hidden_size"], layers=c["num_hidden_layers"],
                    heads=c["num_attention_heads"], ffn=c["ffn_dim"],
                    ffn_act=c.get("activation_function", "relu"), norm="layernorm", bias=True,
                    vocab=c["vocab_size"], tied_embeddings=c.get("tie_word_embeddings", True),
                    positional="learned", max_positions=c.get("max_position_embeddings", 2048) + 2)
    if model_type in _LLAMA_LIKE:
        return dict(style="llama", hidden=c["hidden_size"], layers=c["num_hidden_layers"],
                    heads=c["num_attention_heads"], kv_heads=c.get("num_key_value_heads"),
                    head_dim=c.get("head_dim"), ffn=c["intermediate_size"], ffn_act="silu_gated",
                    norm="rmsnorm", vocab=c["vocab_size"],
                    tied_embeddings=c.get("tie_word_embeddings", False), positional="rope",
                    max_positions=c.get("max_position_embeddings", 2048))
    raise WorkloadError(f"model_type: {model_type!r} has no model mapping; known: gpt2, opt, "
                        f"{', '.join(_LLAMA_LIKE)}")


def load_trace_workload(spec: str | Path, overrides=(), native_bits: dict | None = None):
    """A trace as a :class:`sim.workloads.model.Workload`. Precisions default to the arch's native
    ones (``native_bits``, as for a named workload), else the traced dtype; overrides may
    change precisions only (:data:`~sim.workloads.model.PRECISIONS`): the extraction fixed the
    shapes."""
    header, records = read_trace(spec)
    label = str(spec)
    bits = DTYPE_BITS.get(header.get("dtype"), 16)
    native = native_bits or {"weight_bits": bits, "act_bits": bits}  # like a named workload
    raw = {"model": header.get("name") or Path(spec).stem, "phase": header["phase"],
           "batch": header["batch"], "weight_bits": native["weight_bits"],
           "act_bits": native["act_bits"], "kv_bits": None, "attention_bits": None}
    if header["phase"] == "decode":
        raw["context_len"] = header["context_len"]
    else:
        raw["prompt_len"] = header["prompt_len"]
    for key, value in overrides:
        if key not in PRECISIONS:
            raise WorkloadError(f"{label}: --set workload.{key}: a trace's shapes are fixed when it "
                                f"is extracted; allowed overrides: {', '.join(PRECISIONS)} "
                                f"(extract again for another {key})")
        raw[key] = value
    data, problems = validate(raw, WORKLOAD_SCHEMA, label)
    if problems:
        raise WorkloadError(problems)
    for key in ("kv_bits", "attention_bits"):
        if data[key] is None:
            data[key] = data["act_bits"]
    cfg = Config(data)
    try:
        fields = model_fields(header["model_type"], header["config"])
    except (TypeError, ValueError):  # a config field that is null, a list or an object
        raise WorkloadError(f"{label}: line 1: config: its size fields (hidden_size, "
                            f"num_hidden_layers, ...) must be integers") from None
    except KeyError as exc:
        raise WorkloadError(f"{label}: line 1: config.{exc.args[0]}: missing; a "
                            f"{header['model_type']} config needs it") from None
    except WorkloadError as exc:
        raise WorkloadError(f"{label}: line 1: {exc}") from None
    fields, problems = validate({"name": raw["model"], "source": f"trace {label}", **fields},
                                MODEL_SCHEMA, label)
    if problems:
        raise WorkloadError(problems)
    model = Model(raw["model"], Config(fields))
    ops = trace_ops(records, cfg, label)
    return Workload(Path(spec).name.split(".")[0], model, cfg, tuple(ops), str(spec),
                    trace_macs(records))


def trace_macs(records: list[dict]) -> int:
    """MACs of the recorded products from their tensors alone (:func:`record_macs`) —
    independent of :func:`trace_ops`, so the invariant check can hold the replay to it."""
    return sum(record_macs(rec) for rec in records)


def record_macs(rec: dict) -> int:
    """MACs of one recorded product from its tensors: output elements x contraction length;
    SDPA counts QK^T and PV; a grouped expert GEMM its routed rows; 0 for other functions."""
    fn, ins = rec["fn"], rec["inputs"]
    if fn == "scaled_dot_product_attention":
        batch, heads, q_len, hd = ins[0]["shape"]
        return 2 * batch * heads * q_len * ins[1]["shape"][-2] * hd
    if fn in MATMUL_FNS:
        x = ins[1] if fn in ("addmm", "baddbmm") else ins[0]
        k = ins[1]["shape"][1] if fn == "linear" else x["shape"][-1]
        return _numel(rec["outputs"][0]["shape"]) * k
    if "group_rows" in rec:
        k, n = ins[1]["shape"][-2], ins[1]["shape"][-1]
        return sum(rec["group_rows"]) * k * n
    return 0


def trace_ops(records: list[dict], cfg: Config, label: str = "trace") -> list:
    """Replay: each recorded op as the simulator's op (matmuls as GEMMs, attention as QK^T,
    softmax and PV like the generator, everything else as one vector op)."""
    ops = []
    for i, rec in enumerate(records):
        try:
            new = _replay(rec, cfg)
            clash = _shape_clash(rec, new)
            if clash:
                new = [f"{rec['fn']}: the tensors' shapes contradict each other ({clash}); "
                       f"allowed: shapes a {rec['fn']} can have"]
        except (IndexError, KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
            new = [f"{rec['fn']}: its tensors do not have the shapes a {rec['fn']} needs "
                   f"({exc.__class__.__name__}: {exc})"]
        bad = [op for op in new if isinstance(op, str) or not _positive_sizes(op)]
        if bad:
            raise WorkloadError(f"{label}: line {i + 2}: " + (
                bad[0] if isinstance(bad[0], str) else
                f"{rec['fn']}: replays as {bad[0].name} {bad[0].shape} with an empty dimension; "
                f"allowed: tensors with a non-zero size"))
        ops += new
    return ops


def _shape_clash(rec, ops) -> str:
    """Why a product's operand and result shapes cannot belong together ('' when they can):
    contraction lengths that differ, or result elements that are not the product's."""
    fn, ins = rec["fn"], rec["inputs"]
    shapes = [t["shape"] for t in ins]
    if fn == "linear" and shapes[0][-1:] != shapes[1][1:2]:
        return f"input width {shapes[0][-1:]} vs weight {shapes[1]}"
    if fn in ("matmul", "bmm", "mm", "__matmul__") and len(shapes[1]) > 1 \
            and shapes[0][-1] != shapes[1][-2]:
        return f"A {shapes[0]} @ B {shapes[1]}"
    if fn == "scaled_dot_product_attention" and (
            len(shapes) < 3 or shapes[0][-1] != shapes[1][-1] or shapes[1][-2] != shapes[2][-2]):
        return f"query, key, value {shapes[:3]}"
    replayed = sum(op.macs for op in ops if isinstance(op, Gemm))
    recorded = record_macs(rec)
    if replayed != recorded:
        return (f"the result {rec['outputs'][0]['shape']} implies {recorded:,} MACs, the "
                f"operands {replayed:,}")
    return ""


def _replay(rec, cfg: Config) -> list:
    """The simulator ops of one recorded op."""
    if rec["fn"] == "scaled_dot_product_attention":
        return _attention(rec, cfg)
    if rec["fn"] in MATMUL_FNS:
        return [_gemm(rec, cfg, _linear_name(rec))]
    if "group_rows" in rec:
        return _grouped(rec, cfg)
    name = f"{rec.get('module', '').rsplit('.', 1)[-1] or 'model'}.{rec['fn']}"
    return [_vector(rec, cfg, name)]


def _positive_sizes(op) -> bool:
    if isinstance(op, Gemm):
        return min(op.m, op.n, op.k, op.count) >= 1
    return op.elements >= 1


def _linear_name(rec) -> str:
    """The module's leaf name (``q_proj``); ``attn.c_proj`` / ``mlp.c_proj`` where GPT-2 uses
    one leaf name twice."""
    parts = rec.get("module", "").split(".")
    leaf = ".".join(parts[-2:]) if parts[-1] == "c_proj" else parts[-1]
    return leaf if rec["fn"] in ("linear", "addmm") else f"{leaf}.{rec['fn']}"


def _grouped(rec, cfg: Config) -> list:
    """A grouped expert GEMM: one GEMM per expert that received rows (experts with none read
    no weights)."""
    w = rec["inputs"][1]
    k, n = w["shape"][-2], w["shape"][-1]
    part = "up" if n > k else "down"
    return [Gemm(f"expert{e}.{part}", rec["layer"], "ffn", m=rows, n=n, k=k, a_bits=cfg.act_bits,
                 b_bits=cfg.weight_bits, c_bits=cfg.act_bits, param_elems=k * n)
            for e, rows in enumerate(rec["group_rows"]) if rows]


def _numel(shape) -> int:
    return math.prod(shape)


def _bits(source: str, cfg: Config) -> int:
    return {"weight": cfg.weight_bits, "kv_cache": cfg.kv_bits}.get(source, cfg.act_bits)


def _gemm(rec, cfg: Config, name: str) -> Gemm:
    ins = rec["inputs"]
    if rec["fn"] == "linear":
        x, w = ins[0], ins[1]
        m, k, n = _numel(x["shape"][:-1]), w["shape"][1], w["shape"][0]
        count, b = 1, w
        params = sum(_numel(t["shape"]) for t in ins[1:] if t["source"] == "weight")
    elif rec["fn"] in ("addmm", "baddbmm"):  # bias + x @ W (GPT-2's Conv1D)
        bias, x, b = ins[0], ins[1], ins[2]
        k, n = x["shape"][-1], b["shape"][-1]
        if rec["fn"] == "baddbmm":
            m, count = x["shape"][-2], _numel(x["shape"][:-2])
        else:
            m, count = _numel(x["shape"][:-1]), 1
        params = sum(_numel(t["shape"]) for t in (bias, b) if t["source"] == "weight")
    else:  # matmul / bmm: batched A[..., m, k] @ B[..., k, n]
        a, b = ins[0], ins[1]
        if len(b["shape"]) == 1:
            m, k, n, count = _numel(a["shape"][:-1]), a["shape"][-1], 1, 1
        else:
            lead = a["shape"][:-2] if len(a["shape"]) >= len(b["shape"]) else b["shape"][:-2]
            m, k, n = (a["shape"][-2] if len(a["shape"]) > 1 else 1), a["shape"][-1], b["shape"][-1]
            count = _numel(lead)
        params = _numel(b["shape"]) if b["source"] == "weight" else 0
    source = "weight" if b["source"] == "weight" else "kv"
    return Gemm(name, rec["layer"], rec["role"], m=m, n=n, k=k, count=count,
                a_bits=cfg.act_bits, b_bits=_bits(b["source"], cfg), c_bits=cfg.act_bits,
                b_source=source, param_elems=params if source == "weight" else 0)


def _attention(rec, cfg: Config) -> list:
    """SDPA as the generator lowers attention: grouped-query heads stacked into M, so each
    stored K/V head is read once."""
    q, k = rec["inputs"][0], rec["inputs"][1]
    batch, heads, q_len, hd = q["shape"]
    n_keys = k["shape"][-2]
    kv_heads = (k.get("stored_shape") or k["shape"])[1]
    if heads % kv_heads:
        kv_heads = k["shape"][1]
    group = heads // kv_heads
    kb, qb = _bits("kv_cache", cfg), cfg.attention_bits
    scores = batch * heads * q_len * n_keys
    return [Gemm("attn_qk", rec["layer"], "attention", m=group * q_len, n=n_keys, k=hd,
                 count=batch * kv_heads, a_bits=qb, b_bits=kb, c_bits=qb, b_source="kv"),
            Elementwise("softmax", rec["layer"], "attention", "softmax", scores,
                        bits=qb, in_elems=scores, out_elems=scores),
            Gemm("attn_pv", rec["layer"], "attention", m=group * q_len, n=hd, k=n_keys,
                 count=batch * kv_heads, a_bits=qb, b_bits=kb, c_bits=qb, b_source="kv")]


def _vector(rec, cfg: Config, name: str) -> Elementwise:
    ins, out = rec["inputs"], rec["outputs"][0]
    out_elems = _numel(out["shape"])
    act_in = sum(_numel(t["shape"]) for t in ins if t["source"] == "activation")
    weight = sum(_numel(t["shape"]) for t in ins if t["source"] == "weight")
    kv_in = sum(_numel(t["shape"]) for t in ins if t["source"] == "kv_cache")
    op = VECTOR_CLASS.get(rec["fn"], "add")
    if rec["role"] == "kv_cache":  # cache append: only the new tokens are written
        new = out_elems - kv_in
        return Elementwise(name, rec["layer"], "kv_cache", "copy", new, bits=cfg.act_bits,
                           in_elems=new, out_elems=0, kv_write_elems=new, kv_bits=cfg.kv_bits)
    read = out_elems if op == "gather" else weight  # an embedding reads only its tokens' rows
    return Elementwise(name, rec["layer"], rec["role"], op, out_elems, bits=cfg.act_bits,
                       in_elems=act_in + kv_in, out_elems=out_elems, param_elems=weight,
                       param_read_elems=read, param_bits=cfg.weight_bits if weight else cfg.act_bits)


# ---- cross-check against the generator ----------------------------------------------------
#: the generator's name for each traced module (HF names differ across model styles)
GENERATOR_NAMES = {"out_proj": "o_proj", "c_fc": "fc1", "mlp.c_proj": "fc2", "attn.c_proj": "o_proj",
                   "c_attn": "qkv"}
QKV = ("q_proj", "k_proj", "v_proj")


def matmul_signature(ops) -> dict:
    """``{(layer, name): (macs, weight bytes, kv bytes)}`` of the GEMM-class ops; q/k/v are
    summed into ``qkv`` so a fused QKV projection (GPT-2's c_attn) compares with three."""
    out: dict = {}
    for op in ops:
        if not isinstance(op, Gemm):
            continue
        name = GENERATOR_NAMES.get(op.name, op.name)
        name = "qkv" if name in QKV else name
        macs, wbytes, kvbytes = out.get((op.layer, name), (0, 0, 0))
        if op.b_source == "kv":
            kvbytes += op.b_bytes
        else:
            wbytes += op.b_bytes
        out[(op.layer, name)] = (macs + op.macs, wbytes, kvbytes)
    return out


def cross_check(trace_workload, generated_workload) -> list[dict]:
    """Every GEMM-class op of either side with its MACs and bytes on both; ``match`` says
    whether they agree exactly."""
    t, g = matmul_signature(trace_workload.ops), matmul_signature(generated_workload.ops)
    rows = []
    for key in sorted(set(t) | set(g)):
        rows.append({"layer": key[0], "op": key[1], "trace": t.get(key), "generator": g.get(key),
                     "match": t.get(key) == g.get(key)})
    return rows
