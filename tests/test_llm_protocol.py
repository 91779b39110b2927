"""The model-side protocol for instruction and review tasks: DONE, ANSWER, READ, the repo map.

The official SDKs talk to :mod:`evals.model_server` on 127.0.0.1; nothing leaves the machine.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.core.context import Attempt, Context, SuspiciousLocation
from harness.core.config import RunConfig
from harness.generators.anthropic_gen import AnthropicGenerator
from harness.generators.llm import RetryPolicy
from harness.generators.openai_gen import OpenAIGenerator
from harness.generators.replies import parse_reply, read_files
from harness.generators.repomap import build_repo_map, list_files, outline, words
from harness.work.instruct import carry_out, instruction_task
from loops.spec import Limits
from harness.core.task import Task
from tests.conftest import PYTHON, git
from evals.model_server import FakeLLMServer

FAST = RetryPolicy(attempts=2, max_wait=1.0, initial=0.01, max_backoff=0.02, retry_after_cap=0.1)
AGENTS = "House style: UNIQUE-CONVENTION-77."
LESSON = "greetings were title-cased with str.title() last time"

CALC = '''\
"""A tiny calculator."""


def add(a, b):
    """Sum of a and b."""
    result = a - b
    return result
'''

FORMATTING = '''\
def format_greeting(name):
    return "hello " + name


class GreetingStyle:
    def apply(self, text):
        return text
'''

EDIT_GREETING = """Title-case the name.

greeting/formatting.py
<<<<<<< SEARCH
    return "hello " + name
=======
    return "hello " + name.title()
>>>>>>> REPLACE
"""


@pytest.fixture(autouse=True)
def no_real_provider_env(monkeypatch):
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    files = {
        "calc.py": CALC,
        "greeting/__init__.py": "",
        "greeting/formatting.py": FORMATTING,
        "cli.py": "import sys\n\n\ndef main(argv=None):\n    return 0\n",
        "storage/database.py": "class Database:\n    def connect(self, url):\n        pass\n",
        "big.py": "".join(f"VALUE_{i} = {i}  # padding padding padding\n" for i in range(500)),
        "tests/test_calc.py": "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n",
        ".env": "SECRET=hunter2\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return tmp_path


def instruction(root: Path, text: str = "Title-case the name in the greeting.") -> Context:
    return Context(root, Task("instruction", instruction=text), protected=("tests/**",),
                   lessons=[LESSON], conventions=AGENTS)


def review(root: Path, body: str, path: str = "calc.py", line: int = 6) -> Context:
    return Context(root, Task("review_comment", instruction=body, path=path, line=line),
                   locations=[SuspiciousLocation(path, line, 1.0)], protected=("tests/**",))


def openai(srv: FakeLLMServer, **kw) -> OpenAIGenerator:
    return OpenAIGenerator("gpt-4.1-mini", api_key="sk-test", base_url=srv.openai_url, retry=FAST, **kw)


def anthropic(srv: FakeLLMServer, **kw) -> AnthropicGenerator:
    return AnthropicGenerator("claude-haiku-4-5", api_key="k", base_url=srv.anthropic_url, retry=FAST, **kw)


def user_text(body: dict) -> str:
    return body["messages"][-1]["content"]


def system_text(body: dict) -> str:
    return body["system"] if "system" in body else body["messages"][0]["content"]


# -- DONE and ANSWER ------------------------------------------------------------------------------


def test_done_gives_proposal_done_and_the_protocol_is_in_the_system_prompt(root):
    with FakeLLMServer(["The instruction is carried out.\n\nDONE: Title-cased the name in format_greeting."]) as srv:
        proposal = openai(srv).generate(instruction(root))
    assert proposal.done == "Title-cased the name in format_greeting."
    assert proposal.candidates == [] and proposal.answer == "" and not proposal.blocked
    system = system_text(srv.bodies()[0])
    for phrase in ("READ: path/to/file.py", "at most 5 files per answer", "DONE: ", "ANSWER: ",
                   "after 3 READ answers in a row", "You may read them."):
        assert phrase in system


def test_answer_to_a_review_question_gives_proposal_answer(root):
    with FakeLLMServer(["ANSWER: It subtracts on purpose?\nNo: that is the bug; see issue 12."]) as srv:
        proposal = anthropic(srv).generate(review(root, "Why does `add` subtract?"))
    assert proposal.answer == "It subtracts on purpose?\nNo: that is the bug; see issue 12."
    assert proposal.candidates == [] and proposal.done == ""
    body = srv.bodies()[0]
    assert "posted on the review thread" in body["system"]
    prompt = user_text(body)
    assert "At `calc.py`, line 6:\nWhy does `add` subtract?" in prompt
    # the code around the comment: the enclosing whole function
    assert "`calc.py`, lines 4-7 (`add`), line 6 (the comment's location)" in prompt
    assert 'def add(a, b):\n    """Sum of a and b."""\n    result = a - b\n    return result\n' in prompt
    assert "## Repository map" in prompt and prompt.index("## Code") < prompt.index("## Repository map")


def test_failing_tests_tasks_are_not_offered_the_protocol(root):
    ctx = Context(root, Task("failing_tests"), protected=("tests/**",))
    with FakeLLMServer(["DONE: fixed it"]) as srv:
        proposal = openai(srv).generate(ctx)
    assert proposal.done == "" and proposal.notes[0].startswith("no edits found")
    system = system_text(srv.bodies()[0])
    assert "READ:" not in system and "DONE:" not in system
    assert "## Repository map" not in user_text(srv.bodies()[0])


def test_edits_win_over_a_done_line_and_the_model_is_told(root):
    with FakeLLMServer([EDIT_GREETING + "\nDONE: all done", "DONE: title-cased"]) as srv:
        gen = openai(srv)
        ctx = instruction(root)
        first = gen.generate(ctx)
        gen.generate(ctx)
    assert first.done == "" and first.candidates[0].files == ("greeting/formatting.py",)
    assert "DONE ignored: the answer also had edits" in first.notes
    assert "its DONE line was ignored" in user_text(srv.bodies()[1])


def test_parse_reply_kinds():
    assert parse_reply("**DONE:** shipped", ("done",)).text == "shipped"
    assert parse_reply("DONE: x", ("answer",)) is None  # not offered
    r = parse_reply("I need context.\nREAD: `a.py`, b.py:10-20\nREAD: a.py (again)\n")
    assert r.kind == "read" and r.paths == ("a.py", "b.py:10-20")
    assert parse_reply("READ: a.py\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n") is None


# -- READ --------------------------------------------------------------------------------------------


def test_read_is_served_bounded_and_refusals_are_explained(root):
    asked = "READ: greeting/formatting.py\nREAD: big.py\nREAD: ../outside.py\nREAD: missing.py\nREAD: /etc/hosts\n"
    with FakeLLMServer([asked, EDIT_GREETING]) as srv:
        gen = openai(srv, max_read_bytes=2000)
        ctx = instruction(root)
        first = gen.generate(ctx)
        second = gen.generate(ctx)
    assert first.candidates == [] and not first.blocked and first.done == ""
    assert first.notes[0].startswith("read greeting/formatting.py, big.py (cut: big.py); refused: ")
    assert gen.malformed_in_row == 0 and gen.reads_in_row == 0  # the edit reset the streak
    assert second.candidates[0].files == ("greeting/formatting.py",)

    served = user_text(srv.bodies()[1])
    assert FORMATTING in served  # the whole small file, verbatim
    shown = [ln for ln in served.splitlines() if ln.startswith("VALUE_")]
    assert 0 < len(shown) < 500 and sum(len(ln) + 1 for ln in shown) <= 2000
    assert f"`big.py`, lines 1-{len(shown)} of 500:" in served
    assert f"ask `READ: big.py:{len(shown) + 1}-500` for the rest" in served
    assert "- ../outside.py: not read: '..' is not allowed" in served
    assert "- missing.py: not read: no such file" in served
    assert "- /etc/hosts: not read: absolute paths are not allowed" in served
    assert "localhost" not in served
    assert "Now make the change as SEARCH/REPLACE blocks" in served


def test_at_most_five_files_per_read(root):
    for i in range(7):
        (root / f"m{i}.py").write_text(f"X{i} = {i}\n")
    asked = "\n".join(f"READ: m{i}.py" for i in range(7))
    with FakeLLMServer([asked, "DONE: nothing to change"]) as srv:
        gen = openai(srv)
        ctx = instruction(root)
        gen.generate(ctx)
        gen.generate(ctx)
    served = user_text(srv.bodies()[1])
    assert all(f"X{i} = {i}" in served for i in range(5))
    assert "X5 = 5" not in served and "X6 = 6" not in served
    assert "only 5 files are read per answer; not read: m5.py, m6.py" in served


def test_read_files_limits_and_safety(root, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside") / "secret.py"
    outside.write_text("TOKEN = 'x'\n")
    os.symlink(outside, root / "link.py")
    (root / "blob.py").write_bytes(b"\x00\x01binary")
    asked = ["link.py", ".env", "greeting", ".git/config", "blob.py", "big.py:10-12"]
    files, notes = read_files(root, asked, max_files=6)
    assert [(f.path, f.start, f.end, f.lines) for f in files] == [("big.py", 10, 12, 500)]
    assert files[0].code == "".join(f"VALUE_{i} = {i}  # padding padding padding\n" for i in (9, 10, 11))
    assert notes == [
        "link.py: not read: resolves outside the repository",
        ".env: not read: the file may hold credentials",
        "greeting: not read: a directory; name the files (see the repository map)",
        ".git/config: not read: .git is not part of the code",
        "blob.py: not read: a binary file",
    ]
    files, notes = read_files(root, ["big.py", "calc.py", "cli.py"], max_bytes=20_000, max_total=20_100)
    assert [f.path for f in files] == ["big.py"] and files[0].truncated
    assert notes[0].startswith("calc.py: not read: the read budget of 20100 bytes")


def test_read_streak_limit_then_read_does_not_count_as_malformed(root):
    read = "READ: calc.py"
    with FakeLLMServer([read, read, read, read, EDIT_GREETING]) as srv:
        gen = openai(srv, max_reads_in_row=3)
        ctx = instruction(root)
        results = [gen.generate(ctx) for _ in range(5)]
    assert [r.notes[0].startswith("read calc.py") for r in results[:3]] == [True] * 3
    assert gen.reads_in_row == 0 and results[4].candidates
    fourth = results[3]
    assert fourth.candidates == [] and not fourth.blocked
    assert fourth.notes == ["you asked to read files 3 times in a row; nothing was read this time. "
                            "Edit now with SEARCH/REPLACE blocks, or reply DONE (or ANSWER)"]
    fifth_request = user_text(srv.bodies()[4])
    assert fourth.notes[0] in fifth_request and "def add(a, b)" not in fifth_request  # not served

    with FakeLLMServer(["no edit here", read, "still no edit"]) as srv:
        gen = openai(srv, max_malformed=2)
        ctx = instruction(root)
        results = [gen.generate(ctx) for _ in range(3)]
    assert [bool(r.blocked) for r in results] == [False, False, True]  # READ neither counted nor reset
    assert "2 unusable answers in a row" in results[2].blocked


# -- the first prompt: repo map, conventions, lessons ------------------------------------------------


def test_repo_map_in_the_first_instruction_prompt_ranks_the_matching_file_first(root):
    with FakeLLMServer(["DONE: ok"]) as srv:
        openai(srv).generate(instruction(root, "Make format_greeting title-case the name."))
    prompt = user_text(srv.bodies()[0])
    assert "Carry out this instruction from the developer:\n\nMake format_greeting title-case the name." in prompt
    assert "UNIQUE-CONVENTION-77" in prompt and LESSON in prompt
    repo_map = prompt.split("## Repository map", 1)[1].split("```")[1]
    entries = [ln for ln in repo_map.strip().splitlines() if not ln.startswith(" ")]
    assert entries[0] == "greeting/formatting.py:"
    assert "  def format_greeting(name)\n  class GreetingStyle: apply" in repo_map
    assert "storage/database.py:" in entries and ".env" not in repo_map
    assert "  VALUE_0\n" in repo_map and "  ... (492 more constants)" in repo_map and "VALUE_9\n" not in repo_map


def test_repo_map_outline_budget_and_gitignore(make_repo):
    repo = make_repo({
        "pkg/config_loader.py": "import os\n\nMAX_SIZE = 3\n\n\nasync def load_config(path, *, strict=False, **kw):\n"
                                "    pass\n\n\nclass Loader(Base):\n    def __init__(self):\n        pass\n"
                                "    def read(self):\n        pass\n    def __repr__(self):\n        return ''\n",
        "pkg/broken.py": "def oops(:\n",
        "pkg/other.py": "def unrelated():\n    pass\n",
        "notes.txt": "text\n",
        ".gitignore": "ignored/\n",
        "ignored/junk.py": "def load_config():\n    pass\n",
    })
    assert "ignored/junk.py" not in list_files(repo) and "pkg/other.py" in list_files(repo)
    entry = outline(repo, "pkg/config_loader.py")
    assert entry.symbols == ("MAX_SIZE", "async def load_config(path, *, strict, **kw)",
                             "class Loader(Base): __init__, read")
    assert outline(repo, "pkg/broken.py").note == "does not parse"
    full = build_repo_map(repo, "load the config strictly", 10_000)
    assert full.files[0] == "pkg/config_loader.py" and full.omitted == 0
    assert full.scores["pkg/config_loader.py"] > full.scores["pkg/other.py"] == 0.0
    small = build_repo_map(repo, "load the config strictly", 12)
    assert small.files[0] == "pkg/config_loader.py" and small.omitted >= 2
    assert small.text.startswith("pkg/config_loader.py") and "MAX_SIZE" not in small.text  # path only
    assert words("parseArgs(max_len) the HTTPServer") == {"parse", "args", "max", "len", "http", "server"}


# -- feedback: accepted, rejected by the developer ---------------------------------------------------


def test_an_accepted_patch_is_reported_and_the_model_asked_to_continue_or_say_done(root):
    with FakeLLMServer([EDIT_GREETING, "DONE: Title-cased the name."]) as srv:
        gen = openai(srv)
        ctx = instruction(root)
        patch = gen.generate(ctx).candidates[0]
        (root / "greeting/formatting.py").write_text(FORMATTING.replace("+ name", "+ name.title()"))
        ctx.attempts.append(Attempt(patch.digest, patch.description, True,
                                    "accepted and applied: verified: no regressions", patch.diff))
        ctx.iteration = 2
        done = gen.generate(ctx)
    assert done.done == "Title-cased the name."
    follow_up = user_text(srv.bodies()[1])
    assert "Your patch (Title-case the name.) was accepted and applied (verified: no regressions). " \
           "It is now part of the code." in follow_up
    assert "so far" not in follow_up  # the list of accepted patches comes once there are two
    assert "Continue with the next change as SEARCH/REPLACE blocks against the current code, or, " \
           "if the instruction is now fully carried out, reply `DONE: <one-paragraph summary>`." in follow_up
    assert "rejected" not in follow_up


def test_a_developer_rejection_reason_reaches_the_next_request(root):
    with FakeLLMServer([EDIT_GREETING, EDIT_GREETING.replace(".title()", ".capitalize()")]) as srv:
        gen = anthropic(srv)
        ctx = review(root, "Title-case the greeting.", path="greeting/formatting.py", line=2)
        patch = gen.generate(ctx).candidates[0]
        ctx.attempts.append(Attempt(patch.digest, patch.description, False,
                                    "rejected by the developer: use capitalize(), not title()", patch.diff))
        ctx.iteration = 2
        second = gen.generate(ctx)
    assert "capitalize()" in second.candidates[0].diff
    follow_up = user_text(srv.bodies()[1])
    assert "The developer rejected your patch (Title-case the name.), saying:\n\n" \
           "> use capitalize(), not title()" in follow_up
    assert "It has been reverted" in follow_up and "meets the developer's objection" in follow_up


# -- in the loop ---------------------------------------------------------------------------------------


def test_read_edit_done_through_the_instruction_loop(make_repo):
    repo = make_repo({
        "greet.py": "def greet(name):\n    return 'hello ' + name\n",
        "test_greet.py": "from greet import greet\n\ndef test_greet():\n    assert greet('ada').endswith('ada')\n",
        "AGENTS.md": "Keep greetings short. UNIQUE-CONVENTION-78\n",
    })
    edit = "Capitalise.\n\ngreet.py\n<<<<<<< SEARCH\n    return 'hello ' + name\n=======\n" \
           "    return 'Hello, ' + name\n>>>>>>> REPLACE\n"
    opts = RunConfig(python=PYTHON, limits=Limits(max_iterations=5, max_wall_seconds=120, no_progress=4))
    with FakeLLMServer(["READ: greet.py", edit, "DONE: The greeting is capitalised."]) as srv:
        res = carry_out(repo, [instruction_task("capitalise the greeting")], openai(srv), opts)
    assert [o.status for o in res.outcomes] == ["done"] and res.outcomes[0].detail == "The greeting is capitalised."
    assert len(res.outcomes[0].commits) == 1 and "Hello, " in git(repo, "show", f"{res.branch}:greet.py")
    first, second, third = (user_text(b) for b in srv.bodies())
    assert "UNIQUE-CONVENTION-78" in first and "greet.py:\n  def greet(name)" in first
    assert "def greet(name):\n    return 'hello ' + name\n" in second  # the file it asked for
    assert "was accepted and applied" in third and "reply `DONE: <one-paragraph summary>`" in third


def test_follow_up_lists_the_accepted_patches_once_there_are_two(root):
    from harness.generators.prompt import build_first, build_retry
    from harness.generators.tokens import TokenCounter

    counter = TokenCounter("anthropic", "m")
    ctx = instruction(root)
    ctx.attempts.append(Attempt("a1", "title-case the name", True, "accepted and applied: ok"))
    first, shown = build_first(ctx, counter, 4000)
    assert "## Already accepted and applied" in first and "- title-case the name" in first
    ctx.attempts.append(Attempt("a2", "add a style", True, "accepted and applied: ok"))
    text, shown = build_retry(ctx, counter, 4000, shown, "")
    assert "Your patch (add a style) was accepted and applied (ok)" in text
    assert "so far for this instruction:\n- title-case the name\n- add a style\n" in text
    text, _ = build_retry(ctx, counter, 4000, shown, "", {"files": [], "notes": ["x.py: not read: no such file"]})
    assert text.startswith("Not read:\n- x.py: not read: no such file") and "accepted and applied" not in text
