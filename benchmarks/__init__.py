"""Benchmarks (``make bench`` = ``python -m benchmarks``): figures as ratios against baselines
measured in the same run, never absolute timings in tests."""
