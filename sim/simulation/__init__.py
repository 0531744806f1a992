"""One simulation: an arch (a family and its config) on a workload, to a checked report.

``arch.py`` loads and validates an arch YAML (``extends:``, ``--set``), ``simulate.py`` runs it
on a workload through the family and the event engine and checks the run's invariants,
``golden.py`` keeps the regression numbers of every shipped config.
"""
