"""The ``simulate`` command (``main.py``); ``python -m sim.cli`` runs it too."""
