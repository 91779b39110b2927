"""The suite file loader and evals.materialize.materialize: clear errors with file, line and field."""

from __future__ import annotations

import json
import subprocess

import pytest

from evals.materialize import materialize
from evals.sources import BadInput
from evals.suite import SuiteError, load_suite
from tests.conftest import git

CALC = {"calc.py": "def add(a, b):\n    return a - b\n",
        "tests/test_calc.py": "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"}


def test_a_yaml_suite_loads_with_paths_resolved_against_its_folder(tmp_path, make_repo):
    repo = make_repo(CALC)
    (tmp_path / "loop.yaml").write_text("x")
    (tmp_path / "comments.json").write_text("[]")
    suite = tmp_path / "s.yaml"
    suite.write_text(f"""suite: demo
description: two tasks
tasks:
  - id: a
    repo: {{path: {repo.name}}}
    command: run loop.yaml
    tests: [tests/test_calc.py::test_add]
    timeout: 30
  - id: b
    repo: {{prepare: {{spec: "semantic-version==2.10.0", seed: 1}}}}
    command: review --comments comments.json
""")
    s = load_suite(suite)
    assert s.suite == "demo" and [t.id for t in s.tasks] == ["a", "b"]
    assert s.tasks[0].repo.path == str(repo.resolve())
    assert s.tasks[0].argv() == ["run", str(tmp_path / "loop.yaml")]
    assert s.tasks[1].argv() == ["review", "--comments", str(tmp_path / "comments.json")]
    assert s.tasks[1].repo.to_spec() == {"prepare": {"spec": "semantic-version==2.10.0", "seed": 1}}
    assert s.tasks[1].timeout == 600 and s.tasks[1].command.startswith("review")


def test_yaml_errors_name_the_file_line_and_field(tmp_path):
    suite = tmp_path / "bad.yaml"
    suite.write_text("""suite: bad
tasks:
  - id: ok
    repo: {path: x}
  - id: two
    repo: {path: x, prepare: {spec: a==1, seed: 1}}
    command: deploy
    timeout: -1
    colour: red
  - id: ok
    repo: {}
""")
    with pytest.raises(SuiteError) as exc:
        load_suite(suite)
    text = str(exc.value)
    assert f"{suite}:6: tasks.1.repo: give exactly one of path, prepare, release_pair" in text
    assert f"{suite}:7: tasks.1.command: 'deploy' is not a task command" in text
    assert f"{suite}:8: tasks.1.timeout:" in text and "greater than 0" in text
    assert f"{suite}:9: tasks.1.colour: unknown field 'colour'" in text
    assert "tasks.2.repo: give exactly one" in text


def test_duplicate_ids_and_yaml_syntax_errors(tmp_path):
    dup = tmp_path / "dup.yaml"
    dup.write_text("suite: d\ntasks:\n  - {id: a, repo: {path: x}}\n  - {id: a, repo: {path: y}}\n")
    with pytest.raises(SuiteError, match="task ids must be unique in a suite: a repeated"):
        load_suite(dup)
    broken = tmp_path / "broken.yaml"
    broken.write_text("suite: d\ntasks: [\n")
    with pytest.raises(SuiteError, match=rf"{broken}:3: \(yaml\)"):
        load_suite(broken)
    with pytest.raises(SuiteError, match="cannot read it"):
        load_suite(tmp_path / "missing.yaml")


def test_jsonl_suite_errors_carry_the_line_number(tmp_path):
    good = {"id": "a", "repo": {"path": "."}, "tests": ["t::x"]}
    f = tmp_path / "tasks.jsonl"
    f.write_text(json.dumps(good) + "\n\nnot json\n" + json.dumps({"id": "b", "repo": {"path": "."},
                                                                  "command": "do"}) + "\n")
    with pytest.raises(SuiteError) as exc:
        load_suite(f)
    assert f"{f}:3: (json): not JSON" in str(exc.value)
    assert f"{f}:4: command: 'do' needs an argument" in str(exc.value)
    f.write_text(json.dumps(good) + "\n")
    s = load_suite(f)
    assert s.suite == "tasks" and s.tasks[0].repo.path == str(tmp_path.resolve())


def test_materialize_clones_a_path_or_a_bundle_and_refuses_unknown_specs(tmp_path, make_repo):
    repo = make_repo(CALC)
    head = git(repo, "rev-parse", "HEAD").strip()
    out = materialize({"path": str(repo)}, tmp_path / "clone")
    assert git(out, "rev-parse", "HEAD").strip() == head and (out / "calc.py").is_file()
    subprocess.run(["git", "-C", str(repo), "bundle", "create", str(tmp_path / "r.bundle"), "HEAD"], check=True,
                   capture_output=True)
    out2 = materialize({"bundle": str(tmp_path / "r.bundle")}, tmp_path / "from-bundle")
    assert git(out2, "rev-parse", "HEAD").strip() == head
    with pytest.raises(BadInput, match="exactly one of"):
        materialize({"path": str(repo), "prepare": {}}, tmp_path / "x")
    with pytest.raises(BadInput, match="does not exist"):
        materialize({"path": str(tmp_path / "nope")}, tmp_path / "y")


def test_materialize_release_pair_delegates_or_says_what_is_missing(tmp_path):
    try:
        import evals.release_trees  # noqa: F401  (the release-pair task builder)
    except ImportError:
        with pytest.raises(BadInput, match="release_pair tasks need evals.release_trees"):
            materialize({"release_pair": {"package": "toolz"}}, tmp_path / "rp")
    else:  # delegated: the miner refuses a spec without old/new before fetching anything
        with pytest.raises(BadInput, match="old"):
            materialize({"release_pair": {"package": "toolz"}}, tmp_path / "rp")


def test_materialize_prepare_builds_once_and_clones_only_the_buggy_commit(tmp_path, monkeypatch):
    lib = tmp_path / "tinylib"
    (lib / "tests").mkdir(parents=True)
    (lib / "tiny.py").write_text("def area(w, h):\n    if w < 0 or h < 0:\n        raise ValueError('negative')\n"
                                 "    return w * h\n")
    (lib / "tests" / "test_tiny.py").write_text(
        "import pytest\nfrom tiny import area\n\n\ndef test_area():\n    assert area(2, 3) == 6\n\n\n"
        "def test_negative():\n    with pytest.raises(ValueError):\n        area(-1, 2)\n")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    spec = {"prepare": {"spec": str(lib), "seed": 1}}
    a = materialize(spec, tmp_path / "a")
    b = materialize(spec, tmp_path / "b")
    assert git(a, "rev-parse", "HEAD") == git(b, "rev-parse", "HEAD")
    assert git(a, "log", "--format=%s").strip() == "inject bug"  # depth 1: the sdist commit is not there
    assert len(list((tmp_path / "cache" / "loopwright" / "tasks").glob("*.json"))) == 1


def test_the_shipped_suites_load():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "evals" / "suites"
    injected = load_suite(root / "injected.yaml")
    assert len(injected.tasks) == 24 and injected.tasks[0].repo.prepare.spec == "tabulate==0.10.0"
    example = load_suite(root / "example.yaml")
    assert [t.repo.prepare.spec for t in example.tasks] == [str(root / "example" / "tinylib")] * 3


def test_the_example_suite_runs_offline(tmp_path, monkeypatch):
    """One task of the shipped example suite: prepared from the bundled tiny library, fixed, and
    matched against the injection's inverse (the gold patch) with context recall."""
    import sys
    from pathlib import Path

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("LOOPWRIGHT_WORKTREES", str(tmp_path / "wt"))
    suite = Path(__file__).resolve().parents[1] / "evals" / "suites" / "example.yaml"
    res = subprocess.run([sys.executable, "-m", "loopwright", "eval", str(suite), "--task", "tinylib-seed1",
                          "--out", str(tmp_path / "out"), "--json"], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    m = json.loads(res.stdout)["generators"]["templates"]
    assert (m["tasks"], m["fixed"], m["same_as_gold_rate"], m["context_recall"]) == (1, 1, 1.0, 1.0)
    bad = subprocess.run([sys.executable, "-m", "loopwright", "eval", str(suite), "--task", "nope", "--out",
                          str(tmp_path / "o2")], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "no task nope" in bad.stderr
