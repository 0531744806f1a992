"""Numba cycle kernels: pure functions of ints and NumPy arrays, compiled with ``cache=True``.

Each kernel has a slow per-cycle reference in :mod:`sim.reference` that the tests use to prove
the kernel exact on small cases.
"""
