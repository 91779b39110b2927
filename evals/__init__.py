"""How loopwright is measured across runs: task suites, task preparation, the eval runner, metrics, traces, reports, benchmarks.

The top floor beside the command line: it drives the harness (``loopwright fix`` in a
subprocess, or the harness's modules), and nothing in :mod:`harness` imports it. What
judges a patch inside a run is :mod:`harness.evaluators`, not this package.
"""
