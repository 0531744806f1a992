"""Request-level serving simulation: arrivals, continuous batching and a paged KV cache over
many steps, each step priced by the family's own simulation.

Layers, one way: :mod:`~sim.serving.spec` (the YAML keys) -> :mod:`~sim.serving.requests`
(arrivals and lengths) -> :mod:`~sim.serving.engine` (the scheduler loop) ->
:mod:`~sim.serving.stepcost` (step simulations, cached and interpolated) ->
:mod:`~sim.serving.serve` (the API and the report). It sits above :mod:`sim.simulation` and the
families, which never import it.
"""

from sim.serving.serve import ServeReport, serve

__all__ = ["serve", "ServeReport"]
