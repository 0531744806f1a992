"""The simulator's version, stamped into every report, sweep journal and trace it writes."""

__version__ = "0.1.0"
