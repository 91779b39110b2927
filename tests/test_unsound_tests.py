"""A passing test that fails in every validation worktree whatever the patch (it needs the
coverage tracer the baseline ran under: python-dotenv's ``sys.gettrace()`` check; or what the
baseline run left behind, or an order) is run once without any patch after it failed with
two candidates, and is no longer held against candidates
(:meth:`harness.core.stages.CandidateStages._fails_without_patch`). Real repository, real
``loopwright fix`` with the offline default."""

from __future__ import annotations

import json

from tests.conftest import fix_offline, run_dir

FILES = {
    "adult.py": "def is_adult(age):\n    return age > 18\n",
    "test_adult.py": ("import sys\n\nfrom adult import is_adult\n\n\n"
                      "def test_eighteen():\n    assert is_adult(18)\n\n\n"
                      "def test_thirty():\n    assert is_adult(30)\n\n\n"
                      "def test_traced():\n"
                      "    # passes only under a trace function: the coverage baseline's\n"
                      "    assert sys.gettrace() is not None\n"),
}


def test_a_test_failing_without_any_patch_stops_blocking_every_fix(make_repo):
    out, root, _before = fix_offline(make_repo, FILES)
    assert out["status"] == "fixed", out
    steps = [json.loads(line) for line in (run_dir(root, out["run_id"]) / "trajectory.jsonl").read_text().splitlines()]
    reasons = [s["verdict"]["reason"] for s in steps if s["action"] == "evaluate"]
    blocked = [r for r in reasons if r.startswith("breaks test_adult.py::test_traced (passed before)")]
    # two candidates (validated side by side: either may be the second), then the pristine run
    assert len(blocked) == 2, reasons
    assert sum("fails without any patch in a validation worktree too" in r for r in blocked) == 1, blocked
    confirm = next(s for s in steps if s["action"] == "confirm")
    # test_thirty and the fixed test_eighteen; test_traced is not asked again
    assert confirm["agrees"] and confirm["tests"] == 2, confirm
