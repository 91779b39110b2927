"""``loopwright review``: the GitHub client against a local GitHub-shaped server, comments
from GitHub or a file, and three comments carried out on a real repository."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from harness.core.config import RunConfig

from harness.work.fix import UsageError
from harness.core.protocols import Generator, Proposal
from harness.work.github import GitHub, GitHubError
from harness.work.review import (REPLY_MARKER, ReviewComment, fetch_comments, load_comments, open_threads,
                            parse_pr, post_replies, run_review, suggestions)
from loops.spec import Limits
from sandbox.patch import Patch, unified_diff
from tests.conftest import PYTHON, assert_clean, git, snapshot
from tests.github_server import GitHubServer
from evals.model_server import FakeLLMServer

TOKEN = "test-token"
REPO = "octo/app"


def client(srv: GitHubServer, **kw) -> GitHub:
    waits: list[float] = []
    gh = GitHub(kw.pop("token", TOKEN), api_url=srv.url, sleep=waits.append, **kw)
    gh.waits = waits
    return gh


# --- the client -------------------------------------------------------------------


def test_pagination_follows_link_headers():
    with GitHubServer(page_size=2) as srv:
        srv.add_pull(REPO, 7, "feature", "a" * 40)
        for i in range(5):
            srv.add_comment(REPO, 7, "a.py", i + 1, f"comment {i}")
        got = client(srv).review_comments(REPO, 7)
    assert [c["body"] for c in got] == [f"comment {i}" for i in range(5)]
    pages = [r for r in srv.requests if r.path.endswith("/comments")]
    assert [r.query.get("page", "1") for r in pages] == ["1", "2", "3"]
    assert pages[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert pages[0].headers["x-github-api-version"] == "2022-11-28"


def test_rate_limited_response_is_retried_after_the_reset():
    with GitHubServer() as srv:
        srv.add_pull(REPO, 1, "feature", "b" * 40)
        reset = str(int(time.time()) + 3)
        srv.fail("GET", f"/repos/{REPO}/pulls/1", 403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset})
        srv.fail("GET", f"/repos/{REPO}/pulls/1", 429, {"retry-after": "2"},
                 {"message": "You have exceeded a secondary rate limit."})
        gh = client(srv)
        assert gh.pull(REPO, 1)["head"]["ref"] == "feature"
    assert len([r for r in srv.requests if r.path == f"/repos/{REPO}/pulls/1"]) == 3
    assert 2.0 <= gh.waits[0] <= 5.0 and gh.waits[1] == 2.0  # slept until the reset, then retry-after


def test_rate_limit_beyond_the_budget_is_a_clear_error():
    with GitHubServer() as srv:
        srv.add_pull(REPO, 1, "feature", "b" * 40)
        srv.fail("GET", f"/repos/{REPO}/pulls/1", 403,
                 {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(time.time()) + 3600)})
        gh = client(srv, retry_budget=60)
        with pytest.raises(GitHubError) as info:
            gh.pull(REPO, 1)
    assert "rate limit" in str(info.value) and "retry budget of 60 s" in str(info.value)
    assert gh.waits == []  # never slept: the wait could not fit


def test_server_errors_are_retried_then_reported():
    with GitHubServer() as srv:
        srv.add_pull(REPO, 1, "feature", "b" * 40)
        for _ in range(3):
            srv.fail("GET", f"/repos/{REPO}/pulls/1", 502)
        with pytest.raises(GitHubError, match=r"502 .*gave up after 3 attempts"):
            client(srv, max_attempts=3).pull(REPO, 1)


def test_401_and_404_messages_say_what_to_do():
    with GitHubServer() as srv:
        srv.add_pull(REPO, 1, "feature", "b" * 40)
        with pytest.raises(GitHubError) as info:
            GitHub.from_env({"GH_TOKEN": "wrong", "GITHUB_API_URL": srv.url}).pull(REPO, 1)
        assert info.value.status == 401
        assert "the token in GH_TOKEN was rejected" in str(info.value) and "Bad credentials" in str(info.value)
        with pytest.raises(GitHubError) as info:
            client(srv).pull(REPO, 99)
        assert "not found or the token cannot see it" in str(info.value)
    assert len(srv.requests) == 2  # neither is retried


def test_graphql_url_for_enterprise_server():
    assert GitHub(api_url="https://ghe.example/api/v3").graphql_url == "https://ghe.example/api/graphql"
    assert GitHub().graphql_url == "https://api.github.com/graphql"


def test_sticky_comment_is_found_by_its_marker_and_edited():
    with GitHubServer(page_size=1) as srv:
        srv.add_pull(REPO, 3, "feature", "c" * 40)
        gh = client(srv)
        gh.create_issue_comment(REPO, 3, "an unrelated comment")
        first, created = gh.upsert_comment(REPO, 3, "<!-- m -->", "<!-- m -->\nrun 1")
        again, created_again = gh.upsert_comment(REPO, 3, "<!-- m -->", "<!-- m -->\nrun 2")
    assert created and not created_again and first["id"] == again["id"]
    assert [c["body"] for c in srv.issue_comments(REPO, 3)] == ["an unrelated comment", "<!-- m -->\nrun 2"]


# --- comments: threads, resolution, files -------------------------------------------


def test_only_unresolved_threads_with_replies_as_context():
    with GitHubServer() as srv:
        srv.add_pull(REPO, 5, "feature", "d" * 40)
        a = srv.add_comment(REPO, 5, "a.py", 3, "use a set here")
        srv.add_comment(REPO, 5, "a.py", 3, "and keep the order, please", author="bob", in_reply_to=a["id"])
        srv.add_comment(REPO, 5, "b.py", 9, "typo", resolved=True)
        c = srv.add_comment(REPO, 5, "c.py", 1, "rename?")
        srv.add_comment(REPO, 5, "c.py", 1, f"Done.\n\n{REPLY_MARKER}", author="bot", in_reply_to=c["id"])
        found, notes = fetch_comments(client(srv), REPO, 5)
        todo, skipped = open_threads(found)
        assert notes == []
        assert [t.body for t in todo] == ["use a set here"]
        task = todo[0].task()
        assert (task.kind, task.path, task.line) == ("review_comment", "a.py", 3)
        assert "bob: and keep the order, please" in task.instruction
        assert skipped and "c.py:1" in skipped[0] and "already replied" in skipped[0]

        srv.graphql_on = False  # an API without GraphQL: every top-level comment, and a note
        found, notes = fetch_comments(client(srv), REPO, 5)
        assert len(open_threads(found)[0]) == 2 and "treating every thread as unresolved" in notes[0]


def test_comments_file_json_and_yaml(tmp_path):
    items = [{"id": 1, "path": "a.py", "line": 2, "body": "why?", "author": "ann"},
             {"id": 2, "path": "a.py", "line": 2, "body": "because", "in_reply_to": 1},
             {"id": 3, "path": "b.py", "line": 4, "side": "LEFT", "body": "keep this", "resolved": False},
             {"id": 4, "path": "c.py", "line": 1, "body": "old", "resolved": True}]
    (tmp_path / "c.json").write_text(json.dumps(items))
    (tmp_path / "c.yaml").write_text(yaml.safe_dump({"comments": items}))
    for name in ("c.json", "c.yaml"):
        todo, _ = open_threads(load_comments(tmp_path / name))
        assert [c.id for c in todo] == [1, 3] and todo[0].replies[0].body == "because"
        assert todo[1].task().line == 0 and "old version" in todo[1].task().instruction
    (tmp_path / "bad.yaml").write_text("- path: a.py\n  line: 2\n")
    with pytest.raises(UsageError, match="needs at least path and body"):
        load_comments(tmp_path / "bad.yaml")
    with pytest.raises(UsageError, match="cannot read"):
        load_comments(tmp_path / "absent.json")


def test_parse_pr():
    assert parse_pr("octo/app#12") == ("octo/app", 12)
    assert parse_pr("https://github.com/octo/app/pull/12/files") == ("octo/app", 12)
    with pytest.raises(UsageError, match="OWNER/REPO#NUMBER"):
        parse_pr("octo/app/12")


def test_suggestions_one_per_hunk():
    old = "".join(f"line {i}\n" for i in range(1, 41))
    new = (old.replace("line 3\n", "line three\n").replace("line 20\n", "line 20\nline 20.5\n")
           .replace("line 30\nline 31\n", "lines 30-31\n"))
    found, leftover = suggestions(unified_diff("f.txt", old, new) + unified_diff("new.txt", "", "x\n"))
    assert leftover == ["new.txt"]
    assert found == [
        {"path": "f.txt", "line": 3, "side": "RIGHT", "body": "```suggestion\nline three\n```"},
        {"path": "f.txt", "line": 20, "side": "RIGHT", "body": "```suggestion\nline 20\nline 20.5\n```"},
        {"path": "f.txt", "line": 31, "start_line": 30, "start_side": "RIGHT", "side": "RIGHT",
         "body": "```suggestion\nlines 30-31\n```"}]


# --- three comments on a real repository ---------------------------------------------

FILES = {
    "greet.py": "def greet(name):\n    return 'hello ' + name\n\n\ndef shout(name):\n    return greet(name).upper()\n",
    "test_greet.py": ("from greet import greet, shout\n\n\ndef test_greet():\n    assert greet('ada') == 'hello ada'\n"
                      "\n\ndef test_shout():\n    assert shout('ada') == 'HELLO ADA'\n"),
}
DOC = FILES["greet.py"].replace("def shout(name):\n", "def shout(name):\n    \"\"\"greet, louder.\"\"\"\n")
OPTS = RunConfig(python=PYTHON, limits=Limits(max_iterations=3, max_wall_seconds=120, no_progress=4))


class Scripted(Generator):
    """Plays Proposals (or callables of the context) in order, across tasks."""

    name = "scripted"

    def __init__(self, script):
        self.script, self.contexts = list(script), []

    def generate(self, context):
        self.contexts.append(context)
        item = self.script.pop(0) if self.script else Proposal(blocked="script exhausted")
        return item(context) if callable(item) else item

    def reset(self):
        pass


def edit(new: str, desc: str) -> Proposal:
    return Proposal(candidates=[Patch.from_texts({"greet.py": (FILES["greet.py"], new)}, desc)])


def three_comments(srv: GitHubServer, head: str) -> None:
    srv.add_pull(REPO, 4, "feature", head)
    srv.add_comment(REPO, 4, "greet.py", 5, "shout() needs a docstring", author="ann")
    srv.add_comment(REPO, 4, "greet.py", 2, "Why concatenation rather than an f-string?", author="bob")
    srv.add_comment(REPO, 4, "greet.py", 2, "The greeting should be 'hi', not 'hello'.", author="cy")


def test_three_comments_resolved_answered_rejected_and_replied(make_repo):
    root = make_repo(FILES)
    before = snapshot(root)
    gen = Scripted([
        edit(DOC, "docstring"), Proposal(done="added a docstring to shout()"),
        Proposal(answer="Either works; concatenation keeps it Python 2 friendly."),
        edit(FILES["greet.py"].replace("'hello '", "'hi '"), "hi"),
        edit(FILES["greet.py"].replace("'hello '", "'hi there '"), "hi there"),
        edit(FILES["greet.py"].replace("'hello '", "'Hi '"), "Hi"),
    ])
    with GitHubServer() as srv:
        three_comments(srv, git(root, "rev-parse", "HEAD").strip())
        gh = client(srv)
        found, notes = fetch_comments(gh, REPO, 4)
        todo, _ = open_threads(found)
        report = run_review(root, todo, gen, OPTS, notes=notes)
        problems = post_replies(gh, REPO, 4, report, "on branch x")
        replies = srv.replies(REPO, 4)
    assert [r.status for r in report.results] == ["resolved", "answered", "failed"]
    resolved, answered, failed = report.results
    assert len(resolved.commits) == 1 and report.run.branch
    message = git(root, "log", "-1", "--format=%B", report.run.branch)
    assert "address review comment on greet.py:5" in message and "> shout() needs a docstring" in message
    assert '"""greet, louder."""' in git(root, "show", f"{report.run.branch}:greet.py")
    assert "'hi" not in git(root, "show", f"{report.run.branch}:greet.py")  # the breaking change never landed
    assert answered.detail.startswith("Either works")
    assert failed.stop_reason == "max_iterations" and "test_greet" in failed.rejected
    assert report.exit_code == 1 and report.counts() == {"resolved": 1, "answered": 1, "failed": 1}
    # the model saw each comment's location first
    assert (gen.contexts[0].task.path, gen.contexts[0].task.line) == ("greet.py", 5)
    assert problems == [] and len(replies) == 3
    assert replies[0]["body"].startswith(f"Addressed in {resolved.commits[0][:12]} (on branch x)")
    assert replies[1]["body"].startswith("Either works") and REPLY_MARKER in replies[1]["body"]
    assert "could not address" in replies[2]["body"] and "test_greet" in replies[2]["body"]
    assert [r["in_reply_to_id"] for r in replies] == [c.id for c in todo]
    summary = report.to_json()
    assert summary["comments"][1]["answer"].startswith("Either works")
    assert summary["comments"][2]["stop_reason"] == "max_iterations"
    assert snapshot(root) == before


def test_review_command_with_a_comments_file_and_a_real_openai_client(make_repo, tmp_path, monkeypatch):
    from loopwright.cli import app

    root = make_repo(FILES)
    comments = tmp_path / "comments.yaml"
    comments.write_text(yaml.safe_dump([
        {"id": 1, "path": "greet.py", "line": 5, "body": "shout() needs a docstring", "author": "ann"},
        {"id": 2, "path": "greet.py", "line": 2, "body": "Why concatenation?", "author": "bob"}]))
    answers = [
        "greet.py\n<<<<<<< SEARCH\ndef shout(name):\n=======\ndef shout(name):\n    \"\"\"greet, louder.\"\"\"\n"
        ">>>>>>> REPLACE\n",
        "DONE: added a docstring to shout()",
        "ANSWER: it predates f-strings in this codebase.",
    ]
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with FakeLLMServer(answers) as srv:
        result = CliRunner().invoke(app, ["review", str(root), "--comments", str(comments), "--json",
                                          "--model", "openai:gpt-4.1-mini", "--base-url", srv.openai_url,
                                          "--python", PYTHON, "--max-iterations", "3"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["counts"] == {"resolved": 1, "answered": 1, "failed": 0}
    assert [c["status"] for c in out["comments"]] == ["resolved", "answered"]
    assert out["comments"][1]["answer"] == "it predates f-strings in this codebase."
    assert len(out["comments"][0]["commits"]) == 1 and out["branch"].startswith("loopwright/")
    assert out["model_calls"] == 3 and out["exit_code"] == 0
    assert out["python"] == PYTHON and out["python_why"] == "--python"
    assert out["evaluators"]["tests"].startswith("pytest ") and "lint" in out["evaluators"]
    assert "shout() needs a docstring" in json.dumps(srv.requests[0].body)
    assert_clean(root, tmp_path / "worktrees")  # the run left no process, fork server or worktree


def test_review_command_on_a_pull_request_replies_on_the_thread(make_repo, monkeypatch):
    from loopwright.cli import app

    root = make_repo(FILES)
    with GitHubServer() as srv, FakeLLMServer(["ANSWER: it returns a str."]) as llm:
        srv.add_pull(REPO, 2, "feature", git(root, "rev-parse", "HEAD").strip())
        comment = srv.add_comment(REPO, 2, "greet.py", 1, "What does greet return?", author="ann")
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        result = CliRunner().invoke(app, ["review", str(root), "--pr", f"{REPO}#2", "--reply", "--json",
                                          "--model", "openai:gpt-4.1-mini", "--base-url", llm.openai_url,
                                          "--python", PYTHON], env={"GITHUB_API_URL": srv.url, "GH_TOKEN": TOKEN,
                                                                    "GITHUB_TOKEN": ""})
        [reply] = srv.replies(REPO, 2)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["comments"][0]["status"] == "answered" and out["comments"][0]["reply_url"] == reply["html_url"]
    assert reply["in_reply_to_id"] == comment["id"] and reply["body"].startswith("it returns a str.")
    assert out["notes"] == [] and out["branch"] == ""  # nothing committed


def test_review_command_usage_errors(tmp_path):
    from loopwright.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["review", str(tmp_path), "--json"])
    assert result.exit_code == 2 and "exactly one of --pr" in json.loads(result.stdout)["error"]
    (tmp_path / "c.json").write_text("[]")
    result = runner.invoke(app, ["review", str(tmp_path), "--comments", str(tmp_path / "c.json"), "--reply"])
    assert result.exit_code == 2 and "--reply" in result.output
    result = runner.invoke(app, ["review", str(tmp_path), "--comments", str(tmp_path / "c.json"),
                                 "--model", "templates"])
    assert result.exit_code == 2 and "need a model" in result.output


def test_comment_from_rest_shape():
    c = ReviewComment.from_dict({"id": 9, "path": "x.py", "line": None, "original_line": 7, "body": "b",
                                 "user": {"login": "z"}, "in_reply_to_id": 3, "side": "RIGHT"}, {9})
    assert (c.line, c.author, c.in_reply_to, c.resolved) == (7, "z", 3, True)


def test_review_loop_declaration_is_valid_lss():
    from loops.spec import builtin_spec

    schema = Path(__file__).resolve().parents[2] / "shared" / "reference" / "lss" / "lss-1.0.schema.json"
    spec = builtin_spec("review-comments")
    assert spec.evaluator_ids() == ["tests", "lint", "types"]
    assert spec.generator.split(":")[0] in ("anthropic", "openai")
    assert ".github/**" in spec.loopwright["protected_paths"] and "**/tests/**" not in spec.loopwright["protected_paths"]
    if schema.exists():
        from jsonschema import Draft202012Validator

        validator = Draft202012Validator(json.loads(schema.read_text()))
        document = yaml.safe_load((Path(__file__).resolve().parents[1] / "loops/review-comments.yaml").read_text())
        assert [e.message for e in validator.iter_errors(document)] == []
