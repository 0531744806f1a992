"""One place for the JIT options of every kernel (STUMPY-style: no hard-coded flags elsewhere)."""

from numba import njit

#: Decorator used by every kernel. ``cache=True`` keeps compiled code in ``__pycache__`` so a warm
#: run skips compilation; no fastmath (results must be bit-identical across runs).
kernel = njit(cache=True, nogil=True)
