"""Lessons are read back only when asked (issue 22): leave-one-out measured no gain, so by
default a run neither reweights the offline repairer's operator priors by past fixes nor puts
lessons in a model's prompt; ``read_lessons`` (flag, ``LOOPWRIGHT_READ_LESSONS``,
``[tool.loopwright]``) turns both on. Lessons are still written either way."""

from __future__ import annotations

from harness.core import config
from harness.core.config import RunConfig
from harness.core.lesson_records import read_records
from harness.core.protocols import Proposal, Usage
from harness.generators.mutations import OPERATOR_PRIORS
from harness.generators.templates import TemplateGenerator
from harness.work.fix import fix
from loops.spec import Limits, builtin_spec
from tests.conftest import PYTHON
from tests.test_lessons_retrieval import CLAMP


class Spy:
    """A generator that only looks: what the loop shows it, then nothing to propose."""

    name = "spy"
    builds_on_leads = False

    def __init__(self):
        self.seen = []

    def generate(self, context):
        self.seen.append((list(context.lessons), dict(context.operator_priors)))
        return Proposal(candidates=[])

    def estimate(self, context=None):
        return Usage()

    def reset(self):
        pass

    @property
    def current(self):
        return self


def _fixed_once(make_repo):
    root = make_repo(CLAMP)
    res = fix(root, TemplateGenerator(), RunConfig(python=PYTHON, limits=Limits(30, 240, 8)))
    assert res.state.status == "fixed"
    (rec,) = read_records(root)  # the lesson is written whatever read_lessons says
    return root, rec


def test_lessons_are_not_read_back_by_default_and_are_with_read_lessons(make_repo):
    root, rec = _fixed_once(make_repo)  # the worktree only: the bug is still in the repository
    limits = Limits(max_iterations=1, max_wall_seconds=240, no_progress=8)

    off = Spy()
    fix(root, off, RunConfig(python=PYTHON, limits=limits))
    assert off.seen and off.seen[0] == ([], {})  # no lesson in the prompt, the templates' own priors

    on = Spy()
    fix(root, on, RunConfig(python=PYTHON, limits=limits, settings={"read_lessons": True}))
    lessons, priors = on.seen[0]
    assert any("mathx/__init__.py" in text for text in lessons)
    op = rec["operator"]
    assert priors[op] > OPERATOR_PRIORS[op]  # the repository's own fix raised its operator


def test_read_lessons_is_a_documented_setting_off_by_default(tmp_path):
    loop = builtin_spec("fix-failing-tests")
    assert not config.build(loop, tmp_path, {}, env={}).settings.get("read_lessons")
    assert config.build(loop, tmp_path, {}, env={"LOOPWRIGHT_READ_LESSONS": "on"}).settings["read_lessons"] is True
    (tmp_path / "pyproject.toml").write_text("[tool.loopwright]\nread_lessons = true\n")
    assert config.build(loop, tmp_path, {}, env={}).settings["read_lessons"] is True
    assert config.build(loop, tmp_path, {"read_lessons": False}, env={}).settings["read_lessons"] is False
    assert "LOOPWRIGHT_READ_LESSONS" in config.settings_table()
