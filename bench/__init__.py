"""Reproducible benchmarks: run each with ``python -m bench.<name> --help``."""
