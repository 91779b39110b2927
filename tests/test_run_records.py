"""Run records on disk: a ``state.json`` written by loopwright 0.1 (``tests/data/state-v1.json``,
made by an interrupted ``fix`` run before the run records were typed) still loads, writes
back in the same shape and resumes to a fix."""

from __future__ import annotations

import json
from pathlib import Path

from harness.core.state import RunFiles, load_state
from harness.generators.templates import TemplateGenerator
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
    assert again.pop("version") == 1  # the one key a typed record adds: the shape's version
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
    from harness.core.config import RunConfig
    from loops.spec import Limits

    return RunConfig(python=PYTHON, jobs=1, limits=Limits(max_iterations=10, max_wall_seconds=240))
