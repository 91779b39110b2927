"""How a change is judged: evaluators returning :class:`~evals.verdict.Verdict`, and benchmarks.

Evaluators run in their own processes (through :mod:`sandbox.process`) and never
import from :mod:`harness`.
"""
