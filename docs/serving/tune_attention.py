"""Time the serving loop's decode-attention kernel over its launch parameters (key split, block,
warps, pipeline stages) on shapes of the loop's decode steps; prints the bandwidth each reaches.

Never runs in CI (it needs a CUDA GPU).  python docs/serving/tune_attention.py
"""

from __future__ import annotations

import itertools

import torch

import measure_serving as ms

SHAPES = ((1, 512), (8, 1024), (32, 512), (64, 512), (32, 2000))


def main() -> int:
    assert ms.check_attention() == 0
    slots, max_len = 64, 2048
    kc = torch.randn(slots, max_len, ms.HEADS, ms.HEAD_DIM, device="cuda", dtype=torch.bfloat16)
    vc = torch.randn_like(kc)
    best = None
    for split, block, warps, stages in itertools.product((128, 256, 512), (32, 64, 128),
                                                         (4, 8), (1, 3)):
        ms.SPLIT, ms.BLOCK_N, ms.WARPS, ms.STAGES = split, block, warps, stages
        total, line = 0.0, []
        try:
            for b, c in SHAPES:
                q = torch.randn(b, ms.HEADS, ms.HEAD_DIM, device="cuda", dtype=torch.bfloat16)
                sl = torch.arange(b, device="cuda")
                lens = torch.full((b,), c + 1, dtype=torch.int32, device="cuda")
                _, _, t = ms.timed(lambda: ms.decode_attention(q, kc, vc, sl, lens, max_len), 30)
                kv = 2 * b * (c + 1) * ms.HEADS * ms.HEAD_DIM * 2
                total += t
                line.append(f"{t * 1e6:7.1f}us {kv / t / 1e12:4.2f}TB/s")
        except Exception as exc:  # noqa: BLE001 - a configuration that does not compile
            print(split, block, warps, stages, "failed:", str(exc)[:80])
            continue
        print(f"split {split:4d} block {block:4d} warps {warps} stages {stages}: "
              f"{total * 1e6:8.1f} us  " + "  ".join(line), flush=True)
        if best is None or total < best[0]:
            best = (total, split, block, warps, stages)
    print("best", best)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
