"""What a run is shown as: figures (``plots.py``), a Perfetto trace (``perfetto.py``) and the
generated config reference (``config_reference.py``)."""
