"""What runs on an arch: transformer models and their sizes (``model.py``), their lowering to
ops (``lowering.py``), op traces of real models (``traces.py``, extracted by ``extract.py``),
sequence-length distributions (``seqlens.py``) and loading any of them by name or file
(``loader.py``).

This layer knows ops, not families: it imports :mod:`sim.core` only.
"""
