"""Measure energy and time of kernels and whole LLaMA steps on a real GPU (NVML energy counter).

Never runs in CI (it needs a CUDA GPU, PyTorch and the NVIDIA driver). Writes one JSON file with
the date, device, driver, library versions, power limit and idle power beside every figure; the
GPU energy calibration (``docs/gpu/calibrate_energy.py``) reads it.

    python docs/gpu/measure_energy.py --out sim/families/gpu/data/measured/h200_energy.json

Method: each case is a CUDA graph (``--reps`` launches of a kernel, weights rotating through
copies totalling >= 4x the L2, as docs/gpu/measure_gpu.py; or one whole model step), replayed
back to back for at least ``--seconds`` after warm-up. Energy is the difference of
``nvmlDeviceGetTotalEnergyConsumption`` (mJ, the board's counter) over that window, divided by
the launches; time is CUDA events around the same window. The board's idle power is measured
before and after, GPU clocks are left as the driver sets them, and the SM clock and temperature
at the end of each window are recorded (a case near the power limit shows a lower clock).
"""

from __future__ import annotations

import argparse
import ctypes
import datetime
import json
import math
import os
import platform
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import measure_gpu as M  # noqa: E402  (the kernels' set-up is shared with the timing script)

#: model shapes (hidden, ffn, vocab, layers, heads, kv_heads, head_dim), from the HF configs
MODELS = {"llama7b": (4096, 11008, 32000, 32, 32, 32, 128),
          "llama3_8b": (4096, 14336, 128256, 32, 32, 8, 128)}
GEMM_SHAPES = {"qkv": (4096, 12288), "down": (11008, 4096), "gate_up": (4096, 22016)}
GEMM_MS = (1, 16, 128, 512, 2048)


class Nvml:
    """The few NVML calls needed, through ctypes (no Python binding required)."""

    def __init__(self):
        self.lib = ctypes.CDLL("libnvidia-ml.so.1")
        self._check(self.lib.nvmlInit_v2())
        self.h = ctypes.c_void_p()
        self._check(self.lib.nvmlDeviceGetHandleByIndex_v2(0, ctypes.byref(self.h)))

    @staticmethod
    def _check(rc):
        if rc != 0:
            raise RuntimeError(f"NVML error {rc}")

    def _uint(self, fn, *args) -> int:
        v = ctypes.c_uint()
        self._check(fn(self.h, *args, ctypes.byref(v)))
        return v.value

    def energy_j(self) -> float:
        v = ctypes.c_ulonglong()
        self._check(self.lib.nvmlDeviceGetTotalEnergyConsumption(self.h, ctypes.byref(v)))
        return v.value / 1e3

    def power_w(self) -> float:
        return self._uint(self.lib.nvmlDeviceGetPowerUsage) / 1e3

    def sm_clock_mhz(self) -> int:
        return self._uint(self.lib.nvmlDeviceGetClockInfo, 1)  # NVML_CLOCK_SM

    def mem_clock_mhz(self) -> int:
        return self._uint(self.lib.nvmlDeviceGetClockInfo, 2)  # NVML_CLOCK_MEM

    def power_limit_w(self) -> float:
        return self._uint(self.lib.nvmlDeviceGetEnforcedPowerLimit) / 1e3

    def temperature_c(self) -> int:
        return self._uint(self.lib.nvmlDeviceGetTemperature, 0)  # NVML_TEMPERATURE_GPU


NVML: Nvml | None = None


def idle(seconds: float, settle: float = 3.0) -> dict:
    """Board power with nothing running, after ``settle`` seconds of rest."""
    torch.cuda.synchronize()
    time.sleep(settle)
    e0, t0 = NVML.energy_j(), time.perf_counter()
    time.sleep(seconds)
    e1, t1 = NVML.energy_j(), time.perf_counter()
    return {"seconds": t1 - t0, "joules": e1 - e0, "watts": (e1 - e0) / (t1 - t0),
            "sm_clock_mhz": NVML.sm_clock_mhz(), "temperature_c": NVML.temperature_c()}


def measure(make_launch, reps: int, min_seconds: float) -> dict:
    """Seconds and joules per launch of a CUDA graph of ``reps`` launches replayed back to back
    for >= ``min_seconds``."""
    g = M.capture_graph(make_launch, reps)
    a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    a.record()
    for _ in range(3):
        g.replay()
    b.record()
    b.synchronize()
    per_replay = max(a.elapsed_time(b) / 3e3, 1e-6)
    # warm the board for a second so that the window sees steady clocks and power
    for _ in range(max(1, int(1.0 / per_replay))):
        g.replay()
    n = max(3, math.ceil(min_seconds / per_replay))
    torch.cuda.synchronize()
    e0 = NVML.energy_j()
    a.record()
    for _ in range(n):
        g.replay()
    b.record()
    b.synchronize()
    e1 = NVML.energy_j()
    seconds = a.elapsed_time(b) / 1e3
    out = {"seconds": seconds / (n * reps), "joules": (e1 - e0) / (n * reps),
           "window_seconds": seconds, "launches": n * reps, "watts": (e1 - e0) / seconds,
           "sm_clock_mhz": NVML.sm_clock_mhz(), "temperature_c": NVML.temperature_c()}
    del g
    return out


# ---- kernels -------------------------------------------------------------------------------

def kernel_cases(out: list, l2: int, reps: int, seconds: float, save) -> None:
    """Append each kernel case to ``out`` as it is measured (``save`` writes the file)."""

    def record(case, make, reps_=reps):
        r = measure(make, reps_, seconds)
        case.update(r)
        out.append(case)
        print(f"{case['kind']:18} {json.dumps({k: v for k, v in case.items() if k not in r})} "
              f"{r['seconds'] * 1e6:10.1f} us {r['joules'] * 1e3:9.3f} mJ {r['watts']:6.0f} W "
              f"{r['sm_clock_mhz']} MHz", flush=True)
        save()

    for dtype in ("bf16", "fp8"):
        for shape, (k, n) in GEMM_SHAPES.items():
            for m in GEMM_MS:
                make, m_run = M.gemm_launches(m, k, n, dtype, l2)
                record({"kind": "gemm", "shape": shape, "m": m, "m_run": m_run, "k": k, "n": n,
                        "dtype": dtype}, make)
                torch.cuda.empty_cache()
        make, m_run = M.gemm_launches(8192, 8192, 8192, dtype, l2)
        record({"kind": "gemm", "shape": "peak", "m": 8192, "m_run": 8192, "k": 8192,
                "n": 8192, "dtype": dtype}, make, 5)
        torch.cuda.empty_cache()
    for batch, heads, kv_heads, kv_len in ((1, 32, 32, 512), (1, 32, 32, 8192), (32, 32, 32, 512),
                                           (32, 32, 8, 2048), (128, 32, 8, 512)):
        nbytes = 2 * batch * kv_heads * kv_len * 128 * 2
        nc = M.copies_for(nbytes, l2)
        q = torch.randn(batch, heads, 1, 128, device="cuda", dtype=torch.bfloat16)
        kv = [(torch.randn(batch, kv_heads, kv_len, 128, device="cuda", dtype=torch.bfloat16),
               torch.randn(batch, kv_heads, kv_len, 128, device="cuda", dtype=torch.bfloat16))
              for _ in range(nc)]

        def make(i, kv=kv, q=q, gqa=kv_heads != heads):
            k, v = kv[i % nc]
            return lambda: F.scaled_dot_product_attention(q, k, v, enable_gqa=gqa)
        record({"kind": "attention_decode", "batch": batch, "heads": heads,
                "kv_heads": kv_heads, "head_dim": 128, "kv_len": kv_len}, make)
        del kv
        torch.cuda.empty_cache()
    for seq in (512, 2048, 8192):
        q, k, v = (torch.randn(1, 32, seq, 128, device="cuda", dtype=torch.bfloat16)
                   for _ in range(3))
        record({"kind": "attention_prefill", "batch": 1, "heads": 32, "kv_heads": 32,
                "head_dim": 128, "q_len": seq, "kv_len": seq, "causal": True},
               lambda i, q=q, k=k, v=v: (lambda: F.scaled_dot_product_attention(
                   q, k, v, is_causal=True)), 5)
    fused = {"rms_norm": torch.compile(M.rms_norm, dynamic=True),
             "silu_mul": torch.compile(M.silu_mul, dynamic=True)}
    x = torch.randn(8192, 4096, device="cuda", dtype=torch.bfloat16)
    w = torch.randn(4096, device="cuda", dtype=torch.bfloat16)
    g = torch.randn(2048, 14336, device="cuda", dtype=torch.bfloat16)
    u = torch.randn_like(g)
    for op, fn, args, elems in (("rmsnorm", fused["rms_norm"], (x, w), x.numel()),
                                ("add", torch.add, (x, x), x.numel()),
                                ("silu_mul", fused["silu_mul"], (g, u), g.numel())):
        record({"kind": "elementwise", "op": op, "elements": elems, "dtype": "bf16"},
               lambda i, fn=fn, args=args: (lambda: fn(*args)))
    nbytes = 1 << 30
    a = torch.empty(nbytes, dtype=torch.uint8, device="cuda")
    b = torch.empty_like(a)
    record({"kind": "copy", "bytes_read_plus_written": 2 * nbytes},
           lambda i: (lambda: b.copy_(a)))


# ---- whole steps ---------------------------------------------------------------------------

class Llama:
    """A LLaMA-style decoder (separate q/k/v and gate/up projections, as Hugging Face's) with a
    static KV cache: ``decode`` runs one token for each of ``batch`` sequences with ``context``
    tokens cached; ``prefill`` runs ``tokens`` prompt tokens of one sequence (causal attention,
    KV written to the cache, the LM head on the last token). Random BF16 weights."""

    def __init__(self, model: str, batch: int, context: int, tokens: int, fused):
        hid, ffn, vocab, layers, heads, kv_heads, hd = MODELS[model]
        self.shape = (hid, ffn, vocab, heads, kv_heads, hd)
        d = dict(device="cuda", dtype=torch.bfloat16)
        s = 0.02
        self.f, self.batch, self.tokens = fused, batch, tokens
        self.embed = torch.randn(vocab, hid, **d) * s
        kv_len = context + tokens
        self.layers = [{
            "attn_norm": torch.ones(hid, **d), "ffn_norm": torch.ones(hid, **d),
            "q": torch.randn(heads * hd, hid, **d) * s,
            "k": torch.randn(kv_heads * hd, hid, **d) * s,
            "v": torch.randn(kv_heads * hd, hid, **d) * s,
            "o": torch.randn(hid, heads * hd, **d) * s,
            "gate": torch.randn(ffn, hid, **d) * s, "up": torch.randn(ffn, hid, **d) * s,
            "down": torch.randn(hid, ffn, **d) * s,
            "k_cache": torch.randn(batch, kv_heads, kv_len, hd, **d),
            "v_cache": torch.randn(batch, kv_heads, kv_len, hd, **d)} for _ in range(layers)]
        self.norm = torch.ones(hid, **d)
        self.lm_head = torch.randn(vocab, hid, **d) * s
        self.pos = context
        ang = torch.arange(hd // 2, device="cuda") / (hd // 2)
        pos = torch.arange(context, context + tokens, device="cuda")[:, None]
        theta = pos * (10000.0 ** -ang)[None, :]
        self.cos = torch.cat([theta.cos(), theta.cos()], -1).to(torch.bfloat16)
        self.sin = torch.cat([theta.sin(), theta.sin()], -1).to(torch.bfloat16)
        self.token = torch.zeros(batch, tokens, dtype=torch.long, device="cuda")

    def step(self):
        f = self.f
        hid, ffn, vocab, heads, kv_heads, hd = self.shape
        b, t, p = self.batch, self.tokens, self.pos
        h = self.embed[self.token]  # [b, t, hid]
        for L in self.layers:
            x = f["rms_norm"](h, L["attn_norm"])
            q = (x @ L["q"].t()).view(b, t, heads, hd).transpose(1, 2)
            k = (x @ L["k"].t()).view(b, t, kv_heads, hd).transpose(1, 2)
            v = (x @ L["v"].t()).view(b, t, kv_heads, hd).transpose(1, 2)
            q = f["rope_append"](q, k, v, self.cos, self.sin, L["k_cache"][:, :, p:p + t],
                                 L["v_cache"][:, :, p:p + t])
            if t == 1:
                a = F.scaled_dot_product_attention(q, L["k_cache"], L["v_cache"],
                                                   enable_gqa=kv_heads != heads)
            else:  # prefill: the prompt attends to itself, causally
                a = F.scaled_dot_product_attention(q, L["k_cache"][:, :, p:p + t],
                                                   L["v_cache"][:, :, p:p + t], is_causal=True,
                                                   enable_gqa=kv_heads != heads)
            h = h + a.transpose(1, 2).reshape(b, t, heads * hd) @ L["o"].t()
            x = f["rms_norm"](h, L["ffn_norm"])
            x = f["silu_mul"](x @ L["gate"].t(), x @ L["up"].t())
            h = h + x @ L["down"].t()
        self.logits = f["rms_norm"](h[:, -1:], self.norm) @ self.lm_head.t()

    def weight_bytes(self) -> int:
        n = sum(w.numel() for L in self.layers for k, w in L.items() if "cache" not in k)
        return 2 * (n + self.lm_head.numel() + self.norm.numel())


def step_cases(out: list, seconds: float, save) -> None:
    """Append each whole-step case to ``out`` as it is measured."""
    fused = {name: torch.compile(fn, dynamic=True) for name, fn in
             (("rms_norm", M.rms_norm), ("silu_mul", M.silu_mul), ("rope_append", M.rope_append))}
    cases = ([("llama7b", "decode", b, 512, 1) for b in (1, 8, 32, 64, 128, 256)]
             + [("llama7b", "decode", 1, 2048, 1)]
             + [("llama3_8b", "decode", b, 512, 1) for b in (1, 16, 64, 256)]
             + [("llama3_8b", "decode", 32, 2048, 1)]
             + [(m, "prefill", 1, 0, t) for m in ("llama7b", "llama3_8b")
                for t in (512, 2048, 8192)])
    for model, phase, batch, context, tokens in cases:
        try:
            net = Llama(model, batch, context, tokens, fused)
            for _ in range(2):
                net.step()
            torch.cuda.synchronize()
            kernels, names = M.count_kernels(net.step)
            r = measure(lambda i: net.step, 1, seconds)
            case = {"kind": "step", "model": model, "phase": phase, "batch": batch,
                    "context_len": context, "prompt_len": tokens if phase == "prefill" else 0,
                    "dtype": "bf16", "kernels": kernels, "weight_bytes": net.weight_bytes(),
                    "top_kernels": dict(list(names.items())[:12]), **r}
        except torch.cuda.OutOfMemoryError as exc:
            case = {"kind": "step", "model": model, "phase": phase, "batch": batch,
                    "context_len": context, "error": str(exc)[:200]}
        out.append(case)
        print(f"step {model} {phase} b{batch} c{context} t{tokens}: "
              f"{case.get('seconds', 0) * 1e3:8.2f} ms {case.get('joules', 0):8.3f} J "
              f"{case.get('watts', 0):6.0f} W {case.get('sm_clock_mhz')} MHz", flush=True)
        save()
        net = None
        torch.cuda.empty_cache()


def main() -> int:
    global NVML
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--reps", type=int, default=20, help="launches per kernel graph")
    ap.add_argument("--seconds", type=float, default=2.5, help="measured window per case (s)")
    ap.add_argument("--only", choices=("kernels", "steps"), default=None)
    args = ap.parse_args()
    NVML = Nvml()
    torch._dynamo.config.cache_size_limit = 64
    torch.backends.cuda.matmul.allow_bf16_reduced_precision_reduction = True
    prop = torch.cuda.get_device_properties(0)
    l2 = getattr(prop, "L2_cache_size", 50 * 2**20)
    meta = {
        "date": datetime.date.today().isoformat(),
        "device": torch.cuda.get_device_name(0), "sms": prop.multi_processor_count,
        "l2_bytes": l2, "memory_bytes": prop.total_memory,
        "driver": M.smi("driver_version"), "clocks_sm_max_mhz": M.smi("clocks.max.sm"),
        "clocks_mem_mhz": NVML.mem_clock_mhz(), "power_limit_w": NVML.power_limit_w(),
        "torch": torch.__version__, "cuda": torch.version.cuda, "cublas": M.cublas_version(),
        "python": platform.python_version(),
        "method": f"NVML total-energy counter over >= {args.seconds} s of back-to-back CUDA "
                  f"graph replays ({args.reps} launches per kernel graph, one step per step "
                  f"graph), after 1 s of warm-up; time from CUDA events over the same window",
    }
    result = {"meta": meta, "idle_before": idle(5.0)}

    def save():
        with open(args.out, "w") as fh:
            json.dump(result, fh, indent=1)
    save()
    print("idle", result["idle_before"], flush=True)
    if args.only in (None, "kernels"):
        result["kernels"] = []
        kernel_cases(result["kernels"], l2, args.reps, args.seconds, save)
    if args.only in (None, "steps"):
        result["steps"] = []
        step_cases(result["steps"], args.seconds, save)
    result["idle_after"] = idle(5.0)
    print("idle", result["idle_after"], flush=True)
    save()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
