"""Benchmarks of jido_kernel against stock ipykernel, raw lupa and plain file I/O.

``make bench`` (or ``python -m benchmarks [NAME ...]``) runs them and prints each
measure next to its baseline from the same run, the ratio and the target.
"""
