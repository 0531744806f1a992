"""``kind: systolic``: a TPU-like NPU: an R x C systolic array (OS / WS / IS), SRAM buffers, vector
unit, DRAM.

* family.py: the family (config schema, mapping of ops to folds, pricing)
* kernel.py: SCALE-Sim v3's fold-cycle model (Numba)
* reference.py: the register-level PE array that proves kernel.py exact
"""

from sim.families.systolic.family import Systolic

__all__ = ["Systolic"]
