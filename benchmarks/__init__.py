"""Performance figures of the issues (CONVENTIONS.md #12).

``make bench`` (``python -m benchmarks [part …]``) runs every part; each part prints
one line per figure with its unit. Nothing here is asserted by the test suite.
"""
