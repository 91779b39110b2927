"""The instruction/review loop with a scripted generator (deterministic, no model)."""

from __future__ import annotations

from harness.core.config import RunConfig
from harness.core.protocols import Generator, Proposal
from harness.work.instruct import carry_out, instruction_task
from loops.spec import Limits
from harness.core.task import Task
from sandbox.patch import Patch
from tests.conftest import PYTHON, git, snapshot

FILES = {
    "greet.py": "def greet(name):\n    return 'hello ' + name\n",
    "test_greet.py": "from greet import greet\n\ndef test_greet():\n    assert greet('ada').endswith('ada')\n",
}


class Scripted(Generator):
    """A generator that plays a script: each item is a Proposal or a callable(context) -> Proposal."""

    name = "scripted"

    def __init__(self, script):
        self.script = list(script)
        self.contexts = []

    def generate(self, context):
        self.contexts.append(context)
        item = self.script.pop(0) if self.script else Proposal(done="nothing left")
        return item(context) if callable(item) else item

    def reset(self):
        pass


def edit(old: str, new: str, path: str = "greet.py", desc: str = "edit") -> Proposal:
    return Proposal(candidates=[Patch.from_texts({path: (old, new)}, desc)])


OPTS = RunConfig(python=PYTHON, limits=Limits(max_iterations=6, max_wall_seconds=120, no_progress=4))


def test_two_approved_patches_become_two_commits_then_done(make_repo):
    root = make_repo(FILES)
    before = snapshot(root)
    v1 = FILES["greet.py"].replace("'hello '", "'Hello, '")
    v2 = v1 + "\n\ndef shout(name):\n    return greet(name).upper()\n"
    gen = Scripted([edit(FILES["greet.py"], v1, desc="capitalise"), edit(v1, v2, desc="add shout"),
                    Proposal(done="greeting capitalised and shout() added")])
    res = carry_out(root, [instruction_task("capitalise the greeting and add shout()")], gen, OPTS)
    assert res.exit_code == 0 and [o.status for o in res.outcomes] == ["done"]
    assert len(res.outcomes[0].commits) == 2
    log = git(root, "log", "--format=%s", res.branch).splitlines()
    assert log[:2] == ["loopwright: capitalise the greeting and add shout()"] * 2
    assert "def shout" in git(root, "show", f"{res.branch}:greet.py")
    assert snapshot(root) == before
    # the generator was told its first patch was accepted
    assert any(a.accepted and a.reason.startswith("accepted and applied") for a in gen.contexts[1].attempts)


def test_a_patch_that_breaks_a_test_is_never_offered_for_approval(make_repo):
    root = make_repo(FILES)
    asked = []
    broken = FILES["greet.py"].replace("'hello ' + name", "'hello'")
    good = FILES["greet.py"].replace("'hello '", "'hi '")
    gen = Scripted([edit(FILES["greet.py"], broken, desc="break"), edit(FILES["greet.py"], good, desc="hi"),
                    Proposal(done="ok")])
    res = carry_out(root, [instruction_task("say hi")], gen, OPTS,
                    approve=lambda o: asked.append(o.patch.description) or ("approve", ""))
    assert asked == ["hi"]
    assert "breaks test_greet.py::test_greet" in gen.contexts[1].attempts[-1].reason
    assert res.outcomes[0].status == "done"


def test_rejection_reason_reaches_the_generator_and_stop_ends_the_run(make_repo):
    root = make_repo(FILES)
    good = FILES["greet.py"].replace("'hello '", "'hi '")
    better = FILES["greet.py"].replace("'hello '", "'hey '")
    answers = iter([("reject", "use 'hey', not 'hi'"), ("stop", "enough")])
    gen = Scripted([edit(FILES["greet.py"], good, desc="hi"), edit(FILES["greet.py"], better, desc="hey")])
    res = carry_out(root, [instruction_task("greet informally")], gen, OPTS, approve=lambda o: next(answers))
    assert gen.contexts[1].attempts[-1].reason == "rejected by the developer: use 'hey', not 'hi'"
    assert res.outcomes[0].stop_reason == "human_stopped" and res.exit_code == 1
    assert res.patch == ""  # nothing approved: no branch kept
    assert not git(root, "branch", "--list", "loopwright/*").strip()


def test_check_command_must_pass(make_repo):
    root = make_repo(FILES)
    good = FILES["greet.py"].replace("'hello '", "'hi '")
    gen = Scripted([edit(FILES["greet.py"], good, desc="hi"), Proposal(done="ok")])
    res = carry_out(root, [instruction_task("say hi")], gen, OPTS,
                    check=[PYTHON, "-c", "import greet, sys; sys.exit(greet.greet('x') != 'hey x')"])
    assert res.outcomes[0].commits == []
    assert "the check command" in gen.contexts[1].attempts[-1].reason


def test_review_comments_in_order_question_answered(make_repo):
    root = make_repo(FILES)
    v1 = FILES["greet.py"].replace("def greet(name):", "def greet(name: str) -> str:")
    gen = Scripted([edit(FILES["greet.py"], v1, desc="annotate"), Proposal(done="annotated"),
                    Proposal(answer="It returns a str; see the annotation.")])
    tasks = [Task("review_comment", instruction="please add type hints", path="greet.py", line=1),
             Task("review_comment", instruction="what does this return?", path="greet.py", line=2)]
    res = carry_out(root, tasks, gen, OPTS, loop_name="review-comments")
    assert [o.status for o in res.outcomes] == ["done", "answered"]
    assert res.outcomes[1].detail.startswith("It returns a str")
    assert gen.contexts[0].locations[0].path == "greet.py" and gen.contexts[0].locations[0].line == 1
    msg = git(root, "log", "-1", "--format=%B", res.branch)
    assert "address review comment on greet.py:1" in msg and "> please add type hints" in msg
