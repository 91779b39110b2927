"""The evaluators: what judges a patch inside a run, each returning a :class:`~harness.evaluators.verdict.Verdict`.

The test evaluator (:mod:`~harness.evaluators.pytest_runner`, its pytest plugin and fork
server in ``plugin/``), the fresh confirmation run (:mod:`~harness.evaluators.confirm`),
ruff (:mod:`~harness.evaluators.lint`), mypy/pyright (:mod:`~harness.evaluators.types`) and
a declared command (:mod:`~harness.evaluators.command`). Each runs in its own processes
through :mod:`sandbox.process`; this room imports only :mod:`sandbox` and never a generator
or the core above it (``tests/test_layout.py``).
"""
