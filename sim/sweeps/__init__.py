"""Design-space sweeps: the sweep file (``spec.py``), the resumable runner over local processes
or a Dask cluster (``runner.py``) and Pareto fronts and their plots (``dse.py``).

Named ``sweeps`` so that the package never shadows the public function ``sim.sweep``.
"""
