"""Slow per-cycle reference models. Tests run them on small cases to prove the kernels exact."""
