"""GPU time per kernel of the serving loop's decode and prefill steps (torch.profiler, CUPTI).

Never runs in CI (it needs a CUDA GPU). Runs the steps of ``measure_serving.py``'s model eagerly
under the profiler (the kernels are those the CUDA graphs replay) and writes, per probed step,
each kernel name's count and summed GPU time, and the CUDA-graph replay time of the same step,
so the step's time splits into kernels and the gaps between them. Also times the decode-attention
kernel alone at several key-split sizes.

    python docs/serving/profile_steps.py --out profile.json
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict

import torch
from torch.profiler import ProfilerActivity, profile

import measure_serving as ms

DECODE = ((1, 512), (32, 512), (64, 512), (32, 2000))
PREFILL = ((16,) * 16, (512,), (128,))


def kernels(fn) -> dict:
    """{kernel name: [count, GPU seconds]} of one call of ``fn`` (after a warm-up call)."""
    fn()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        fn()
        torch.cuda.synchronize()
    out = defaultdict(lambda: [0, 0.0])
    for e in prof.events():
        if str(e.device_type).endswith("CUDA"):
            k = out[e.name[:100]]
            k[0] += 1
            k[1] += e.device_time_total / 1e6 if hasattr(e, "device_time_total") \
                else e.cuda_time_total / 1e6
    return dict(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--max-batch", type=int, default=64)
    args = ap.parse_args()
    fused = {name: torch.compile(fn, dynamic=True) for name, fn in
             (("rms_norm", ms.rms_norm), ("silu_mul", ms.silu_mul), ("rope_qk", ms.rope_qk))}
    model = ms.Model(args.max_batch, 2048, fused)
    result = {"decode": [], "prefill": [], "attention": []}
    for b, c in DECODE:
        dev = dict(device="cuda")
        toks = torch.ones(b, dtype=torch.long, **dev)
        slots = torch.arange(b, **dev)
        pos = torch.full((b,), c, dtype=torch.long, **dev)
        lens = (pos + 1).to(torch.int32)
        ks = kernels(lambda: model.decode(toks, slots, pos, lens))
        total = sum(v[1] for v in ks.values())
        result["decode"].append({"batch": b, "context": c, "kernels": ks, "kernel_s": total})
        print("decode", b, c, f"kernels {sum(v[0] for v in ks.values())} sum {total * 1e3:.2f} ms",
              flush=True)
        for name, (n, t) in sorted(ks.items(), key=lambda kv: -kv[1][1])[:12]:
            print(f"   {n:5d} {t * 1e3:8.3f} ms  {name}", flush=True)
    for lens in PREFILL:
        slots = list(range(len(lens)))
        args_ = ms.prefill_inputs(lens, slots)
        ks = kernels(lambda: model.prefill(*args_, list(lens), slots))
        total = sum(v[1] for v in ks.values())
        result["prefill"].append({"lens": list(lens), "kernels": ks, "kernel_s": total})
        print("prefill", lens, f"kernels {sum(v[0] for v in ks.values())} sum "
              f"{total * 1e3:.2f} ms", flush=True)
        for name, (n, t) in sorted(ks.items(), key=lambda kv: -kv[1][1])[:12]:
            print(f"   {n:5d} {t * 1e3:8.3f} ms  {name}", flush=True)
    L = model.layers[0]
    for split in (32, 64, 128, 256):
        ms.SPLIT = split
        for b, c in DECODE:
            q = torch.randn(b, ms.HEADS, ms.HEAD_DIM, device="cuda", dtype=torch.bfloat16)
            slots = torch.arange(b, device="cuda")
            lens = torch.full((b,), c + 1, dtype=torch.int32, device="cuda")
            _, _, t = ms.timed(lambda: ms.decode_attention(q, L["k_cache"], L["v_cache"], slots,
                                                           lens, 2048), 20)
            kv = 2 * b * (c + 1) * ms.HEADS * ms.HEAD_DIM * 2
            result["attention"].append({"split": split, "batch": b, "context": c, "seconds": t,
                                        "kv_bytes": kv})
            print(f"attention split {split} b {b} c {c}: {t * 1e6:.1f} us "
                  f"{kv / t / 1e12:.2f} TB/s", flush=True)
    with open(args.out, "w") as fh:
        json.dump(result, fh)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
