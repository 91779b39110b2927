"""The harness's commands, one module each (``fix``, ``do``, ``review``, ``ci``), and what they share.

The app that assembles them with the eval commands of :mod:`evals.cli` is
:mod:`loopwright.cli` (the ``loopwright`` script), which imports a command's module only
when that command runs.
"""
