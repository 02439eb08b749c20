"""Assay: declare data assets in Python, run them anywhere, watch them in one place."""

__version__ = "0.1.0"
