"""The core every family builds on: configuration, ops, the family interface, the event engine
and its pipeline kernel, the report, run invariants, units, errors and the cost tables.

Nothing here imports a family, a workload, the memory system or any layer above; see
docs/architecture.md for the layers and tests/test_layout.py for the check.
"""
