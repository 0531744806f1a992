"""Measure GEMM / GEMV, attention, element-wise kernels and a LLaMA-7B decode step on a real GPU.

Never runs in CI (it needs a CUDA GPU and PyTorch). Writes one JSON file with the date, device,
driver and library versions beside every figure; the simulator's GPU validation
(:mod:`sim.families.gpu.validation`, ``docs/gpu/calibrate.py``) reads it.

    python docs/gpu/measure_gpu.py --out sim/families/gpu/data/measured/h100_sxm.json

Method: CUDA events around a CUDA graph of ``--reps`` back-to-back launches, after warm-up;
the figure is the median over ``--runs`` replays divided by ``--reps``. Weights rotate through
enough copies that their bytes exceed 4x the L2, so every launch streams its weights from HBM as
in a real decode step. The decode step is one LLaMA-7B forward pass for one token (batch 1,
random BF16 weights, a static KV cache), captured whole in one CUDA graph.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import platform
import subprocess
import statistics

import torch
import torch.nn.functional as F

HIDDEN, INTER, VOCAB, LAYERS, HEADS, HEAD_DIM = 4096, 11008, 32000, 32, 32, 128
#: LLaMA-7B linear shapes (K, N): fused and separate projections
SHAPES = {"qkv": (4096, 12288), "o": (4096, 4096), "gate_up": (4096, 22016),
          "gate": (4096, 11008), "down": (11008, 4096), "lm_head": (4096, 32000)}
MS = (1, 8, 32, 128, 512, 2048)


def smi(query: str) -> str:
    try:
        return subprocess.run(["nvidia-smi", f"--query-gpu={query}", "--format=csv,noheader"],
                              capture_output=True, text=True, timeout=30).stdout.strip()
    except Exception as exc:  # noqa: BLE001 - recorded, not fatal
        return f"unavailable: {exc}"


def capture_graph(make_launch, reps: int):
    """A CUDA graph of ``make_launch(i)`` for i < ``reps``, captured after three warm-up launches
    on a side stream."""
    launches = [make_launch(i) for i in range(reps)]
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for f in launches[:3]:
            f()
    torch.cuda.current_stream().wait_stream(s)
    torch.cuda.synchronize()
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        for f in launches:
            f()
    return g


def timed_graph(make_launch, reps: int, runs: int) -> float:
    """Median seconds per launch of ``make_launch(i)`` (i-th launch of a graph of ``reps``)."""
    g = capture_graph(make_launch, reps)
    for _ in range(3):
        g.replay()
    torch.cuda.synchronize()
    times = []
    for _ in range(runs):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        g.replay()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b) / 1e3 / reps)
    return statistics.median(times)


def copies_for(nbytes: int, l2: int) -> int:
    return max(2, math.ceil(4 * l2 / max(nbytes, 1)))


def gemm_launches(m: int, k: int, n: int, dtype: str, l2: int):
    """``(make, m_run)``: ``make(i)`` is the i-th launch of an M x K x N GEMM whose weights rotate
    through copies totalling >= 4x the L2; ``m_run`` the M it runs at (FP8 pads M to 16)."""
    dev = "cuda"
    m_run = m
    if dtype == "bf16":
        nw = copies_for(k * n * 2, l2)
        ws = [torch.randn(n, k, device=dev, dtype=torch.bfloat16) for _ in range(nw)]
        x = torch.randn(m, k, device=dev, dtype=torch.bfloat16)
        outs = [torch.empty(m, n, device=dev, dtype=torch.bfloat16) for _ in range(nw)]

        def make(i):
            w, o = ws[i % nw], outs[i % nw]
            return lambda: torch.matmul(x, w.t(), out=o)
    else:  # fp8 e4m3 through cuBLASLt (torch._scaled_mm): M must be a multiple of 16
        m_run = max(16, -(-m // 16) * 16)
        nw = copies_for(k * n, l2)
        ws = [torch.randn(n, k, device=dev).to(torch.float8_e4m3fn) for _ in range(nw)]
        x = torch.randn(m_run, k, device=dev).to(torch.float8_e4m3fn)
        one = torch.ones((), device=dev)

        def make(i):
            w = ws[i % nw]
            return lambda: torch._scaled_mm(x, w.t(), scale_a=one, scale_b=one,
                                            out_dtype=torch.bfloat16)
    return make, m_run


def gemm_case(m: int, k: int, n: int, dtype: str, l2: int, reps: int, runs: int) -> dict:
    make, m_run = gemm_launches(m, k, n, dtype, l2)
    t = timed_graph(make, reps, runs)
    torch.cuda.empty_cache()
    return {"m": m, "m_run": m_run, "k": k, "n": n, "dtype": dtype, "seconds": t,
            "tflops": 2 * m_run * k * n / t / 1e12}


def copy_bandwidth(reps: int, runs: int) -> dict:
    nbytes = 1 << 30
    a = torch.empty(nbytes, dtype=torch.uint8, device="cuda")
    b = torch.empty_like(a)
    t = timed_graph(lambda i: (lambda: b.copy_(a)), reps, runs)
    return {"bytes_read_plus_written": 2 * nbytes, "seconds": t, "gb_per_s": 2 * nbytes / t / 1e9}


def decode_attention_case(kv_len: int, l2: int, reps: int, runs: int) -> dict:
    nbytes = 2 * HEADS * kv_len * HEAD_DIM * 2
    nc = copies_for(nbytes, l2)
    q = torch.randn(1, HEADS, 1, HEAD_DIM, device="cuda", dtype=torch.bfloat16)
    kv = [(torch.randn(1, HEADS, kv_len, HEAD_DIM, device="cuda", dtype=torch.bfloat16),
           torch.randn(1, HEADS, kv_len, HEAD_DIM, device="cuda", dtype=torch.bfloat16))
          for _ in range(nc)]

    def make(i):
        k, v = kv[i % nc]
        return lambda: F.scaled_dot_product_attention(q, k, v)
    t = timed_graph(make, reps, runs)
    return {"batch": 1, "heads": HEADS, "head_dim": HEAD_DIM, "q_len": 1, "kv_len": kv_len,
            "seconds": t}


def prefill_attention_case(seq: int, reps: int, runs: int) -> dict:
    q, k, v = (torch.randn(1, HEADS, seq, HEAD_DIM, device="cuda", dtype=torch.bfloat16)
               for _ in range(3))
    t = timed_graph(lambda i: (lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True)),
                    reps, runs)
    return {"batch": 1, "heads": HEADS, "head_dim": HEAD_DIM, "q_len": seq, "kv_len": seq,
            "causal": True, "seconds": t}


def rms_norm(x, w):
    return F.rms_norm(x, (x.shape[-1],), w, 1e-5)


def rope(x, cos, sin):
    x1, x2 = x[..., : HEAD_DIM // 2], x[..., HEAD_DIM // 2:]
    return x * cos + torch.cat((-x2, x1), dim=-1) * sin


def rope_append(q, k, v, cos, sin, k_slot, v_slot):
    """RoPE on q and k and the KV-cache append, as one fused kernel (the op graph's rope and
    kv_append)."""
    k_slot.copy_(rope(k, cos, sin))
    v_slot.copy_(v)
    return rope(q, cos, sin)


def silu_mul(g, u):
    return F.silu(g) * u


def elementwise_cases(reps: int, runs: int, fused) -> list[dict]:
    """Small element-wise kernels as a decode step runs them (one fused kernel each)."""
    out = []
    x = torch.randn(1, HIDDEN, device="cuda", dtype=torch.bfloat16)
    w = torch.randn(HIDDEN, device="cuda", dtype=torch.bfloat16)
    g = torch.randn(1, INTER, device="cuda", dtype=torch.bfloat16)
    u = torch.randn(1, INTER, device="cuda", dtype=torch.bfloat16)
    big = torch.randn(64, INTER * 16, device="cuda", dtype=torch.bfloat16)
    bigu = torch.randn_like(big)
    for name, fn, args, elems in (("rmsnorm", fused["rms_norm"], (x, w), HIDDEN),
                                  ("add", torch.add, (x, x), HIDDEN),
                                  ("silu_mul", fused["silu_mul"], (g, u), INTER),
                                  ("silu_mul_large", fused["silu_mul"], (big, bigu),
                                   big.numel())):
        t = timed_graph(lambda i, fn=fn, args=args: (lambda: fn(*args)), reps, runs)
        out.append({"op": name, "elements": elems, "seconds": t})
    return out


def layer_weights(scale: float = 0.02) -> dict:
    """One LLaMA-7B decoder layer's random BF16 weights on the GPU (Hugging Face's layout:
    separate q/k/v and gate/up projections), norms at one."""
    d = dict(device="cuda", dtype=torch.bfloat16)
    return {"attn_norm": torch.ones(HIDDEN, **d), "ffn_norm": torch.ones(HIDDEN, **d),
            "q": torch.randn(HIDDEN, HIDDEN, **d) * scale,
            "k": torch.randn(HIDDEN, HIDDEN, **d) * scale,
            "v": torch.randn(HIDDEN, HIDDEN, **d) * scale,
            "o": torch.randn(HIDDEN, HIDDEN, **d) * scale,
            "gate": torch.randn(INTER, HIDDEN, **d) * scale,
            "up": torch.randn(INTER, HIDDEN, **d) * scale,
            "down": torch.randn(HIDDEN, INTER, **d) * scale}


class Llama7B:
    """LLaMA-7B (separate q/k/v and gate/up projections, as Hugging Face's) for one decode
    step of batch 1 with a static KV cache of ``context`` tokens; random BF16 weights."""

    def __init__(self, context: int, fused):
        d = dict(device="cuda", dtype=torch.bfloat16)
        s = 0.02
        self.f = fused
        self.embed = torch.randn(VOCAB, HIDDEN, **d) * s
        self.layers = []
        for _ in range(LAYERS):
            self.layers.append({
                **layer_weights(),
                "k_cache": torch.randn(1, HEADS, context + 1, HEAD_DIM, **d),
                "v_cache": torch.randn(1, HEADS, context + 1, HEAD_DIM, **d)})
        self.norm = torch.ones(HIDDEN, **d)
        self.lm_head = torch.randn(VOCAB, HIDDEN, **d) * s
        self.pos = context
        ang = torch.arange(HEAD_DIM // 2, device="cuda") / (HEAD_DIM // 2)
        theta = context * (10000.0 ** -ang)
        self.cos = torch.cat([theta.cos(), theta.cos()]).to(torch.bfloat16)
        self.sin = torch.cat([theta.sin(), theta.sin()]).to(torch.bfloat16)
        self.token = torch.zeros(1, dtype=torch.long, device="cuda")
        self.logits = None

    def step(self):
        f = self.f
        h = self.embed[self.token]  # [1, HIDDEN]
        for L in self.layers:
            x = f["rms_norm"](h, L["attn_norm"])
            q = (x @ L["q"].t()).view(1, 1, HEADS, HEAD_DIM).transpose(1, 2)
            k = (x @ L["k"].t()).view(1, 1, HEADS, HEAD_DIM).transpose(1, 2)
            v = (x @ L["v"].t()).view(1, 1, HEADS, HEAD_DIM).transpose(1, 2)
            if "rope_append" in f:
                q = f["rope_append"](q, k, v, self.cos, self.sin,
                                     L["k_cache"][:, :, self.pos:self.pos + 1],
                                     L["v_cache"][:, :, self.pos:self.pos + 1])
            else:
                q, k = f["rope"](q, self.cos, self.sin), f["rope"](k, self.cos, self.sin)
                L["k_cache"][:, :, self.pos:self.pos + 1].copy_(k)
                L["v_cache"][:, :, self.pos:self.pos + 1].copy_(v)
            a = F.scaled_dot_product_attention(q, L["k_cache"], L["v_cache"])
            h = h + a.transpose(1, 2).reshape(1, HIDDEN) @ L["o"].t()
            x = f["rms_norm"](h, L["ffn_norm"])
            x = f["silu_mul"](x @ L["gate"].t(), x @ L["up"].t())
            h = h + x @ L["down"].t()
        self.logits = f["rms_norm"](h, self.norm) @ self.lm_head.t()


def count_kernels(fn) -> tuple[int, dict]:
    """CUDA kernels one call of ``fn`` launches and their names with counts (-1 where the
    profiler fails)."""
    try:
        from collections import Counter
        from torch.profiler import ProfilerActivity, profile
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            fn()
            torch.cuda.synchronize()
        names = Counter(e.name[:90] for e in prof.events() if str(e.device_type).endswith("CUDA")
                        and "memcpy" not in e.name.lower() and "memset" not in e.name.lower())
        return sum(names.values()), dict(names.most_common())
    except Exception as exc:  # noqa: BLE001 - recorded, not fatal
        print("kernel count failed:", exc, flush=True)
        return -1, {}


def cublas_version() -> str:
    from importlib import metadata
    found = [f"{d.metadata['Name']} {d.version}" for d in metadata.distributions()
             if (d.metadata["Name"] or "").lower().startswith("nvidia-cublas")]
    return ", ".join(found) or "bundled with torch"


def decode_step(context: int, runs: int, fused, variant: str) -> dict:
    model = Llama7B(context, fused if variant == "fused" else
                    {k: v for k, v in fused.items() if k != "rope_append"})
    for _ in range(3):
        model.step()
    torch.cuda.synchronize()
    kernels, names = count_kernels(model.step)
    eager = []
    for _ in range(10):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        model.step()
        b.record()
        b.synchronize()
        eager.append(a.elapsed_time(b) / 1e3)
    t = timed_graph(lambda i: model.step, 1, runs)
    weights = sum(w.numel() * 2 for L in model.layers for n, w in L.items() if "cache" not in n)
    weights += (model.lm_head.numel() + model.norm.numel()) * 2
    return {"model": "llama7b", "batch": 1, "context_len": context, "dtype": "bf16",
            "variant": variant, "seconds": t, "eager_seconds": statistics.median(eager),
            "kernels": kernels, "kernel_names": names, "weight_bytes": weights}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--reps", type=int, default=20, help="launches per graph")
    ap.add_argument("--runs", type=int, default=30, help="graph replays (median taken)")
    ap.add_argument("--context", type=int, default=512, help="decode-step context length")
    args = ap.parse_args()
    torch.backends.cuda.matmul.allow_bf16_reduced_precision_reduction = True
    prop = torch.cuda.get_device_properties(0)
    l2 = getattr(prop, "L2_cache_size", 50 * 2**20)
    fused = {name: torch.compile(fn, dynamic=False) for name, fn in
             (("rms_norm", rms_norm), ("rope", rope), ("silu_mul", silu_mul),
              ("rope_append", rope_append))}
    meta = {
        "date": datetime.date.today().isoformat(),
        "device": torch.cuda.get_device_name(0), "sms": prop.multi_processor_count,
        "l2_bytes": l2, "memory_bytes": prop.total_memory,
        "driver": smi("driver_version"), "clocks_sm_max_mhz": smi("clocks.max.sm"),
        "clocks_sm_mhz_before": smi("clocks.sm"), "power_limit": smi("power.limit"),
        "torch": torch.__version__, "cuda": torch.version.cuda,
        "cublas": cublas_version(),
        "python": platform.python_version(),
        "method": f"CUDA graph of {args.reps} launches, median of {args.runs} replays / reps; "
                  f"weights rotate through copies totalling >= 4x L2",
    }
    result = {"meta": meta, "gemm": [], "attention_decode": [], "attention_prefill": []}
    result["copy"] = copy_bandwidth(args.reps, args.runs)
    for dtype in ("bf16", "fp8"):
        for name, (k, n) in SHAPES.items():
            for m in MS:
                r = gemm_case(m, k, n, dtype, l2, args.reps, args.runs)
                r["shape"] = name
                result["gemm"].append(r)
                print(f"{dtype} {name:8} M={m:5} {r['seconds'] * 1e6:9.1f} us "
                      f"{r['tflops']:7.1f} TFLOP/s", flush=True)
    for dtype in ("bf16", "fp8"):
        r = gemm_case(8192, 8192, 8192, dtype, l2, 5, 10)
        r["shape"] = "peak"
        result["gemm"].append(r)
        print("peak", dtype, r["tflops"], flush=True)
    for kv in (128, 512, 2048, 8192):
        result["attention_decode"].append(decode_attention_case(kv, l2, args.reps, args.runs))
    for seq in (512, 2048, 4096):
        result["attention_prefill"].append(prefill_attention_case(seq, 5, args.runs))
    result["elementwise"] = elementwise_cases(args.reps, args.runs, fused)
    print(result["attention_decode"], result["attention_prefill"], result["elementwise"],
          flush=True)
    result["decode_step"] = []
    for variant in ("fused", "separate"):
        for c in (args.context, 2048):
            result["decode_step"].append(decode_step(c, args.runs, fused, variant))
            torch.cuda.empty_cache()
    for r in result["decode_step"]:
        print({k: v for k, v in r.items() if k != "kernel_names"}, flush=True)
    print(result["decode_step"][0]["kernel_names"], flush=True)
    meta["clocks_sm_mhz_after"] = smi("clocks.sm")
    with open(args.out, "w") as fh:
        json.dump(result, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
