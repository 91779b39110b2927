"""Benchmarks that drive the harness's own code (generators, token counting).

They sit above :mod:`evals` (which never imports :mod:`harness`): ``python -m
harness.bench`` is ``python -m evals.bench`` plus the ``--record-oracle`` /
``--replay`` prompt-token modes of :mod:`harness.bench.replay`.
"""
