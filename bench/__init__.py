"""Benchmarks. Each prints its measurements and a ratio against a baseline run in the same run."""
