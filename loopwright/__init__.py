"""``python -m loopwright``: the same command line as the ``loopwright`` script (:mod:`harness.cli`)."""
