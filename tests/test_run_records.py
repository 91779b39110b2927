"""Run records on disk: a ``state.json`` written by loopwright 0.1 (``tests/data/state-v1.json``,
made by an interrupted ``fix`` run before the run records were typed) still loads, writes
back in the same shape and resumes to a fix."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from harness.core import stop as stop_rules
from harness.core.records import IterationRecord, StopReason
from harness.core.state import RunFiles, RunState, load_state
from harness.core.stop import Observation, check
from harness.core.config import RunConfig
from harness.generators.templates import TemplateGenerator
from loops.spec import Limits
from harness.work.fix import resume
from tests.conftest import PYTHON, git

FIXTURE = Path(__file__).parent / "data" / "state-v1.json"

#: The repository the fixture's run worked on: two one-line bugs; the run accepted the
#: fix of ``clamp`` and was interrupted before ``sign``.
FILES = {
    "mathx/__init__.py": '''
        def clamp(x, lo, hi):
            """Limit x to [lo, hi]."""
            if x < lo:
                return lo
            if x >= hi:
                return x
            return x


        def sign(x):
            """-1, 0 or 1."""
            if x > 0:
                return 1
            if x < 0:
                return 1
            return 0
    ''',
    "tests/test_clamp.py": '''
        from mathx import clamp

        def test_inside():
            assert clamp(2, 0, 5) == 2

        def test_above():
            assert clamp(9, 0, 5) == 5

        def test_below():
            assert clamp(-3, 0, 5) == 0
    ''',
    "tests/test_sign.py": '''
        from mathx import sign

        def test_positive():
            assert sign(4) == 1

        def test_negative():
            assert sign(-4) == -1

        def test_zero():
            assert sign(0) == 0
    ''',
}


def test_a_v1_state_loads_and_is_written_back_in_the_same_shape(tmp_path):
    written = json.loads(FIXTURE.read_text())
    state = load_state(FIXTURE)
    assert state.accepted[0].fixed == ["tests/test_clamp.py::test_above"]
    assert state.accepted[0].unprotected is True and state.history[0].lead is True
    out = tmp_path / "state.json"
    from harness.core.state import write_json_atomic

    write_json_atomic(out, state.to_dict())
    again = json.loads(out.read_text())
    assert again.pop("version") == 1  # the key the typed records add: the shape's version
    assert again.pop("settings") == {}  # added since (the resumed run's settings): absent is empty
    assert again == written


def test_a_v1_state_resumes_to_the_fix(make_repo):
    root = make_repo(FILES)
    data = json.loads(FIXTURE.read_text())
    run_id = data["run_id"]
    data["repo"], data["base_commit"] = str(root), git(root, "rev-parse", "HEAD").strip()
    files = RunFiles(root, run_id)
    files.state.write_text(json.dumps(data, indent=2))
    res = resume(root, run_id, TemplateGenerator(), _options())
    s = res.state
    assert res.exit_code == 0 and s.status == "fixed", (s.status, s.stop_reason, s.stop_detail)
    assert s.fixed_tests == ["tests/test_clamp.py::test_above", "tests/test_sign.py::test_negative"]
    assert [a.fixed for a in s.accepted][0] == ["tests/test_clamp.py::test_above"]
    assert "return hi" in res.patch and "return -1" in res.patch
    assert load_state(files.state).status == "fixed"


def _options():
    return RunConfig(python=PYTHON, jobs=1, limits=Limits(max_iterations=10, max_wall_seconds=240))


def test_limits_travel_whole_from_the_loop_declaration_to_the_stop_rules():
    from harness.core.config import build
    from loops.spec import builtin_spec

    loop = builtin_spec("do-instruction")
    limits = build(loop, flags={"max_seconds": 5.0}).limits
    assert limits == replace(loop.limits(), max_wall_seconds=5.0)  # the same type, no copy by position
    assert limits.human_rejected == 3 and limits.repeated_patch == Limits.repeated_patch


def test_each_stop_rule_fires_on_its_own_numbers():
    run = RunState("r", "fix", ".", "", remaining=["t"])
    seen = Observation(run, started=0.0, now=1.0)
    assert check(seen, Limits()) is None
    cases = [
        (dict(fixing=True), dict(), "all_tests_pass", lambda: setattr(run, "remaining", [])),
        (dict(), dict(max_iterations=2), "max_iterations", lambda: setattr(run, "iteration", 2)),
        (dict(now=10.0), dict(max_wall_seconds=10.0), "max_wall_seconds", None),
        (dict(), dict(max_cost_usd=0.5), "max_cost_usd", lambda: setattr(run.spent, "cost_usd", 0.5)),
        (dict(), dict(max_tokens=10), "max_tokens", lambda: setattr(run.spent, "input_tokens", 10)),
        (dict(cannot_run="slot broken"), dict(), "evaluator_error", None),
        (dict(evaluator_errors=3, last_error="ruff crashed"), dict(evaluator_error=3), "evaluator_error", None),
        (dict(repeats=2), dict(), "repeated_patch", None),
        (dict(), dict(no_progress=2), "no_progress",
         lambda: run.history.extend([IterationRecord(1, 1, False, "templates"), IterationRecord(2, 1, False, "templates")])),
    ]
    for observed, numbers, reason, setup in cases:
        run = RunState("r", "fix", ".", "", remaining=["t"])
        if setup:
            setup()
        stop = check(replace(Observation(run, 0.0, 1.0), **observed), Limits(**numbers))
        assert stop is not None and stop.reason == reason, (reason, stop)
        assert stop.reason is StopReason(reason)  # the enum, which writes as the plain name
    run.history.append(IterationRecord(3, 1, False, "openai:m"))  # escalated: a fresh window
    assert check(Observation(run, 0.0, 1.0), Limits(no_progress=2)) is None


def test_event_rules_name_their_reasons():
    assert stop_rules.proposal_ends("no tool", "", "", True).reason == "blocked"
    assert stop_rules.proposal_ends("", "", "", False).reason == "no_candidates_left"
    assert stop_rules.proposal_ends("", "", "", True) is None
    assert stop_rules.human_rejected(2, 3, "no") is None
    stop = stop_rules.human_rejected(3, 3, "too clever")
    assert stop.reason == "human_stopped" and stop.detail.startswith("human_rejected: 3 patches")
    assert stop_rules.out_of_time(None, "x") is None and stop_rules.out_of_time(5.0, "x", now=4.0) is None
    assert stop_rules.out_of_time(5.0, "late", now=5.0) == stop_rules.Stop("max_wall_seconds", "late")
    assert stop_rules.termination("no_progress") == "budget_exhausted" and stop_rules.termination("") == ""
    assert stop_rules.termination("KeyboardInterrupt") == "error"
    assert json.dumps({"r": stop_rules.evaluator_fault("x").reason}) == '{"r": "evaluator_fault"}'


def test_large_records_are_written_on_one_line_and_read_back_the_same(tmp_path):
    from harness.core.state import write_json_atomic

    data = {"coverage": {f"t{i}": {"pkg/a.py": list(range(i, i + 5))} for i in range(3)}, "when": Path("x")}
    write_json_atomic(tmp_path / "big.json", data, indent=None)
    write_json_atomic(tmp_path / "small.json", data)
    big, small = (tmp_path / "big.json").read_text(), (tmp_path / "small.json").read_text()
    assert "\n" not in big and small.count("\n") > 10  # state.json stays readable
    assert json.loads(big) == json.loads(small) == {**data, "when": "x"}
    assert not list(tmp_path.glob("*.tmp"))  # written through a temp file, replaced
