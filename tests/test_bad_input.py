"""Bad input is a clear error, exit 2, nothing lost: corrupted state files, comments files,
cassettes, CI events and loop files, fed to the entry points in-process (typer's CliRunner).

Each case asserts: exit code 2 (or 0 for ``status``, which reports corrupted runs), a
one-line reason, no traceback, and the user's repository byte-identical (working tree,
HEAD, refs, index, config, hooks). The named cases come from issue 13's hostile-user
session; the Hypothesis properties feed random and mutated variants of each.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from loopwright.cli import app
from harness.core.state import RunState, StateError, load_state
from tests.conftest import git, run_dir, snapshot, write_tree
from tests.github_server import GitHubServer

NO_PYTHON = "/nonexistent/python"  # a valid input gets past the input check and stops here, fast
RUN_ID = "20250101-120000-ab12"
PROPERTY = settings(max_examples=25, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12)


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("bad-input") / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    write_tree(root, {"calc.py": "def add(a, b):\n    return a - b\n",
                      "tests/test_calc.py": "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n"})
    git(root, "add", "-A")
    git(root, "commit", "-qm", "init")
    return root


@pytest.fixture(autouse=True)
def _no_keys(monkeypatch):
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL",
                 "GITHUB_TOKEN", "GH_TOKEN", "GITHUB_EVENT_PATH", "GITHUB_EVENT_NAME"):
        monkeypatch.delenv(name, raising=False)


def fingerprint(root: Path) -> tuple:
    """The user's repository: working tree, HEAD, refs, index, config and hooks."""
    dot = root / ".git"
    hooks = sorted((p.name, p.read_bytes()) for p in (dot / "hooks").iterdir() if p.is_file())
    return (snapshot(root), (dot / "HEAD").read_bytes(), git(root, "for-each-ref"),
            (dot / "index").read_bytes(), (dot / "config").read_bytes(), hooks)


def invoke(args: list[str], env: dict | None = None, as_json: bool = True):
    """Run the CLI in-process; return (exit code, the one-line error or stdout, result)."""
    result = CliRunner().invoke(app, [*args, *(["--json"] if as_json else [])], env=env)
    exc = result.exception
    assert exc is None or isinstance(exc, SystemExit), f"{type(exc).__name__}: {exc}\n{result.output}"
    assert "Traceback" not in result.output, result.output
    if result.exit_code == 2 and as_json:
        error = json.loads(result.stdout)["error"]  # one JSON document on stdout
        assert error and "\n" not in error, error
        return 2, error, result
    return result.exit_code, result.stdout, result


def bad_input(args: list[str], repo: Path, env: dict | None = None, as_json: bool = True) -> str:
    before = fingerprint(repo)
    code, error, result = invoke(args, env, as_json)
    assert code == 2, result.output
    assert fingerprint(repo) == before
    return error


# --- state.json (resume, status) ------------------------------------------------------------


def valid_state() -> dict:
    return RunState(RUN_ID, "fix-failing-tests", "/elsewhere", "0" * 40, branch="loopwright/" + RUN_ID,
                    status="interrupted").to_dict()


STATE_CASES = {
    "truncated": json.dumps(valid_state()).encode()[:57],
    "empty": b"",
    "a list": b"[1, 2, 3]",
    "empty object": b"{}",
    "binary": bytes(range(256)),
    "wrong types": json.dumps({**valid_state(), "iteration": "three", "accepted": {"x": 1}}).encode(),
    "spent wrong": json.dumps({**valid_state(), "spent": [1]}).encode(),
    "not utf-8": json.dumps(valid_state()).encode().replace(b"fix-failing", b"fix-\xff\xfeiling"),
}


def put_state(repo: Path, data: bytes) -> Path:
    d = run_dir(repo, RUN_ID)
    d.mkdir(parents=True, exist_ok=True)
    (d / "state.json").write_bytes(data)
    return d


@pytest.mark.parametrize("case", sorted(STATE_CASES))
def test_a_corrupted_state_file_is_a_one_line_error_for_resume_and_listed_by_status(repo, case):
    put_state(repo, STATE_CASES[case])
    error = bad_input(["resume", RUN_ID, str(repo), "--python", NO_PYTHON], repo)
    assert "state.json: corrupted" in error and "start a new one" in error
    code, out, _ = invoke(["status", str(repo)])
    assert code == 0
    (row,) = [r for r in json.loads(out) if r["run_id"] == RUN_ID]
    assert row["status"] == "corrupted" and "corrupted" in row["problem"]


def test_resume_never_writes_where_state_json_says_the_repository_is(repo, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    state = {**valid_state(), "repo": str(elsewhere), "base_commit": git(repo, "rev-parse", "HEAD").strip()}
    put_state(repo, json.dumps(state).encode())
    bad_input(["resume", RUN_ID, str(repo), "--python", NO_PYTHON], repo)  # stops at the interpreter
    assert not elsewhere.exists()


def test_status_shows_a_run_that_is_starting_as_running_not_corrupted(repo):
    from harness.core.state import RunFiles

    files = RunFiles(repo, "20250101-120001-cd34")
    files.lock()  # a run that holds its lock but has not written state.json yet
    try:
        code, out, _ = invoke(["status", str(repo)])
        (row,) = [r for r in json.loads(out) if r["run_id"] == "20250101-120001-cd34"]
        assert row["status"] == "running"
    finally:
        files.unlock()
        for f in files.dir.iterdir():
            f.unlink()
        files.dir.rmdir()


def _mutated_states():
    base = json.dumps(valid_state()).encode()
    return st.one_of(
        st.binary(max_size=300),
        json_values.map(lambda v: json.dumps(v).encode()),
        st.integers(0, len(base)).map(lambda n: base[:n]),
        st.tuples(st.sampled_from(sorted(valid_state())), json_values).map(
            lambda kv: json.dumps({**valid_state(), kv[0]: kv[1]}).encode()),
    )


@PROPERTY
@given(data=_mutated_states())
@example(data=b"\x00" * 10)
def test_property_any_state_file_gives_exit_2_or_resumes_and_status_never_crashes(repo, data):
    put_state(repo, data)
    try:
        load_state(run_dir(repo, RUN_ID) / "state.json")
        readable = True
    except StateError:
        readable = False
    error = bad_input(["resume", RUN_ID, str(repo), "--python", NO_PYTHON], repo)
    if not readable:
        assert "state.json: corrupted" in error
    code, out, _ = invoke(["status", str(repo)])
    assert code == 0
    (row,) = [r for r in json.loads(out) if r["run_id"] == RUN_ID]
    assert (row["status"] == "corrupted") == (not readable)


# --- comments files (review --comments) -----------------------------------------------------


def review(repo: Path, comments: Path) -> list[str]:
    return ["review", str(repo), "--comments", str(comments), "--model", "openai:gpt-4.1-mini",
            "--base-url", "http://127.0.0.1:9/v1", "--python", NO_PYTHON]


COMMENT_CASES = {
    "not utf-8.json": b'[{"path": "calc.py", "line": 1, "body": "caf\xe9 \xff"}]',
    "user a string.json": b'[{"path": "calc.py", "line": 1, "body": "why?", "user": "ann"}]',
    "line infinite.yaml": b"- {path: calc.py, line: .inf, body: why?}\n",
    "line a list.json": b'[{"path": "calc.py", "line": [1], "body": "why?"}]',
    "path a number.json": b'[{"path": 7, "line": 1, "body": "why?"}]',
    "deep.yaml": b"[" * 20000 + b"]" * 20000,
    "laughs.yaml": b"a: &a [x, x, x, x, x, x, x, x, x, x]\n" + b"".join(
        b"%c: &%c [*%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c]\n" % ((98 + i, 98 + i) + (97 + i,) * 10)
        for i in range(8)),
}


@pytest.mark.parametrize("case", sorted(COMMENT_CASES))
def test_a_bad_comments_file_is_a_one_line_error(repo, tmp_path, case):
    path = tmp_path / case.replace(" ", "-")
    path.write_bytes(COMMENT_CASES[case])
    t0 = time.monotonic()
    error = bad_input(review(repo, path), repo, env={"OPENAI_API_KEY": "sk-test"})
    assert time.monotonic() - t0 < 30
    assert str(path) in error or "comment on calc.py" in error or "a review comment needs" in error, error


@PROPERTY
@given(comments=st.lists(st.dictionaries(st.sampled_from(["path", "line", "body", "user", "id", "side",
                                                          "author", "in_reply_to"]), json_values, max_size=5),
                         max_size=3) | json_values)
def test_property_any_comments_file_is_exit_2_with_one_line(repo, tmp_path_factory, comments):
    path = tmp_path_factory.mktemp("comments") / "c.json"
    path.write_text(json.dumps(comments))
    before = fingerprint(repo)
    code, out, result = invoke(review(repo, path), {"OPENAI_API_KEY": "sk-test"})
    assert code == 2 or code == 0 and "nothing to do" in out, result.output  # [] has no open comment
    assert fingerprint(repo) == before


# --- cassettes (fix --replay) ---------------------------------------------------------------


CASSETTE_CASES = {
    "request a string": b'{"request": "hi", "response": {"text": "x"}}\n',
    "response a list": b'{"request": {"provider": "openai", "model": "m"}, "response": []}\n',
    "tokens a string": b'{"request": {"provider": "openai", "model": "m"}, "response": {"input_tokens": "9"}}\n',
    "not utf-8": b'{"request": {"provider": "openai", "model": "m\xff"}, "response": {}}\n',
    "not json": b"{request\n",
}


@pytest.mark.parametrize("case", sorted(CASSETTE_CASES))
def test_a_bad_cassette_is_a_one_line_error(repo, tmp_path, case):
    path = tmp_path / "cassette.jsonl"
    path.write_bytes(CASSETTE_CASES[case])
    error = bad_input(["fix", str(repo), "--model", f"replay:{path}", "--python", NO_PYTHON], repo)
    assert f"cassette {path}" in error


@PROPERTY
@given(lines=st.lists(json_values | st.fixed_dictionaries({"request": json_values, "response": json_values}),
                      max_size=3))
def test_property_any_cassette_is_exit_2_with_one_line(repo, tmp_path_factory, lines):
    path = tmp_path_factory.mktemp("cassette") / "c.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    bad_input(["fix", str(repo), "--model", f"replay:{path}", "--python", NO_PYTHON], repo)


# --- CI events (ci) --------------------------------------------------------------------------


CI_CASES = {
    "a list": ("pull_request", []),
    "null": ("pull_request", None),
    "pull_request a string": ("pull_request", {"action": "opened", "pull_request": "1"}),
    "issue a string": ("issue_comment", {"issue": "1", "comment": {"body": "@loopwright fix"}}),
    "comment body a number": ("pull_request_review_comment", {"pull_request": {"number": 1}, "comment": {"body": 5}}),
    "comment a list": ("pull_request_review_comment", {"pull_request": {"number": 1}, "comment": ["@loopwright"]}),
    "number a string": ("pull_request", {"action": "opened", "number": "1"}),
    "action a list": ("pull_request", {"action": ["opened"], "number": 1}),
    "repository a string": ("pull_request", {"action": "closed", "repository": "o/r"}),
    "review a string": ("pull_request_review", {"pull_request": {"number": 1}, "review": "@loopwright"}),
    "not utf-8": ("pull_request", b'{"action": "\xff"}'),
}


@pytest.fixture(scope="module")
def github():
    with GitHubServer() as srv:  # knows no pull request: a job that gets that far is a 404, exit 2
        yield srv


def ci(repo: Path, tmp_path: Path, github, name: str, payload, env_repo: bool = True) -> tuple[int, str]:
    path = tmp_path / "event.json"
    path.write_bytes(payload if isinstance(payload, bytes) else json.dumps(payload).encode())
    env = {"GITHUB_EVENT_NAME": name, "GITHUB_EVENT_PATH": str(path), "GITHUB_REPOSITORY": "o/r" if env_repo else "",
           "GITHUB_WORKSPACE": str(repo), "GITHUB_API_URL": github.url, "GITHUB_TOKEN": "test-token"}
    before = fingerprint(repo)
    code, out, result = invoke(["ci", "--python", NO_PYTHON], env)
    assert code in (0, 2), result.output
    assert fingerprint(repo) == before
    return code, out


@pytest.mark.parametrize("case", sorted(CI_CASES))
def test_garbage_ci_events_are_exit_2_with_one_line(repo, tmp_path, github, case):
    name, payload = CI_CASES[case]
    code, error = ci(repo, tmp_path, github, name, payload, env_repo=case != "repository a string")
    assert code == 2 and "event payload" in error, error


@PROPERTY
@given(name=st.sampled_from(["pull_request", "issue_comment", "pull_request_review",
                             "pull_request_review_comment", "push"]),
       payload=st.dictionaries(st.sampled_from(["action", "number", "pull_request", "issue", "comment",
                                                "review", "repository"]), json_values, max_size=4) | json_values)
def test_property_any_ci_event_is_acted_on_ignored_or_exit_2(repo, tmp_path_factory, github, name, payload):
    ci(repo, tmp_path_factory.mktemp("event"), github, name, payload)


# --- loop files (run SPEC) ------------------------------------------------------------------

SPEC = (Path(__file__).parents[1] / "loops" / "fix-failing-tests.yaml").read_text()
LOOP_CASES = {
    "50k deep": "a: " + "[" * 50_000 + "]" * 50_000 + "\n",
    "billion laughs": "a: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(9)),
    "max_iterations .inf": SPEC.replace("- type: max_iterations\n      value: 30", "- type: max_iterations\n      value: .inf"),
    "min_seconds .inf": SPEC.replace("min_seconds: 2.0", "min_seconds: .inf"),
    "baseline 1e-6": SPEC.replace("baseline: 60.0", "baseline: 1.0e-6"),
}
LOOP_WHY = {"50k deep": "nested deeper than 100 levels", "billion laughs": "aliases (*name) are expanded",
            "max_iterations .inf": "failure.0.value", "min_seconds .inf": "test_timeout.min_seconds",
            "baseline 1e-6": "test_timeout.baseline: Input should be greater than or equal to 0.5"}


@pytest.mark.parametrize("case", sorted(LOOP_CASES))
def test_hostile_or_out_of_range_loop_files_are_exit_2_naming_the_field(repo, tmp_path, case):
    assert LOOP_CASES[case] != SPEC
    path = tmp_path / "loop.yaml"
    path.write_text(LOOP_CASES[case])
    t0 = time.monotonic()
    before = fingerprint(repo)
    code, _, result = invoke(["run", str(path), str(repo), "--python", NO_PYTHON], as_json=False)
    assert code == 2 and time.monotonic() - t0 < 30
    assert LOOP_WHY[case] in " ".join(result.output.split()), result.output
    assert fingerprint(repo) == before


@PROPERTY
@given(cut=st.integers(0, len(SPEC)), junk=st.text(max_size=30))
def test_property_any_mangled_loop_file_is_exit_2_without_a_traceback(repo, tmp_path_factory, cut, junk):
    path = tmp_path_factory.mktemp("loop") / "loop.yaml"
    path.write_text(SPEC[:cut] + junk + SPEC[cut + len(junk):])
    before = fingerprint(repo)
    code, _, result = invoke(["run", str(path), str(repo), "--python", NO_PYTHON], as_json=False)
    assert code == 2, result.output
    assert fingerprint(repo) == before

