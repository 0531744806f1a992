"""Where the project's data folders are: the checkout the package is installed from.

``arch_configs/``, ``workloads/``, ``traces/`` and ``tests/golden/`` sit beside ``sim/``
(``pip install -e .``, as the README installs); package data (``data/`` of each package) sits
beside the module that reads it.
"""

from pathlib import Path

#: the folder holding ``sim/``, ``arch_configs/`` and ``workloads/``
PROJECT_ROOT = Path(__file__).resolve().parents[2]
