"""Shared fixtures: real git repositories built in ``tmp_path``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# An operator of the offline repairer that raises is a bug: here it fails the test (and every
# `loopwright fix` subprocess a test starts inherits it); a user's run reports it and goes on.
os.environ["LOOPWRIGHT_STRICT_OPERATORS"] = "1"

GIT_ENV = {
    "GIT_AUTHOR_NAME": "test", "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "test", "GIT_COMMITTER_EMAIL": "test@example.invalid",
}


def git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd`` with a fixed identity; returns stdout."""
    env = {**os.environ, **GIT_ENV}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True,
                          text=True).stdout


def write_tree(root: Path, files: dict[str, str]) -> None:
    """Write ``{relative path: text}`` (dedented) under ``root``."""
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text).lstrip("\n"))


@pytest.fixture
def make_repo(tmp_path, monkeypatch):
    """Factory: ``make_repo(files, commit=True) -> Path`` of a new git repository."""
    monkeypatch.setenv("LOOPWRIGHT_WORKTREES", str(tmp_path / "worktrees"))
    counter = iter(range(1000))

    def make(files: dict[str, str], commit: bool = True) -> Path:
        root = tmp_path / f"repo{next(counter)}"
        root.mkdir()
        git(root, "init", "-q", "-b", "main")
        write_tree(root, files)
        if commit:
            git(root, "add", "-A")
            git(root, "commit", "-qm", "initial")
        return root

    return make


def text_patch(old: str, new: str, path: str = "m.py"):
    """The :class:`sandbox.patch.Patch` that turns ``old`` into ``new`` in ``path``."""
    from sandbox.patch import Patch

    return Patch.from_texts({path: (old, new)}, "test patch")


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` except ``.git`` (path -> bytes): run state lives in the git
    directory, so a run without ``--apply``/``--lessons`` leaves this unchanged."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_file() and not rel.startswith(".git/"):
            out[rel] = p.read_bytes()
    return out


def run_dir(root: Path, run_id: str = "") -> Path:
    """A run's state directory (``<git dir>/loopwright/runs/<run_id>``), or the runs directory."""
    from harness.core.state import state_dir

    runs = state_dir(root) / "runs"
    return runs / run_id if run_id else runs


def lessons_file(root: Path) -> Path:
    """The lessons of runs that did not write them to the tree (``<git dir>/loopwright/lessons.md``)."""
    from harness.core.state import state_dir

    return state_dir(root) / "lessons.md"


def leftovers(under: Path) -> list[str]:
    """``pid cmdline`` of every live process whose cwd or command line is under ``under`` (from /proc;
    a test's worktree root is a directory of its ``tmp_path`` no other test uses)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(entry / "cwd")
            state = next((ln for ln in (entry / "status").read_text().splitlines() if ln.startswith("State:")), "")
        except OSError:
            continue
        if "zombie" in state:
            continue
        if cwd.startswith(str(under)) or str(under) in cmd:
            found.append(f"{entry.name} {cmd.strip()}")
    return found


def assert_clean(root: Path, worktrees: Path) -> None:
    """No process under ``worktrees`` is alive and ``root`` has no worktree but its own (the
    run's worktree and slots were removed; scratch and mypy-cache directories may stay)."""
    assert leftovers(worktrees) == []
    listed = [ln for ln in git(root, "worktree", "list", "--porcelain").splitlines() if ln.startswith("worktree ")]
    assert listed == [f"worktree {root}"]
    assert not worktrees.exists() or not any(p for p in worktrees.iterdir() if not p.name.endswith(("scratch",
                                                                                                   "mypy-cache")))


PYTHON = sys.executable


def survivors(token: str) -> list[int]:
    """Pids of live (not zombie) processes whose command line contains ``token``."""
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == os.getpid():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = next(ln for ln in (d / "status").read_text().splitlines() if ln.startswith("State:"))
        except (OSError, StopIteration):
            continue
        if token in cmd and "Z" not in state.split()[1]:
            out.append(int(d.name))
    return out


@pytest.fixture(autouse=True)
def _close_test_evaluators(monkeypatch):
    """Stop the fork servers of every PytestEvaluator a test makes itself (tests that drive
    the validator directly do not close theirs; a run closes its own through RunSession)."""
    from harness.evaluators.pytest_runner import PytestEvaluator

    made = []
    init = PytestEvaluator.__init__

    def tracked(self, *args, **kwargs):
        init(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(PytestEvaluator, "__init__", tracked)
    yield
    for ev in made:
        ev.close()


@pytest.fixture(scope="session")
def tiny_eval(tmp_path_factory):
    """One ``loopwright eval SUITE --jobs 2 --html --json`` over three tiny tasks (``t0``..``t2``,
    the templates generator), shared by the tests that only read its results: the suite metrics,
    the Ray comparison and the HTML suite report are checks of the same run, so it runs once per
    test session, whichever xdist worker asks first (the others wait on a lock, then read it).

    Returns ``(suite, out, summary)``: the suite file, the output folder (``results.jsonl``,
    ``report.html``, one run folder per task) and the parsed ``--json`` summary.
    """
    import fcntl
    import json

    from tests.test_eval import eval_cmd, write_suite

    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # this session's folder, above each worker's own
    base = shared / "tiny_eval"
    with open(shared / "tiny_eval.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (base / "summary.json").is_file():
            shutil.rmtree(base, ignore_errors=True)  # a run that failed part-way is redone
            base.mkdir()
            suite = write_suite(base, 3)
            res = eval_cmd(str(suite), "--jobs", "2", "--out", str(base / "out"), "--html", "--json",
                           env={"LOOPWRIGHT_WORKTREES": str(base / "worktrees")})
            assert res.returncode == 0, res.stderr
            (base / "summary.json").write_text(res.stdout)
    return base / "tiny.yaml", base / "out", json.loads((base / "summary.json").read_text())


def fix_offline(make_repo, files: dict[str, str], max_seconds: int = 150) -> tuple[dict, Path, dict]:
    """``loopwright fix ROOT --json`` as a user runs it (a subprocess, the offline default) on a
    repository made of ``files``; asserts exit 0 and that the user's tree is left as it was
    (no ``--apply``). Returns ``(the --json summary, the repository, its snapshot before)``."""
    import json
    import subprocess

    root = make_repo(files)
    before = snapshot(root)
    res = subprocess.run([sys.executable, "-m", "loopwright", "fix", str(root), "--python", PYTHON, "--json"],
                         capture_output=True, text=True, timeout=600,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
                              "LOOPWRIGHT_MAX_SECONDS": str(max_seconds)})
    assert res.returncode == 0, res.stderr[-2000:]
    assert snapshot(root) == before  # the user's tree is left alone without --apply
    return json.loads(res.stdout), root, before


def validate_patches(root: Path, patches: list, protected: tuple[str, ...], leads: list | None = None) -> tuple[list, list]:
    """The validator's outcomes for ``patches`` on repository ``root`` (a worktree for the
    baseline, with coverage, and one slot; partial fixes kept as leads, ``leads`` given as
    earlier ones), and the leads it holds at the end: ``(outcomes in order, leads)``."""
    import time

    from harness.core.validate import Baseline, Validator
    from harness.evaluators.pytest_runner import PytestEvaluator
    from sandbox.worktree import Worktree, open_repo

    repo = open_repo(root)
    main = Worktree.create(repo, "m", None)
    ev = PytestEvaluator(PYTHON)
    base = ev.run(main.path, coverage=True)
    baseline = Baseline(main.path, base.results, base.collected, base.coverage, base.duration)
    validator = Validator(ev, [Worktree.create(repo, "s0", None)], baseline, protected, 40, ev.timeouts,
                          checkout=root)
    validator.partial_as_lead, validator.leads = True, leads if leads is not None else []
    seen: list = []
    try:
        validator.first_accepted(patches, time.monotonic() + 120, seen.append)
    finally:
        validator.close()
        ev.close()
    return seen, validator.leads
