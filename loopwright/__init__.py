"""loopwright's entry point: the command line app (:mod:`loopwright.cli`), also ``python -m loopwright``."""
