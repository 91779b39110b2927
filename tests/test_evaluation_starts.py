"""Candidate test runs start where the baseline run did, or say why (issue 9, bullet 1).

The mechanism behind the toolz / python-slugify failures: the fork server imports the
installed pytest plugins (``pytest11`` entry points) before pytest can install its
assertion-rewriting hook, pytest then warns "Module already imported so cannot be
rewritten", and a project whose configuration says ``filterwarnings = error`` turns that
warning into a start-up error in every forked child. Here the plugin is a real
distribution (dist-info with entry points and RECORD) on ``PYTHONPATH``.
"""

from __future__ import annotations

import time

import pytest

from harness.evaluators.pytest_runner import PytestEvaluator
from harness.core.config import RunConfig
from harness.work.fix import fix
from harness.generators.templates import TemplateGenerator
from harness.core.stop import Observation, check
from loops.spec import Limits
from harness.core.state import RunState
from harness.core.validate import Baseline, Validator
from sandbox.patch import Patch
from sandbox.worktree import Worktree, open_repo
from tests.conftest import PYTHON, write_tree

STRICT = {
    "pyproject.toml": """
        [tool.pytest.ini_options]
        filterwarnings = ["error"]
    """,
    "calc.py": """
        def area(w, h):
            return w + h
    """,
    "tests/test_calc.py": """
        from calc import area

        def test_square():
            assert area(3, 3) == 9

        def test_rect():
            assert area(2, 5) == 10

        def test_zero():
            assert area(0, 4) == 0
    """,
}


@pytest.fixture
def installed_plugin(tmp_path, monkeypatch):
    """A pytest plugin installed as a distribution (``pytest11`` entry point) on PYTHONPATH."""
    site = tmp_path / "site"
    write_tree(site, {
        "earlyplug.py": """
            \"\"\"A pytest plugin, imported by the fork server before pytest runs.\"\"\"

            def pytest_configure(config):
                config.addinivalue_line("markers", "early: a marker from earlyplug")
        """,
        "earlyplug-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: earlyplug\nVersion: 1.0\n",
        "earlyplug-1.0.dist-info/entry_points.txt": "[pytest11]\nearlyplug = earlyplug\n",
        "earlyplug-1.0.dist-info/RECORD": "earlyplug.py,,\nearlyplug-1.0.dist-info/METADATA,,\n",
    })
    monkeypatch.setenv("PYTHONPATH", str(site))
    return site


def test_forked_runs_start_in_a_project_that_turns_warnings_into_errors(make_repo, installed_plugin):
    root = make_repo(STRICT)
    ev = PytestEvaluator(PYTHON, fork=True)
    try:
        for _ in range(2):  # the second run is served by the (now trusted) fork server
            run = ev.run(root, select=["tests/test_calc.py::test_square"], paths=["tests/test_calc.py"])
            assert run.error == ""
            assert run.results["tests/test_calc.py::test_square"].outcome == "failed"
        assert ev._servers[root] is not None and not ev.fork_fallbacks  # the server did the work
    finally:
        ev.close()


def test_a_run_that_fails_to_start_keeps_pytests_message_with_relative_paths(make_repo):
    root = make_repo({**STRICT, "tests/conftest.py": "import calc_helpers_missing\n"})
    for fork in (False, True):
        ev = PytestEvaluator(PYTHON, fork=fork)
        try:
            run = ev.run(root)
        finally:
            ev.close()
        assert "before running any test: " in run.error
        assert "tests/conftest.py" in run.error and "calc_helpers_missing" in run.error
        assert str(root) not in run.error


def test_the_fork_server_gives_way_to_plain_processes_when_it_cannot_start_pytest(make_repo):
    # A project that cannot run under the fork server (here: its conftest refuses it) but
    # runs in a plain pytest process: the evaluator notices on the first run, says why,
    # and uses plain processes in that worktree from then on.
    root = make_repo({**STRICT, "tests/conftest.py": """
        import __main__

        if hasattr(__main__, "_preload"):  # the fork server's own globals (its __spec__ is pytest's now)
            raise RuntimeError("this project refuses to run in a preforked interpreter")
    """})
    ev = PytestEvaluator(PYTHON, fork=True)
    try:
        run = ev.run(root)
        assert run.error == "" and len(run.results) == 3
        assert "refuses to run in a preforked interpreter" in ev.fork_fallbacks[root]
        assert ev.run(root).error == ""
    finally:
        ev.close()


def _one_slot_validator(root) -> tuple[Validator, PytestEvaluator, Worktree]:
    """A validator with one slot, over a baseline run (with coverage) in another worktree."""
    repo = open_repo(root)
    main, slot = Worktree.create(repo, "m", None), Worktree.create(repo, "s", None)
    ev = PytestEvaluator(PYTHON)
    base = ev.run(main.path, coverage=True)
    baseline = Baseline(main.path, base.results, base.collected, base.coverage, base.duration)
    return Validator(ev, [slot], baseline, ("tests/**",), 40, ev.timeouts), ev, slot


def test_a_slot_that_cannot_run_what_the_baseline_ran_is_one_evaluator_fault(make_repo):
    root = make_repo(STRICT)
    validator, ev, slot = _one_slot_validator(root)
    # something only this slot has stops pytest from starting, and the slot's reset by git
    # after each candidate does not repair it (it comes back: from outside the tree)
    def break_slot() -> None:
        (slot.path / "tests" / "conftest.py").write_text("raise SystemError('slot-only breakage')\n")

    def reset_and_break(reset=slot.reset) -> None:
        reset()
        break_slot()

    break_slot()
    slot.reset = reset_and_break
    patches = [Patch.from_diff(
        f"--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def area(w, h):\n-    return w + h\n"
        f"+    return w {op} h\n", description=op) for op in ("*", "-", "//", "%", "**")]
    seen = []
    try:
        chosen = validator.first_accepted(patches, time.monotonic() + 120, seen.append)
    finally:
        validator.close()
        ev.close()
    assert chosen is None
    assert len(seen) == 1  # reported once, not once per candidate
    assert "slot-only breakage" in seen[0].reason and "slot-only breakage" in validator.cannot_run
    run = RunState("r", "fix", str(root), "", remaining=["x"])
    stop = check(Observation(run, time.monotonic(), time.monotonic(), cannot_run=validator.cannot_run), Limits())
    assert stop.reason == "evaluator_error" and "slot-only breakage" in stop.detail


def test_fix_succeeds_in_a_strict_project_with_a_preloaded_plugin(make_repo, installed_plugin):
    root = make_repo(STRICT)
    res = fix(root, TemplateGenerator(), RunConfig(
        python=PYTHON, limits=Limits(max_iterations=10, max_wall_seconds=120)))
    assert res.state.status == "fixed", (res.state.stop_reason, res.state.stop_detail)
    assert "+    return w * h" in res.patch


def test_a_patch_that_stops_the_tests_from_starting_is_rejected_not_an_evaluator_fault(make_repo):
    """Five candidates in a row each make the conftest fail to import (pytest exits 4 before
    any test): the slot runs without them, so each is the patch's fault, a rejection that
    does not count toward the evaluator-error stop rule, and the sixth, the fix, is accepted."""
    files = {**STRICT, "calc.py": "SHAPES = ('square', 'rect')\n\n\ndef area(w, h):\n    return w + h\n",
             "tests/conftest.py": "from calc import SHAPES\n\nassert 'square' in SHAPES\n"}
    root = make_repo(files)
    validator, ev, slot = _one_slot_validator(root)
    src = files["calc.py"]
    breaking = [Patch.from_texts({"calc.py": (src, src.replace("'square'", f"'sq{i}'"))}, f"break {i}")
                for i in range(5)]
    right = Patch.from_texts({"calc.py": (src, src.replace("w + h", "w * h"))}, "right")
    seen = []
    try:
        chosen = validator.first_accepted([*breaking, right], time.monotonic() + 120, seen.append)
    finally:
        validator.close()
        ev.close()
    assert chosen is not None and chosen.patch is right and chosen.accepted
    assert [o.stage for o in seen[:5]] == ["run_broken"] * 5, [(o.stage, o.reason) for o in seen]
    assert "cannot start (they do without it)" in seen[0].reason and "conftest" in seen[0].reason
    assert validator.evaluator_errors == 0 and not validator.cannot_run


def test_the_validator_starts_every_slots_fork_server_at_once_and_the_runs_use_them(make_repo):
    root = make_repo({"calc.py": "def area(w, h):\n    return w + h\n",
                      "tests/test_calc.py": "from calc import area\n\n\ndef test_area():\n    assert area(2, 3) == 6\n"})
    repo = open_repo(root)
    slots = [Worktree.create(repo, f"s{i}", None) for i in range(2)]
    ev = PytestEvaluator(PYTHON, fork=True)
    base = ev.run(slots[0].path, coverage=True)
    baseline = Baseline(slots[0].path, base.results, base.collected, base.coverage, base.duration)
    validator = Validator(ev, slots, baseline, ("tests/**",), 40, ev.timeouts)
    try:
        until = time.monotonic() + 60
        while time.monotonic() < until and len([s for s in slots if s.path in ev._servers]) < 2:
            time.sleep(0.05)
        servers = [ev._servers[s.path] for s in slots]
        assert all(server is not None for server in servers)
        time.sleep(0.5)  # the threads that started them are the pool's: the servers outlive the start
        assert all(server.proc.poll() is None for server in servers)
        for slot, server in zip(slots, servers):
            run = ev.run(slot.path, select=["tests/test_calc.py::test_area"], paths=["tests/test_calc.py"])
            assert run.results["tests/test_calc.py::test_area"].outcome == "failed"
            assert ev._servers[slot.path] is server and server.served == 1  # served, not started again
    finally:
        validator.close()
        ev.close()
