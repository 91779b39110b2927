"""``loopwright ci`` as a GitHub Actions bot: a local GitHub-shaped server, a bare local
repository standing in for the push target, real git and real pytest; and ``action.yml``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from harness.cli import ci as cli_ci
from loopwright.cli import app
from harness.cli.ci import decide, delivery, run_ci
from harness.work.github import GitHub
from harness.work.review import REPLY_MARKER, STATUS_MARKER
from sandbox.patch import unified_diff
from tests.conftest import git
from tests.github_server import GitHubServer
from evals.model_server import FakeLLMServer

TOKEN = "test-token"
REPO = "octo/app"
# a bug the offline templates repairer fixes with its first candidate (a comparison swap)
BUGGY = {"ages.py": "def is_adult(age):\n    return age > 18\n",
         "tests/test_ages.py": ("from ages import is_adult\n\n\ndef test_eighteen():\n    assert is_adult(18)\n"
                                "\n\ndef test_child():\n    assert not is_adult(3)\n")}
ROOT = Path(__file__).resolve().parents[1]



@pytest.fixture(autouse=True)
def _no_keys(monkeypatch):
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "GITHUB_TOKEN", "GH_TOKEN",
                 "GITHUB_GRAPHQL_URL", "GITHUB_STEP_SUMMARY", "GITHUB_EVENT_PATH", "GITHUB_EVENT_NAME"):
        monkeypatch.delenv(name, raising=False)


def pr_workspace(make_repo, tmp_path, files) -> tuple[Path, Path, str]:
    """A workspace checked out at PR branch ``feature`` and its bare ``origin``; returns
    (workspace, remote, head sha)."""
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    ws = make_repo(files)
    git(ws, "remote", "add", "origin", str(remote))
    git(ws, "push", "-q", "origin", "main")
    git(ws, "checkout", "-q", "-b", "feature")
    (ws / "NOTES.md").write_text("feature work\n")
    git(ws, "add", "NOTES.md")
    git(ws, "commit", "-qm", "feature work")
    git(ws, "push", "-q", "origin", "feature")
    return ws, remote, git(ws, "rev-parse", "HEAD").strip()


def event(tmp_path, srv, ws, name: str, payload: dict) -> dict:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({"repository": {"full_name": REPO, "default_branch": "main"}, **payload}))
    return {"GITHUB_EVENT_NAME": name, "GITHUB_EVENT_PATH": str(path), "GITHUB_REPOSITORY": REPO,
            "GITHUB_WORKSPACE": str(ws), "GITHUB_API_URL": srv.url, "GITHUB_TOKEN": TOKEN}


def pr_event(tmp_path, srv, ws, pr: dict) -> dict:
    return event(tmp_path, srv, ws, "pull_request", {"action": "synchronize", "number": pr["number"],
                                                     "pull_request": pr})


def sticky(srv, number: int) -> list[dict]:
    return [c for c in srv.issue_comments(REPO, number) if STATUS_MARKER in c["body"]]


# a module the fix does not touch: its test's baseline result is reused by the next run
OTHER = {"names.py": "def shout(s):\n    return s.upper()\n",
         "tests/test_names.py": "from names import shout\n\n\ndef test_shout():\n    assert shout('a') == 'A'\n"}


def test_pull_request_with_failing_tests_pushes_a_fix_and_edits_one_sticky_comment(make_repo, tmp_path):
    ws, remote, head = pr_workspace(make_repo, tmp_path, {**BUGGY, **OTHER})
    with GitHubServer() as srv:
        pr = srv.add_pull(REPO, 4, "feature", head)
        env = pr_event(tmp_path, srv, ws, pr)
        result = CliRunner().invoke(app, ["ci", "--json"], env=env)
        assert result.exit_code == 0, result.output
        out = json.loads(result.stdout)
        assert out["job"] == "fix" and out["delivery"] == "pushed" and out["result"]["status"] == "fixed"
        pushed = git(remote, "rev-parse", "refs/heads/feature").strip()
        assert pushed == out["pushed"] and git(remote, "rev-parse", f"{pushed}^").strip() == head
        assert "age >= 18" in git(remote, "show", "feature:ages.py")
        assert git(remote, "rev-parse", "refs/heads/main").strip() == git(ws, "rev-parse", "main").strip()
        [comment] = sticky(srv, 4)
        assert "**fixed**" in comment["body"] and f"pushed {pushed[:12]} to `feature`" in comment["body"]
        assert "tests/test_ages.py::test_eighteen" in comment["body"] and "$0.0000" in comment["body"]
        assert "ran every test (no earlier baseline is stored)" in comment["body"]

        # the next run, on the pushed head: nothing to fix; the same comment is edited in place
        git(ws, "fetch", "-q", "origin")
        git(ws, "reset", "-q", "--hard", "origin/feature")
        pr["head"]["sha"] = pushed
        out2 = run_ci(env)
        assert out2["exit_code"] == 0 and out2["result"]["status"] == "nothing_to_fix"
        assert out2["status_comment"] == {"id": comment["id"], "created": False, "url": comment["html_url"]}
        [again] = sticky(srv, 4)
        assert "all tests pass" in again["body"]
        # the baseline cache (.git/loopwright, kept across CI runs by actions/cache: docs/ci.md)
        assert "reused 1 of 3 test results from an earlier run; ran 2" in again["body"]
        assert out2["result"]["baseline_reused"] == 1
        posts = [r for r in srv.requests if r.method == "POST" and r.path.endswith("/issues/4/comments")]
        patches = [r for r in srv.requests if r.method == "PATCH"]
        assert len(posts) == 1 and len(patches) == 1
        assert git(remote, "rev-parse", "refs/heads/feature").strip() == pushed  # nothing new pushed


def test_fork_pull_request_gets_suggestions_not_a_push(make_repo, tmp_path):
    ws, remote, head = pr_workspace(make_repo, tmp_path, BUGGY)
    with GitHubServer() as srv:
        pr = srv.add_pull(REPO, 8, "feature", head, head_repo="someone/app")
        env = {**pr_event(tmp_path, srv, ws, pr), "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md")}
        out = run_ci(env)
        [review] = srv.reviews(REPO, 8)
        [comment] = sticky(srv, 8)
    assert out["exit_code"] == 0 and out["delivery"] == "suggested" and out["suggestions"] == 1
    assert git(remote, "rev-parse", "refs/heads/feature").strip() == head  # never pushed
    assert review["commit_id"] == head and "fork" in review["body"]
    [suggestion] = review["comments"]
    assert suggestion == {"path": "ages.py", "line": 2, "side": "RIGHT",
                          "body": "```suggestion\n    return age >= 18\n```"}
    assert "comes from a fork (someone/app)" in comment["body"] and "```diff" in comment["body"]
    assert "comes from a fork" in (tmp_path / "summary.md").read_text()  # the job summary too


def test_suggestions_github_refuses_fall_back_to_the_patch_in_the_status_comment(tmp_path):
    patch = unified_diff("ages.py", BUGGY["ages.py"], BUGGY["ages.py"].replace(">", ">="))
    with GitHubServer(commentable={}) as srv:  # no line of the PR's diff: GitHub answers 422
        pr = srv.add_pull(REPO, 9, "feature", "e" * 40, head_repo="someone/app")
        out = {"exit_code": 0}
        text = cli_ci._deliver(GitHub(TOKEN, api_url=srv.url), REPO, pr, tmp_path, *delivery(pr, REPO),
                                   "origin", "unused", patch, out, lambda m: None)
    assert out == {"exit_code": 0, "delivery": "comment"} and srv.reviews(REPO, 9) == []
    assert "GitHub refused the suggestions" in text and "Line could not be resolved" in text
    assert "the patch is below" in text


def test_mentions_run_review_push_and_reply(make_repo, tmp_path, monkeypatch):
    ws, remote, head = pr_workspace(make_repo, tmp_path, BUGGY)
    with GitHubServer() as srv, FakeLLMServer([
            "ages.py\n<<<<<<< SEARCH\ndef is_adult(age):\n=======\ndef is_adult(age: int) -> bool:\n"
            ">>>>>>> REPLACE\n",
            "DONE: annotated is_adult()",
            "ANSWER: the README explains it.",
    ]) as llm:
        srv.add_pull(REPO, 6, "feature", head)
        srv.add_comment(REPO, 6, "ages.py", 1, "please add type hints", author="ann")
        srv.add_comment(REPO, 6, "NOTES.md", 1, "what is this file for?", author="bob")
        env = event(tmp_path, srv, ws, "issue_comment", {
            "action": "created", "issue": {"number": 6, "pull_request": {"url": "…"}},
            "comment": {"body": "@loopwright please address the review", "user": {"login": "ann"}}})
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        monkeypatch.setenv("OPENAI_BASE_URL", llm.openai_url)
        out = run_ci(env, flags={"model": "openai:gpt-4.1-mini", "max_iterations": 3})
        replies = srv.replies(REPO, 6)
        [comment] = sticky(srv, 6)
    assert out["job"] == "review" and out["delivery"] == "pushed" and out["exit_code"] == 0, out
    assert out["result"]["counts"] == {"resolved": 1, "answered": 1, "failed": 0}
    assert "age: int" in git(remote, "show", "feature:ages.py")
    assert "address review comment on ages.py:1" in git(remote, "log", "-1", "--format=%B", "feature")
    assert "(pushed to `feature`)" in replies[0]["body"] and replies[1]["body"].startswith("the README")
    assert all(REPLY_MARKER in r["body"] for r in replies)
    assert "1 resolved, 1 answered, 0 failed" in comment["body"] and "| NOTES.md:1 | bob | answered |" in comment["body"]


def test_not_mentioned_does_nothing_and_calls_nothing(tmp_path):
    with GitHubServer() as srv:
        env = event(tmp_path, srv, tmp_path, "pull_request_review_comment", {
            "action": "created", "pull_request": {"number": 2}, "comment": {"body": "looks good"}})
        out = run_ci(env)
    assert out["job"] is None and out["exit_code"] == 0 and "does not mention @loopwright" in out["reason"]
    assert srv.requests == []


def test_decide_events():
    loops = {"fix", "review"}
    assert decide("pull_request", {"action": "opened", "number": 3}, "@loopwright", loops) == ("fix", 3, "")
    assert decide("pull_request", {"action": "closed", "number": 3}, "@loopwright", loops)[0] is None
    assert decide("pull_request", {"action": "opened", "number": 3}, "@loopwright", {"review"})[0] is None
    review = {"review": {"body": "@LoopWright: go"}, "pull_request": {"number": 5}}
    assert decide("pull_request_review", review, "@loopwright", loops) == ("review", 5, "")
    assert decide("pull_request_review", {"review": {"body": None}, "pull_request": {"number": 5}},
                  "@loopwright", loops)[0] is None
    assert decide("pull_request_review", {"review": {"body": "@loopwrights"}, "pull_request": {"number": 5}},
                  "@loopwright", loops)[0] is None
    on_issue = {"issue": {"number": 9}, "comment": {"body": "@loopwright"}}
    assert decide("issue_comment", on_issue, "@loopwright", loops)[0] is None
    on_pr = {"issue": {"number": 9, "pull_request": {}}, "comment": {"body": "/bot fix it"}}
    assert decide("issue_comment", on_pr, "/bot", loops) == ("review", 9, "")
    own = {"issue": {"number": 9, "pull_request": {}}, "comment": {"body": f"@loopwright\n{STATUS_MARKER}"}}
    assert decide("issue_comment", own, "@loopwright", loops)[0] is None
    assert decide("push", {}, "@loopwright", loops)[0] is None


def test_never_pushes_to_the_default_branch():
    def pr(head_ref, head_repo=REPO):
        return {"head": {"ref": head_ref, "repo": {"full_name": head_repo}},
                "base": {"ref": "main", "repo": {"full_name": REPO, "default_branch": "main"}}}

    assert delivery(pr("feature"), REPO) == ("push", "")
    mode, why = delivery(pr("main"), REPO)
    assert mode == "suggest" and "never pushes" in why and "default branch (main)" in why
    mode, why = delivery({"head": {"ref": "x", "repo": None}, "base": pr("x")["base"]}, REPO)
    assert mode == "suggest" and "deleted repository" in why


def test_bad_input_exit_codes(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["ci"], env={"GITHUB_EVENT_NAME": "", "GITHUB_EVENT_PATH": ""})
    assert result.exit_code == 2 and "runs in GitHub Actions" in result.output
    result = runner.invoke(app, ["ci", "--json"], env={"GITHUB_EVENT_NAME": "pull_request",
                                                        "GITHUB_EVENT_PATH": str(tmp_path / "missing.json")})
    assert result.exit_code == 2 and "cannot read the event payload" in json.loads(result.stdout)["error"]


def test_ci_refuses_a_weak_sandbox_unless_allowed(tmp_path):
    runner = CliRunner()
    env = {"LOOPWRIGHT_SANDBOX": "weak", "GITHUB_EVENT_NAME": "", "GITHUB_EVENT_PATH": ""}
    result = runner.invoke(app, ["ci", "--json"], env=env)
    assert result.exit_code == 2 and "--allow-weak-sandbox" in json.loads(result.stdout)["error"]
    result = runner.invoke(app, ["ci", "--allow-weak-sandbox"], env=env)
    assert result.exit_code == 2 and "runs in GitHub Actions" in result.output  # got past the check
    assert "WARNING: weak sandbox" in result.output


def test_rejected_token_stops_with_a_clear_message(tmp_path):
    with GitHubServer() as srv:
        srv.add_pull(REPO, 4, "feature", "a" * 40)
        env = event(tmp_path, srv, tmp_path, "pull_request", {"action": "opened", "number": 4,
                                                              "pull_request": {"number": 4}})
        env["GITHUB_TOKEN"] = "expired"
        result = CliRunner().invoke(app, ["ci"], env=env)
    assert result.exit_code == 2
    assert "the token in GITHUB_TOKEN was rejected" in " ".join(result.output.split())
    assert [r.path for r in srv.requests] == [f"/repos/{REPO}/pulls/4"]


# --- action.yml ----------------------------------------------------------------------


def test_action_yml_is_a_valid_composite_action():
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["name"] and action["description"]
    assert action["runs"]["using"] == "composite" and action["runs"]["steps"]
    inputs = action["inputs"]
    assert {"model", "max-cost", "max-iterations", "trigger", "loops", "python-version"} <= set(inputs)
    for name, spec in inputs.items():
        assert spec.get("description"), f"input {name} has no description"
        assert re.fullmatch(r"[a-z][a-z0-9-]*", name)
    text = (ROOT / "action.yml").read_text()
    used = set(re.findall(r"\$\{\{\s*inputs\.([\w-]+)\s*\}\}", text))
    assert used and used <= set(inputs), used - set(inputs)
    assert set(inputs) - used == set(), "declared but unused inputs"
    for step in action["runs"]["steps"]:
        assert ("uses" in step) != ("run" in step)
        if "run" in step:
            assert step.get("shell") == "bash"  # composite run steps must name their shell
            assert "${{" not in step["run"]  # inputs go through env, not into the script
    assert any(s.get("uses", "").startswith("actions/setup-python@") for s in action["runs"]["steps"])
    assert "loopwright \"${args[@]}\"" in text and "ci --trigger" in text


def test_a_flagged_fix_is_never_pushed_and_is_shown_in_the_status_comment(make_repo, tmp_path, monkeypatch):
    """The static screen (harness/core/screen.py): a fix whose code also reaches into
    sys.modules is "fixed (flagged)": not pushed, not suggested, the patch and the reason in
    the sticky comment, exit 1."""
    ws, remote, head = pr_workspace(make_repo, tmp_path, BUGGY)
    flagged_fix = ("ages.py\n<<<<<<< SEARCH\ndef is_adult(age):\n    return age > 18\n=======\nimport sys\n\n"
                   "_LOADED = len(sys.modules)\n\n\ndef is_adult(age):\n    return age >= 18\n>>>>>>> REPLACE\n")
    with GitHubServer() as srv, FakeLLMServer([flagged_fix]) as llm:
        pr = srv.add_pull(REPO, 7, "feature", head)
        env = pr_event(tmp_path, srv, ws, pr)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        monkeypatch.setenv("OPENAI_BASE_URL", llm.openai_url)
        out = run_ci(env, flags={"model": "openai:gpt-4.1-mini", "max_iterations": 1})
        [comment] = sticky(srv, 7)
        reviews = [r for r in srv.requests if r.method == "POST" and "/reviews" in r.path]
    assert out["result"]["status"] == "flagged" and out["exit_code"] == 1, out
    assert out["delivery"] == "comment" and "pushed" not in out and not reviews
    assert git(remote, "rev-parse", "refs/heads/feature").strip() == head  # nothing pushed
    assert "**fixed (flagged)**" in comment["body"] and "not pushed: the patch is flagged" in comment["body"]
    assert "sys.modules" in comment["body"] and "age >= 18" in comment["body"]


def test_docs_ci_caches_the_files_the_memory_and_the_baseline_cache_live_in():
    """docs/ci.md's actions/cache step must name the files runs keep (renaming one would
    silently turn the CI cache off), in a snippet that is valid workflow YAML."""
    import textwrap

    from harness.core.baseline_cache import CACHE
    from harness.core.memory import MEMORY

    doc = (ROOT / "docs" / "ci.md").read_text()
    snippet = doc.split("## Keeping what earlier runs learned", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    steps = yaml.safe_load(textwrap.dedent(snippet))
    (cache,) = [s for s in steps if s.get("uses", "").startswith("actions/cache@")]
    paths = cache["with"]["path"].split()
    assert f".git/loopwright/{MEMORY}*" in paths and f".git/loopwright/{CACHE}" in paths
    assert "github.run_id" in cache["with"]["key"] and "base_ref" in cache["with"]["restore-keys"]
