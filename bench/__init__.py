"""``make bench``: figures for docs/benchmarks.md, measured against the real server.

Run with ``python -m bench.run``; see :mod:`bench.run` for what is measured and the environment
variables that size a run. A benchmark prints figures and never fails on timing.
"""
