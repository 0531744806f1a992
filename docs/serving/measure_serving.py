"""Serve request traces with a plain PyTorch continuous-batching loop on a real GPU.

Never runs in CI (it needs a CUDA GPU, PyTorch and Triton). The model is LLaMA-7B-shaped with
random BF16 weights (the op graph of ``workloads/models/llama7b.yaml``: separate q/k/v and
gate/up projections, RMSNorm, RoPE of q and k fused, the KV append, SiLU-and-mul fused).
The loop schedules as ``simulate serve`` does (vLLM V0): FCFS, a prefill step whenever a waiting
request fits (``--max-batch`` running requests, ``--max-tokens`` prompt tokens per prefill),
otherwise a decode step of every running request. Decode steps replay a CUDA graph captured per
batch size; their attention is a flash-decoding Triton kernel that reads each request's own
cached tokens. Prefill steps run eagerly (one FlashAttention-2 launch per prompt), as vLLM V0
did.
The host syncs after every step (sampled tokens come back to the host).

For every request the JSON records arrival, first-token and finish times; for every step the host
times (scheduling, input preparation, kernel issue, wait) and the GPU time between CUDA events,
so the host-side overhead the simulator models (``scheduler.step_overhead``,
``scheduler.prefill_launch``) is measured, not fitted. The traces are CSV files
(arrival,prompt_len,output_len) written by ``simulate serve``'s own request generator.

    python docs/serving/measure_serving.py --out h200_serving.json.gz \
        docs/serving/traces/calibration_rate8.csv docs/serving/traces/rate4.csv ...

``--check`` runs the attention kernel against PyTorch on small random inputs and exits (it runs
on a CPU with ``TRITON_INTERPRET=1``).
"""

from __future__ import annotations

import argparse
import csv
import datetime
import gzip
import json
import math
import os
import platform
import statistics
import sys
import time
from collections import deque

import torch
import torch.nn.functional as F
import triton
import triton.language as tl

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "gpu"))
from measure_gpu import (HEAD_DIM, HEADS, HIDDEN, LAYERS, VOCAB, layer_weights,  # noqa: E402
                         rms_norm, rope, silu_mul, smi)
#: keys one attention program reads per split (flash-decoding: a request's keys split so that
#: even one request fills the GPU)
SPLIT = 256
BLOCK_N = 64
WARPS = 4
STAGES = 1


@triton.jit
def _decode_attention(q_ptr, k_ptr, v_ptr, slot_ptr, len_ptr, acc_ptr, ml_ptr,
                      stride_qb, stride_qh, stride_cs, stride_cn, stride_ch,
                      n_splits, scale,
                      HEAD_D: tl.constexpr, SPLIT_N: tl.constexpr, BLOCK: tl.constexpr):
    """One (request, head, key split): partial softmax-weighted values of keys
    [split * SPLIT_N, min(len, (split + 1) * SPLIT_N)) of the request's cache slot."""
    b = tl.program_id(0)
    h = tl.program_id(1)
    s = tl.program_id(2)
    slot = tl.load(slot_ptr + b).to(tl.int64)
    n = tl.load(len_ptr + b).to(tl.int32)
    d = tl.arange(0, HEAD_D)
    q = tl.load(q_ptr + b * stride_qb + h * stride_qh + d).to(tl.float32)
    start = s * SPLIT_N
    end = tl.minimum(start + SPLIT_N, n)
    m_i = -float("inf")
    l_i = 0.0
    acc = tl.zeros([HEAD_D], dtype=tl.float32)
    base = slot * stride_cs + h * stride_ch
    for j in range(start, end, BLOCK):
        offs = j + tl.arange(0, BLOCK)
        mask = offs < end
        ptrs = base + offs[:, None].to(tl.int64) * stride_cn + d[None, :]
        k = tl.load(k_ptr + ptrs, mask=mask[:, None], other=0.0)  # keys and values in flight
        v = tl.load(v_ptr + ptrs, mask=mask[:, None], other=0.0)  # together
        scores = tl.sum(k.to(tl.float32) * q[None, :], axis=1) * scale
        scores = tl.where(mask, scores, -float("inf"))
        m_new = tl.maximum(m_i, tl.max(scores, axis=0))
        alpha = tl.exp(m_i - m_new)
        p = tl.exp(scores - m_new)
        acc = acc * alpha + tl.sum(p[:, None] * v.to(tl.float32), axis=0)
        l_i = l_i * alpha + tl.sum(p, axis=0)
        m_i = m_new
    row = (b * tl.num_programs(1) + h) * n_splits + s
    tl.store(acc_ptr + row * HEAD_D + d, acc)
    tl.store(ml_ptr + row * 2, m_i)
    tl.store(ml_ptr + row * 2 + 1, l_i)


@triton.jit
def _combine_splits(acc_ptr, ml_ptr, out_ptr, stride_ob, stride_oh, n_splits,
                    HEAD_D: tl.constexpr, SPLITS: tl.constexpr):
    """One (request, head): the splits' partial results merged (the flash-decoding combine)."""
    b = tl.program_id(0)
    h = tl.program_id(1)
    s = tl.arange(0, SPLITS)
    d = tl.arange(0, HEAD_D)
    row = (b * tl.num_programs(1) + h) * n_splits + s
    live = s < n_splits
    m = tl.load(ml_ptr + row * 2, mask=live, other=-float("inf"))
    lsum = tl.load(ml_ptr + row * 2 + 1, mask=live, other=0.0)
    w = tl.exp(m - tl.max(m, axis=0))  # empty splits: exp(-inf) = 0
    acc = tl.load(acc_ptr + row[:, None] * HEAD_D + d[None, :], mask=live[:, None], other=0.0)
    out = tl.sum(acc * w[:, None], axis=0) / tl.sum(lsum * w, axis=0)
    tl.store(out_ptr + b * stride_ob + h * stride_oh + d, out.to(out_ptr.dtype.element_ty))


def decode_attention(q, k_cache, v_cache, slots, lens, max_len: int):
    """Attention of one query per request over its ``lens[b]`` cached keys in
    ``k_cache[slots[b]]``: q [B, heads, dim], caches [slots, max_len, heads, dim] -> [B, heads,
    dim]. Splits beyond a request's length return at once; a combine step merges the splits."""
    b, heads, dim = q.shape
    splits = -(-max_len // SPLIT)
    acc = torch.empty(b, heads, splits, dim, device=q.device, dtype=torch.float32)
    ml = torch.empty(b, heads, splits, 2, device=q.device, dtype=torch.float32)
    _decode_attention[(b, heads, splits)](
        q, k_cache, v_cache, slots, lens, acc, ml, q.stride(0), q.stride(1),
        k_cache.stride(0), k_cache.stride(1), k_cache.stride(2), splits, 1.0 / math.sqrt(dim),
        HEAD_D=dim, SPLIT_N=SPLIT, BLOCK=BLOCK_N, num_warps=WARPS, num_stages=STAGES)
    out = torch.empty_like(q)
    _combine_splits[(b, heads)](acc, ml, out, out.stride(0), out.stride(1), splits,
                                HEAD_D=dim, SPLITS=triton.next_power_of_2(splits), num_warps=4)
    return out


def check_attention() -> int:
    """The kernel against PyTorch's attention on random requests of uneven lengths."""
    torch.manual_seed(0)
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    slots, max_len, heads, dim = 5, 600, 4, HEAD_DIM
    kc = torch.randn(slots, max_len, heads, dim, device=dev)
    vc = torch.randn(slots, max_len, heads, dim, device=dev)
    q = torch.randn(3, heads, dim, device=dev)
    slot = torch.tensor([4, 0, 2], device=dev)
    lens = torch.tensor([1, 257, 600], device=dev, dtype=torch.int32)
    got = decode_attention(q, kc, vc, slot, lens, max_len)
    worst = 0.0
    for i in range(3):
        n, s = int(lens[i]), int(slot[i])
        k = kc[s, :n].transpose(0, 1)  # [heads, n, dim]
        v = vc[s, :n].transpose(0, 1)
        ref = torch.softmax(q[i][:, None, :] @ k.transpose(1, 2) / math.sqrt(dim), -1) @ v
        worst = max(worst, float((ref[:, 0] - got[i]).abs().max()))
    print(f"decode attention: max abs error {worst:.2e} against PyTorch")
    return 0 if worst < 1e-3 else 1




def rope_qk(q, k, cos, sin):
    """RoPE on q and k in one fused kernel (the op graph's rope)."""
    return rope(q, cos, sin), rope(k, cos, sin)



class Model:
    """LLaMA-7B with random BF16 weights, a KV cache of ``slots`` x ``max_len`` tokens, and the
    prefill / decode forward passes of the loop."""

    def __init__(self, slots: int, max_len: int, fused):
        d = dict(device="cuda", dtype=torch.bfloat16)
        s = 0.02
        self.f = fused
        self.max_len = max_len
        self.embed = torch.randn(VOCAB, HIDDEN, **d) * s
        self.layers = []
        for _ in range(LAYERS):
            self.layers.append({
                **layer_weights(s),
                "k_cache": torch.zeros(slots, max_len, HEADS, HEAD_DIM, **d),
                "v_cache": torch.zeros(slots, max_len, HEADS, HEAD_DIM, **d)})
            for name in ("k_cache", "v_cache"):  # a flat view: row = slot * max_len + position
                self.layers[-1][name + "_rows"] = self.layers[-1][name].view(-1, HEADS, HEAD_DIM)
        self.norm = torch.ones(HIDDEN, **d)
        self.lm_head = torch.randn(VOCAB, HIDDEN, **d) * s
        ang = torch.arange(HEAD_DIM // 2, device="cuda") / (HEAD_DIM // 2)
        theta = torch.arange(max_len, device="cuda")[:, None] * (10000.0 ** -ang)[None, :]
        self.cos = torch.cat([theta.cos(), theta.cos()], -1).to(torch.bfloat16)  # [max_len, D]
        self.sin = torch.cat([theta.sin(), theta.sin()], -1).to(torch.bfloat16)

    def weight_bytes(self) -> int:
        n = sum(w.numel() for L in self.layers for k, w in L.items() if "cache" not in k)
        return 2 * (n + self.embed.numel() + self.lm_head.numel() + self.norm.numel())

    def _layer(self, L, h, attention, cos, sin, rows):
        f = self.f
        t = h.shape[0]
        x = f["rms_norm"](h, L["attn_norm"])
        q = (x @ L["q"].t()).view(t, HEADS, HEAD_DIM)
        k = (x @ L["k"].t()).view(t, HEADS, HEAD_DIM)
        v = (x @ L["v"].t()).view(t, HEADS, HEAD_DIM)
        q, k = f["rope_qk"](q, k, cos, sin)
        L["k_cache_rows"].index_copy_(0, rows, k)  # the KV append (the op graph's kv_append)
        L["v_cache_rows"].index_copy_(0, rows, v)
        h = h + attention(q, L).reshape(t, HIDDEN) @ L["o"].t()
        x = f["rms_norm"](h, L["ffn_norm"])
        return h + f["silu_mul"](x @ L["gate"].t(), x @ L["up"].t()) @ L["down"].t()

    def decode(self, tokens, slots, pos, lens):
        """One token for each of B requests: tokens, slots, pos (cached tokens), lens (pos + 1)
        are int64/int32 device tensors of B; returns the greedy next tokens [B]."""
        cos, sin = self.cos[pos][:, None, :], self.sin[pos][:, None, :]
        rows = slots * self.max_len + pos
        h = self.embed[tokens]

        def attention(q, L):
            return decode_attention(q, L["k_cache"], L["v_cache"], slots, lens, self.max_len)
        for L in self.layers:
            h = self._layer(L, h, attention, cos, sin, rows)
        logits = self.f["rms_norm"](h, self.norm) @ self.lm_head.t()
        return logits.argmax(-1)

    def prefill(self, tokens, slots, pos, last, prompt_lens: list[int],
                prompt_slots: list[int]):
        """The prompts of a prefill step packed into T tokens (slots, pos per token; ``last``:
        each prompt's last token); causal FlashAttention per prompt; logits of each prompt's last
        token -> first tokens [n]."""
        cos, sin = self.cos[pos][:, None, :], self.sin[pos][:, None, :]
        rows = slots * self.max_len + pos
        h = self.embed[tokens]
        bounds = []
        off = 0
        for n in prompt_lens:
            bounds.append((off, off + n))
            off += n

        def attention(q, L):
            out = torch.empty_like(q)
            for (a, b), s in zip(bounds, prompt_slots):
                k = L["k_cache"][s, :b - a].transpose(0, 1)[None]
                v = L["v_cache"][s, :b - a].transpose(0, 1)[None]
                out[a:b] = F.scaled_dot_product_attention(
                    q[a:b].transpose(0, 1)[None], k, v, is_causal=True)[0].transpose(0, 1)
            return out
        for L in self.layers:
            h = self._layer(L, h, attention, cos, sin, rows)
        logits = self.f["rms_norm"](h[last], self.norm) @ self.lm_head.t()
        return logits.argmax(-1)


class DecodeGraphs:
    """A CUDA graph of the decode step for every batch size 1..max_batch over static input
    buffers (the graph for B reads the buffers' first B entries)."""

    def __init__(self, model: Model, max_batch: int):
        self.tokens = torch.zeros(max_batch, dtype=torch.long, device="cuda")
        self.slots = torch.zeros(max_batch, dtype=torch.long, device="cuda")
        self.pos = torch.zeros(max_batch, dtype=torch.long, device="cuda")
        self.lens = torch.ones(max_batch, dtype=torch.int32, device="cuda")
        self.host = torch.zeros(4, max_batch, dtype=torch.long, pin_memory=True)
        self.graphs, self.out = {}, {}
        pool = None
        for b in range(max_batch, 0, -1):  # largest first: the smaller reuse its memory
            args = (self.tokens[:b], self.slots[:b], self.pos[:b], self.lens[:b])
            s = torch.cuda.Stream()
            s.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(s):
                for _ in range(2):
                    model.decode(*args)
            torch.cuda.current_stream().wait_stream(s)
            g = torch.cuda.CUDAGraph()
            with torch.cuda.graph(g, pool=pool):
                self.out[b] = model.decode(*args)
            pool = g.pool()
            self.graphs[b] = g
        torch.cuda.synchronize()

    def run(self, tokens, slots, pos):
        """Copy the step's inputs into the static buffers (one host-to-device copy) and replay."""
        b = len(slots)
        self.host[0, :b] = torch.as_tensor(tokens)
        self.host[1, :b] = torch.as_tensor(slots)
        self.host[2, :b] = torch.as_tensor(pos)
        dev = self.host[:3, :b].to("cuda", non_blocking=True)
        self.tokens[:b].copy_(dev[0])
        self.slots[:b].copy_(dev[1])
        self.pos[:b].copy_(dev[2])
        self.lens[:b].copy_(dev[2] + 1)
        self.graphs[b].replay()
        return self.out[b]


def prefill_inputs(lens, prompt_slots):
    """Device tensors of a prefill step: random tokens, each token's cache slot and position,
    and the index of each prompt's last token."""
    toks = torch.randint(0, VOCAB, (sum(lens),), device="cuda")
    slots = torch.tensor([s for s, n in zip(prompt_slots, lens) for _ in range(n)])
    pos = torch.cat([torch.arange(n) for n in lens])
    last = torch.tensor(lens).cumsum(0) - 1
    return toks, slots.cuda(), pos.cuda(), last.cuda()


#: prefill steps probed alone (prompt lengths) and decode steps (batch, cached tokens each)
PREFILL_PROBES = ((16,), (128,), (512,), (2048,), (32,) * 4, (64,) * 8, (16,) * 16,
                  (200, 50, 700))
DECODE_PROBES = ((1, 512), (8, 512), (32, 512), (64, 512), (32, 128), (32, 2000), (64, 1024))


def timed(fn, reps: int):
    """Medians over ``reps`` calls of (host seconds to issue, wall seconds to finish, GPU
    seconds between events)."""
    issue, wall, gpu = [], [], []
    for _ in range(reps):
        torch.cuda.synchronize()
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        t = time.perf_counter()
        a.record()
        fn()
        b.record()
        t1 = time.perf_counter()
        b.synchronize()
        issue.append(t1 - t)
        wall.append(time.perf_counter() - t)
        gpu.append(a.elapsed_time(b) / 1e3)
    return statistics.median(issue), statistics.median(wall), statistics.median(gpu)


def probe_steps(model: Model, graphs: DecodeGraphs, reps: int = 7) -> dict:
    """Prefill steps eager (as the loop runs them) and replayed from a CUDA graph (the GPU's own
    time, without the host's launches); decode steps as the loop replays them."""
    out = {"prefill": [], "decode": []}
    for lens in PREFILL_PROBES:
        slots = list(range(len(lens)))
        args = prefill_inputs(lens, slots)
        issue, wall, _ = timed(lambda: model.prefill(*args, list(lens), slots), reps)
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            model.prefill(*args, list(lens), slots)
        torch.cuda.current_stream().wait_stream(s)
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g):
            model.prefill(*args, list(lens), slots)
        _, _, device = timed(g.replay, reps)
        del g
        out["prefill"].append({"lens": list(lens), "eager_issue_s": issue, "eager_wall_s": wall,
                               "graph_gpu_s": device})
        print("prefill", lens, f"issue {issue * 1e3:.2f} wall {wall * 1e3:.2f} "
              f"device {device * 1e3:.2f} ms", flush=True)
    for b, c in DECODE_PROBES:
        args = ([1] * b, list(range(b)), [c] * b)
        issue, wall, device = timed(lambda: graphs.run(*args), reps)
        out["decode"].append({"batch": b, "context": c, "issue_s": issue, "wall_s": wall,
                              "gpu_s": device})
        print("decode", b, c, f"issue {issue * 1e3:.2f} wall {wall * 1e3:.2f} "
              f"device {device * 1e3:.2f} ms", flush=True)
    torch.cuda.empty_cache()
    return out


def read_trace(path: str) -> list[tuple[float, int, int]]:
    with open(path, newline="") as fh:
        return [(float(r["arrival"]), int(r["prompt_len"]), int(r["output_len"]))
                for r in csv.DictReader(fh)]


def serve(model: Model, graphs: DecodeGraphs, trace, max_batch: int, max_tokens: int,
          sample_every: int) -> dict:
    """Serve ``trace`` in real time; per-request and per-step records."""
    n = len(trace)
    first = [None] * n
    finish = [None] * n
    slot_of = [None] * n
    cached = [0] * n
    made = [0] * n
    last_tok = [0] * n
    free = list(range(max_batch - 1, -1, -1))
    waiting: deque = deque()
    running: list[int] = []
    steps = []
    nxt = 0
    done = 0
    ev = [torch.cuda.Event(enable_timing=True) for _ in range(2)]
    t0 = time.perf_counter()
    while done < n:
        now = time.perf_counter() - t0
        while nxt < n and trace[nxt][0] <= now:
            waiting.append(nxt)
            nxt += 1
        if not waiting and not running:
            time.sleep(max(0.0, trace[nxt][0] - now))
            continue
        t_start = time.perf_counter()
        batch, tokens = [], 0
        while (waiting and free and len(running) + len(batch) < max_batch
               and tokens + trace[waiting[0]][1] <= max_tokens):
            r = waiting.popleft()
            batch.append(r)
            tokens += trace[r][1]
        if batch:
            phase, lens = "prefill", [trace[r][1] for r in batch]
            for r in batch:
                slot_of[r] = free.pop()
            t_prep = time.perf_counter()
            ev[0].record()
            prompt_slots = [slot_of[r] for r in batch]
            out = model.prefill(*prefill_inputs(lens, prompt_slots), lens, prompt_slots)
        else:
            phase, lens = "decode", [cached[r] + 1 for r in running]
            batch = running
            toks = [last_tok[r] for r in batch]
            slots = [slot_of[r] for r in batch]
            pos = [cached[r] for r in batch]
            t_prep = time.perf_counter()
            ev[0].record()
            out = graphs.run(toks, slots, pos)
        ev[1].record()
        t_issued = time.perf_counter()
        got = out.tolist()  # the host waits for the sampled tokens
        t_end = time.perf_counter()
        gpu = ev[0].elapsed_time(ev[1]) / 1e3
        stamp = t_end - t0
        for r, tok in zip(batch, got):
            last_tok[r] = tok
            made[r] += 1
            cached[r] = trace[r][1] if phase == "prefill" else cached[r] + 1
            if phase == "prefill":
                first[r] = stamp
        if phase == "prefill":
            running.extend(batch)
        still = []
        for r in running:
            if made[r] >= trace[r][2]:
                finish[r] = stamp
                free.append(slot_of[r])
                done += 1
            else:
                still.append(r)
        running = still
        rec = {"t": round(t_start - t0, 7), "phase": phase, "n": len(lens),
               "tokens": int(sum(lens)), "host_s": round(t_prep - t_start, 7),
               "issue_s": round(t_issued - t_prep, 7), "wait_s": round(t_end - t_issued, 7),
               "gpu_s": round(gpu, 7)}
        if len(steps) % sample_every == 0:
            rec["lens"] = lens
        steps.append(rec)
    return {"requests": [{"arrival": a, "prompt_len": p, "output_len": o,
                          "first_token": first[i], "finish": finish[i]}
                         for i, (a, p, o) in enumerate(trace)],
            "steps": steps}


def columnar(run: dict) -> dict:
    """A run as columns (times of steps in microseconds), the request lengths of every
    ``--sample-every``-th step kept by step index: the stored file's format."""
    steps = run["steps"]
    us = {"t": "t_us", "host_s": "host_us", "issue_s": "issue_us", "wait_s": "wait_us",
          "gpu_s": "gpu_us"}
    cols = {new: [round(st[old] * 1e6) for st in steps] for old, new in us.items()}
    cols["phase"] = "".join(st["phase"][0] for st in steps)
    cols["n"] = [st["n"] for st in steps]
    cols["tokens"] = [st["tokens"] for st in steps]
    req = run["requests"]
    return {"trace": run["trace"], "steps": cols,
            "step_lens": {str(i): st["lens"] for i, st in enumerate(steps) if "lens" in st},
            "requests": {k: [r[k] for r in req] for k in req[0]}}


FORMAT = ("steps: columns per step (start time, phase p/d, requests, tokens (prompt tokens or "
          "cached+1 per request, summed), host scheduling, kernel issue, wait, GPU time between "
          "CUDA events, all in microseconds); step_lens: the per-request lengths of every 10th "
          "step by step index; requests: columns (arrival, first_token, finish in seconds from "
          "the run's start)")



def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("traces", nargs="*", help="CSV traces (arrival,prompt_len,output_len)")
    ap.add_argument("--out")
    ap.add_argument("--max-batch", type=int, default=64)
    ap.add_argument("--max-tokens", type=int, default=2048)
    ap.add_argument("--max-len", type=int, default=2048)
    ap.add_argument("--sample-every", type=int, default=10,
                    help="store the request lengths of every k-th step")
    ap.add_argument("--check", action="store_true", help="check the attention kernel and exit")
    args = ap.parse_args()
    if args.check:
        return check_attention()
    if check_attention():
        return 1
    torch.backends.cuda.matmul.allow_bf16_reduced_precision_reduction = True
    # FlashAttention-2 for the prefill: cuDNN's attention builds an execution plan for every
    # new prompt length (tens of ms of host time the first time a length is seen), so a step's
    # cost would hang on which lengths earlier runs happened to see
    torch.backends.cuda.enable_cudnn_sdp(False)
    fused = {name: torch.compile(fn, dynamic=True) for name, fn in
             (("rms_norm", rms_norm), ("silu_mul", silu_mul), ("rope_qk", rope_qk))}
    t = time.perf_counter()
    model = Model(args.max_batch, args.max_len, fused)
    for n in (1, 3, 100, 513):  # compile the fused kernels for prefill shapes
        model.prefill(*prefill_inputs([n], [0]), [n], [0])
    graphs = DecodeGraphs(model, args.max_batch)
    setup = time.perf_counter() - t
    print(f"set-up {setup:.1f} s (weights {model.weight_bytes() / 1e9:.2f} GB)", flush=True)
    prop = torch.cuda.get_device_properties(0)
    meta = {"date": datetime.date.today().isoformat(), "device": torch.cuda.get_device_name(0),
            "sms": prop.multi_processor_count, "memory_bytes": prop.total_memory,
            "driver": smi("driver_version"), "power_limit": smi("power.limit"),
            "torch": torch.__version__, "triton": triton.__version__, "cuda": torch.version.cuda,
            "python": platform.python_version(), "cpu": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(), "max_batch": args.max_batch, "max_tokens": args.max_tokens,
            "max_len": args.max_len, "weight_bytes": model.weight_bytes(),
            "setup_s": round(setup, 2), "command": " ".join(sys.argv),
            "method": __doc__.split("\n\n")[1].replace("\n", " "), "format": FORMAT}
    result = {"meta": meta, "probes": probe_steps(model, graphs), "runs": []}
    for path in args.traces:
        trace = read_trace(path)
        t = time.perf_counter()
        run = serve(model, graphs, trace, args.max_batch, args.max_tokens, args.sample_every)
        run["trace"] = os.path.basename(path)
        result["runs"].append(columnar(run))
        ttft = sorted(r["first_token"] - r["arrival"] for r in run["requests"])
        tpot = sorted((r["finish"] - r["first_token"]) / (r["output_len"] - 1)
                      for r in run["requests"] if r["output_len"] > 1)
        dec = [s for s in run["steps"] if s["phase"] == "decode"]
        pre = [s for s in run["steps"] if s["phase"] == "prefill"]
        print(f"{path}: {len(trace)} requests in {time.perf_counter() - t:.1f} s; "
              f"TTFT p50 {statistics.median(ttft) * 1e3:.2f} ms p90 "
              f"{ttft[int(0.9 * len(ttft))] * 1e3:.2f}; TPOT p50 "
              f"{statistics.median(tpot) * 1e3:.2f} ms p90 {tpot[int(0.9 * len(tpot))] * 1e3:.2f};"
              f" {len(pre)} prefill steps (host {statistics.median(s['host_s'] for s in pre) * 1e3:.2f}"
              f" ms, issue {statistics.median(s['issue_s'] for s in pre) * 1e3:.2f} ms, gpu "
              f"{statistics.median(s['gpu_s'] for s in pre) * 1e3:.2f} ms), {len(dec)} decode "
              f"(host {statistics.median(s['host_s'] for s in dec) * 1e3:.2f} ms, issue "
              f"{statistics.median(s['issue_s'] for s in dec) * 1e3:.2f} ms, gpu "
              f"{statistics.median(s['gpu_s'] for s in dec) * 1e3:.2f} ms)", flush=True)
        if args.out:  # after every trace: a run cut short keeps what finished
            with gzip.open(args.out, "wt") as fh:
                json.dump(result, fh, separators=(",", ":"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
