"""``loopwright eval`` and ``loopwright report``: task suites, loop metrics, traces, HTML reports.

Modules: :mod:`~harness.eval.suite` (the suite file), :mod:`~harness.eval.task` (one task in
its own clone and process), :mod:`~harness.eval.runner` (process pool or Ray, resumable
``results.jsonl``), :mod:`~harness.eval.metrics`, :mod:`~harness.eval.traces`,
:mod:`~harness.eval.report` (+ ``templates/``), :mod:`~harness.eval.cli`.
"""
