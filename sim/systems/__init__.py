"""Multi-device systems: several devices and the interconnect between them.

The room for the systems layer (issue 29). It sits above :mod:`sim.simulation` and the
families, which never import it.
"""
