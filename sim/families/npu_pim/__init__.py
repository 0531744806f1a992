"""``kind: npu_pim``: nPU + PIM for batched LLM decoding (NeuPIMs, ASPLOS'24), with its baselines.

* family.py: the family (NPU arrays beside PIM channels, sub-batch interleaving, pricing)
* pim.py: PIM layout, channel programs and timing
* kernel.py: the PIM channel command scheduler (Numba)
* reference.py: the per-cycle channel that proves kernel.py exact
* data/neupims_simulator.json: NeuPIMs' own simulator, run point by point for comparison
"""

from sim.families.npu_pim.family import NpuPim

__all__ = ["NpuPim"]
