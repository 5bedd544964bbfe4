"""Benchmarks of the session engine; run them as ``python -m benchmarks.<name>``."""
