"""Request-level serving simulation: arrivals, batching and scheduling over many steps.

The room for the serving layer (issue 28). It sits above :mod:`sim.simulation` and the
families, which never import it; it may use :mod:`sim.systems`.
"""
