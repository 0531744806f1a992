"""``kind: bitslice``: bit-weight and bit-slice MAC tensor engines (HPCA'25 TPEs, Stripes, Bit
Fusion, Bit-Tactical, Laconic, MixPE).

* family.py: the family (organisations, PEs, value-dependent tile timing, pricing)
* kernel.py: value-dependent PE and tile cycles (Numba)
* reference.py: the bit-exact per-cycle PE and array models that prove kernel.py exact
* pe.py: PE area / power: published points and the structural cell model
* operands.py: operand values (stated distributions or real tensors) that drive the timing
* validation.py: the PE model against the paper's synthesis tables
* data/bitslice_pe.yaml: the published PE figures
"""

from sim.families.bitslice.family import Bitslice

__all__ = ["Bitslice"]
