"""Op-trace extraction from Hugging Face transformers models (needs ``pip install '.[trace]'``).

The model is built from a config alone: on the ``meta`` device (shapes only, no memory, no
weights) for dense models, or with seeded random weights on the CPU when routing depends on
values (mixture-of-experts), so keep those configs small. Nothing is downloaded. One forward
pass runs (a prefill of ``prompt_len`` tokens, or one decode step after ``context_len`` cached
tokens) under a ``TorchFunctionMode`` that records every matmul / linear / bmm / scaled-dot-product
attention and every element-wise op, with shapes, dtypes, the module path it ran in, and where
each input comes from (``weight``, ``kv_cache``, ``activation``). Views and metadata queries are
not ops: they only carry an input's origin forward (so a KV head repeated for GQA still reads
the cache). The format is in :mod:`sim.workloads.traces` and docs/traces.md.
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import torch
from torch.overrides import TorchFunctionMode

from sim.core.errors import WorkloadError
from sim.workloads.traces import FORMAT, FORMAT_VERSION, DTYPE_BITS

#: functions that return a view or metadata: not ops; their output keeps the input's origin
PASS_THROUGH = {
    "__get__", "__getitem__", "view", "reshape", "transpose", "permute", "unsqueeze", "squeeze",
    "expand", "contiguous", "t", "flatten", "unflatten", "split", "chunk", "narrow", "select",
    "detach", "size", "numel", "dim", "_set_grad_enabled", "is_floating_point", "__len__",
    "type_as", "float", "to", "half", "bfloat16", "clone", "__iter__", "__bool__", "__index__",
    "item", "tolist", "dtype", "device", "data_ptr", "is_contiguous", "stride", "__format__",
    "__repr__", "__hash__", "__eq__", "__ne__", "__lt__", "__gt__", "__le__", "__ge__",
    "get_device", "requires_grad_", "new_empty", "empty_like", "zeros_like", "ones_like",
    "arange", "full", "zeros", "ones", "empty", "tensor", "dropout", "one_hot", "nonzero",
    "__contains__",
}
#: casts are ops only when they change the dtype (RMSNorm's fp32 round trip)
CASTS = {"to", "float", "half", "bfloat16", "type_as"}
MATMULS = {"linear", "matmul", "bmm", "mm", "addmm", "baddbmm", "scaled_dot_product_attention",
           "__matmul__"}
#: mixture-of-experts grouped GEMMs: x[rows, k] @ W[experts, k, n] with cumulative row offsets
GROUPED = {"_grouped_mm", "grouped_mm"}
_LAYER = re.compile(r"\.(?:layers|h|blocks|block)\.(\d+)(?:\.|$)")


def role_of(module: str, fn: str, sources: list[str]) -> str:
    """The op's role in the layer, from its module path (HF naming across model styles)."""
    leaf = module.rsplit(".", 1)[-1]
    if fn == "scaled_dot_product_attention" or fn in MATMULS and "kv_cache" in sources:
        return "attention"
    if fn == "cat" and "kv_cache" in sources:
        return "kv_cache"
    if leaf in ("q_proj", "k_proj", "v_proj", "c_attn", "qkv_proj", "query_key_value", "Wqkv"):
        return "qkv"
    if leaf in ("o_proj", "out_proj", "dense") or leaf == "c_proj" and ".attn" in module:
        return "o_proj"
    if leaf in ("gate", "router"):
        return "router"
    if leaf == "lm_head":
        return "lm_head"
    if leaf in ("embed_tokens", "wte", "wpe", "embed_positions"):
        return "embedding"
    if "norm" in leaf or leaf.startswith("ln_"):
        return "norm"
    if leaf == "rotary_emb":
        return "rope"
    if any(s in module for s in ("mlp", "feed_forward", "experts", "fc1", "fc2", "activation_fn")):
        return "ffn"
    if leaf in ("self_attn", "attn", "attention"):
        return "qkv" if fn != "softmax" else "attention"  # RoPE runs in the attention module
    if _LAYER.search(module + ".") and module.rsplit(".", 1)[-1].isdigit():
        return "residual"
    return "other"


class _Recorder(TorchFunctionMode):
    """Records ops; tracks each tensor's origin through views by object identity."""

    def __init__(self, model, cache_tensors, stack):
        super().__init__()
        self.stack = stack
        self.records: list[dict] = []
        self.origin: dict[int, tuple] = {}  # id -> (source, shape of the stored tensor)
        self.keep = []  # hold every tensor seen so ids are not reused
        for p in list(model.parameters()):
            self._tag(p, "weight", tuple(p.shape))
        for t in cache_tensors:
            self._tag(t, "kv_cache", tuple(t.shape))

    def _tag(self, t, source, shape):
        self.origin[id(t)] = (source, shape)
        self.keep.append(t)

    def _describe(self, t) -> dict:
        source, shape = self.origin.get(id(t), ("activation", tuple(t.shape)))
        d = {"shape": list(t.shape), "dtype": _dtype(t.dtype), "source": source}
        if source != "activation" and tuple(shape) != tuple(t.shape):
            d["stored_shape"] = list(shape)
        return d

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        name = getattr(func, "__name__", str(func))
        tensors = [a for a in _flatten(args) + _flatten(list(kwargs.values()))
                   if isinstance(a, torch.Tensor)]
        outs = [o for o in _flatten([out]) if isinstance(o, torch.Tensor)]
        if not outs or not tensors:
            return out
        first = next((self.origin[id(t)] for t in tensors if id(t) in self.origin), None)
        is_cast = name in CASTS and outs[0].dtype != tensors[0].dtype
        if name in PASS_THROUGH and not is_cast:
            if first is not None:
                for o in outs:
                    self._tag(o, *first)
            return out
        inputs = [self._describe(t) for t in tensors]
        sources = [i["source"] for i in inputs]
        if name == "cat" and "kv_cache" in sources:
            for o in outs:
                self._tag(o, "kv_cache", tuple(o.shape))
        elif is_cast and first is not None and first[0] == "weight":
            for o in outs:
                self._tag(o, *first)
        module = self.stack[-1] if self.stack else ""
        match = _LAYER.search(module + ".")
        record = {
            "fn": name, "module": module, "layer": int(match.group(1)) if match else -1,
            "role": role_of(module, name, sources), "inputs": inputs,
            "outputs": [{"shape": list(o.shape), "dtype": _dtype(o.dtype)} for o in outs]}
        if name in GROUPED and len(tensors) >= 3 and tensors[2].device.type != "meta":
            ends = [int(v) for v in tensors[2].tolist()]  # rows routed to each expert
            record["group_rows"] = [b - a for a, b in zip([0] + ends[:-1], ends)]
        self.records.append(record)
        for o in outs:
            self.keep.append(o)
        return out


def _flatten(items) -> list:
    out = []
    for a in items:
        if isinstance(a, (list, tuple)):
            out.extend(_flatten(a))
        else:
            out.append(a)
    return out


def _dtype(dtype) -> str:
    return str(dtype).removeprefix("torch.")


def build_model(model_type: str, config: dict, dtype: str, device: str):
    """A transformers causal LM from a config dict, with no weights loaded from anywhere."""
    from transformers import AutoConfig, AutoModelForCausalLM
    from transformers import CONFIG_MAPPING
    from sim.core.config.schema import did_you_mean
    if model_type not in CONFIG_MAPPING:
        raise WorkloadError(f"--model {model_type}: not a transformers model_type"
                            f"{did_you_mean(model_type, list(CONFIG_MAPPING.keys()))}; e.g. llama, "
                            f"mistral, mixtral, qwen2, opt, gpt2")
    try:
        cfg = AutoConfig.for_model(model_type, **config)
    except (ValueError, TypeError) as exc:
        raise WorkloadError(f"--config: {model_type} does not accept it: {exc}") from None
    cfg._attn_implementation = "sdpa"
    torch.manual_seed(0)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(cfg, dtype=getattr(torch, dtype))
    return model.eval(), cfg


def extract(model_type: str, config: dict, phase: str, batch: int, context_len: int,
            prompt_len: int, dtype: str = "bfloat16", device: str = "meta",
            name: str | None = None) -> tuple[dict, list[dict]]:
    """Run one forward pass and return ``(header, records)``."""
    import transformers
    from transformers import DynamicCache
    from sim.core.version import __version__
    model, cfg = build_model(model_type, config, dtype, device)
    stack: list[str] = []
    for path, module in model.named_modules():
        module.register_forward_pre_hook(lambda m, a, p=path: stack.append(p))
        module.register_forward_hook(lambda m, a, o: stack.pop() and None)
    heads = cfg.num_attention_heads
    kv_heads = getattr(cfg, "num_key_value_heads", None) or heads
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // heads
    cache_tensors, kwargs = [], {}
    torch.manual_seed(1)
    if phase == "decode":
        cache = DynamicCache(config=cfg)
        with torch.device(device):
            for layer in range(cfg.num_hidden_layers):
                k = torch.randn(batch, kv_heads, context_len, head_dim, dtype=getattr(torch, dtype))
                v = torch.randn(batch, kv_heads, context_len, head_dim, dtype=getattr(torch, dtype))
                cache.update(k, v, layer)
        for layer in cache.layers:
            cache_tensors += [layer.keys, layer.values]
        q_len, start = 1, context_len
        kwargs = {"past_key_values": cache, "use_cache": True}
    else:
        q_len, start = prompt_len, 0
        kwargs = {"use_cache": False}
    ids = torch.randint(0, cfg.vocab_size, (batch, q_len), device=device) if device != "meta" \
        else torch.zeros(batch, q_len, dtype=torch.long, device=device)
    positions = torch.arange(start, start + q_len, device=device).expand(batch, q_len)
    if phase == "decode":
        kwargs["position_ids"] = positions
    # prefill: no mask and no positions, so transformers takes the causal path without
    # inspecting values (a meta tensor has none)
    recorder = _Recorder(model, cache_tensors, stack)
    import transformers.masking_utils as masking
    packed = getattr(masking, "find_packed_sequence_indices", None)
    if packed is not None:  # it reads position values; our sequences are never packed
        masking.find_packed_sequence_indices = lambda position_ids: None
    try:
        with torch.no_grad(), recorder:
            model(input_ids=ids, **kwargs)
    finally:
        if packed is not None:
            masking.find_packed_sequence_indices = packed
    header = {"format": FORMAT, "version": FORMAT_VERSION, "name": name,
              "model_type": model_type, "config": config, "phase": phase, "batch": batch,
              "prompt_len": prompt_len if phase == "prefill" else None,
              "context_len": context_len if phase == "decode" else None, "dtype": dtype,
              "device": device, "ops": len(recorder.records),
              "libraries": {"torch": torch.__version__, "transformers": transformers.__version__,
                            "accelsim": __version__}}
    return header, recorder.records


def write_trace(path: str | Path, header: dict, records: list[dict]) -> None:
    """Header line, then one op per line (compact JSON); ``.gz`` compresses. Deterministic:
    the same extraction gives the same bytes (gzip without a timestamp)."""
    lines = [json.dumps(header, sort_keys=True, separators=(",", ":"))]
    lines += [json.dumps(rec, separators=(",", ":")) for rec in records]
    data = ("\n".join(lines) + "\n").encode("utf-8")
    if str(path).endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    Path(path).write_bytes(data)


def extract_to_file(model_type: str, config_file: str, phase: str, batch: int, context_len: int,
                    prompt_len: int, out: str, dtype: str = "bfloat16",
                    device: str | None = None) -> dict:
    """The ``simulate trace-extract`` command's work; returns the header."""
    try:
        config = json.loads(Path(config_file).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise WorkloadError(f"--config {config_file}: cannot read a JSON config ({exc})") from None
    config = {k: v for k, v in config.items() if k not in ("model_type", "architectures",
                                                          "_name_or_path", "transformers_version")}
    if dtype not in DTYPE_BITS:
        raise WorkloadError(f"--dtype {dtype}: allowed: {', '.join(DTYPE_BITS)}")
    moe = any(k in config for k in ("num_local_experts", "num_experts", "n_routed_experts"))
    device = device or ("cpu" if moe else "meta")
    header, records = extract(model_type, config, phase, batch, context_len, prompt_len, dtype,
                              device, name=Path(out).name.split(".")[0])
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    write_trace(out, header, records)
    return header
