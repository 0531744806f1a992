"""``kind: lut_tc``: lUT tensor cores for low-bit mixed-precision GEMM, against MAC tensor cores.

* family.py: the family (clusters of LUT and MAC units, wave scheduling, pricing)
* kernel.py: block and wave schedules (Numba)
* reference.py: the per-cycle unit and the bit-exact LUT arithmetic
* unit.py: LUT / MAC unit area and power from the cell library
* validation.py: the unit model and end-to-end figures against the paper
* data/lut_tc.yaml: the paper's published tables
"""

from sim.families.lut_tc.family import LutTc

__all__ = ["LutTc"]
