"""``kind: gpu``: the tensor-core GPU baseline (A100 / H100): SMs, tensor cores, CUDA cores, L2,
HBM.

* family.py: the family (CTA tiles, split-K / stream-K, FlashAttention, launch overhead)
* kernel.py: the exact CTA block scheduler (Numba)
* reference.py: the per-cycle block scheduler that proves kernel.py exact
* validation.py: predicted vs measured kernels and decode steps
* data/measured/: kernels and decode steps measured on H100 / H200 (docs/gpu/measure_gpu.py)
"""

from sim.families.gpu.family import Gpu

__all__ = ["Gpu"]
