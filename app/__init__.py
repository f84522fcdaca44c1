"""Beacon: the operator console of a real-time crime center."""

__version__ = "0.1.0"
