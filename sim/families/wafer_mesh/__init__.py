"""``kind: wafer_mesh``: a wafer-scale 2D mesh of cores with local SRAM (WaferLLM on the Cerebras
WSE-2, OSDI'25).

* family.py: the family (regions, placement, pricing)
* mesh.py: the mesh fabric and WaferLLM's GEMM / GEMV / all-reduce algorithms
* kernel.py: link-level stream timing on the mesh (Numba)
* reference.py: the per-cycle mesh that proves kernel.py exact
"""

from sim.families.wafer_mesh.family import WaferMesh

__all__ = ["WaferMesh"]
