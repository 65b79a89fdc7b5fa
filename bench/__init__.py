"""Benchmarks: strew against pydocket on the same Redis. ``python -m bench`` runs them all."""
