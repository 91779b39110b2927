"""The run session leaves nothing behind: no test process, fork server or worktree
outlives ``fix``, ``do``, ``review`` or a ``do`` stopped with SIGINT.

Processes are found through ``/proc``: any process whose working directory or
command line lies under this test's worktree root (``LOOPWRIGHT_WORKTREES``, a
directory of ``tmp_path`` no other test uses).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from evals.model_server import FakeLLMServer
from tests.conftest import PYTHON, git

ROOT = Path(__file__).parents[1]
CLI = [sys.executable, "-m", "loopwright"]
BUGGY = {"ages.py": "def is_adult(age):\n    return age > 18\n",
         "tests/test_ages.py": "from ages import is_adult\n\n\ndef test_eighteen():\n    assert is_adult(18)\n"}
GREET = {"greet.py": "def greet(name):\n    return 'hello ' + name\n",
         "test_greet.py": "from greet import greet\n\n\ndef test_greet():\n    assert greet('ada').endswith('ada')\n"}
CAPITALISE = ("Capitalise.\n\ngreet.py\n<<<<<<< SEARCH\n    return 'hello ' + name\n=======\n"
              "    return 'Hello, ' + name\n>>>>>>> REPLACE\n")


def leftovers(under: Path) -> list[str]:
    """``pid cmdline`` of every live process whose cwd or command line is under ``under``."""
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
    assert leftovers(worktrees) == []
    listed = [ln for ln in git(root, "worktree", "list", "--porcelain").splitlines() if ln.startswith("worktree ")]
    assert listed == [f"worktree {root}"]
    assert not worktrees.exists() or not any(p for p in worktrees.iterdir() if not p.name.endswith(("scratch",
                                                                                                   "mypy-cache")))


def env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT), "OPENAI_API_KEY": "k"}


@pytest.fixture
def worktrees(tmp_path) -> Path:
    return tmp_path / "worktrees"


def test_fix_leaves_no_process_or_worktree(make_repo, worktrees):
    root = make_repo(BUGGY)
    res = subprocess.run([*CLI, "fix", str(root), "--json", "--python", PYTHON], env=env(),
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["status"] == "fixed"
    assert_clean(root, worktrees)


def test_do_and_review_leave_no_process_or_worktree(make_repo, worktrees, tmp_path):
    root = make_repo(GREET)
    with FakeLLMServer([CAPITALISE, "DONE: capitalised."]) as srv:
        res = subprocess.run([*CLI, "do", "capitalise the greeting", str(root), "--yes", "--json",
                              "--model", "openai:fake", "--base-url", srv.openai_url, "--python", PYTHON],
                             env=env(), capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    assert_clean(root, worktrees)
    comments = tmp_path / "comments.yaml"
    comments.write_text(yaml.safe_dump([{"id": 1, "path": "greet.py", "line": 2, "body": "Why +?", "author": "a"}]))
    with FakeLLMServer(["ANSWER: it is short."]) as srv:
        res = subprocess.run([*CLI, "review", str(root), "--comments", str(comments), "--json",
                              "--model", "openai:fake", "--base-url", srv.openai_url, "--python", PYTHON],
                             env=env(), capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    assert_clean(root, worktrees)


def test_sigint_during_do_leaves_no_process_or_worktree(make_repo, worktrees):
    slow = {**GREET, "test_slow.py": "import time\n\n\ndef test_slow():\n    time.sleep(30)\n"}
    root = make_repo(slow)
    with FakeLLMServer([CAPITALISE, "DONE: capitalised."]) as srv:
        proc = subprocess.Popen([*CLI, "do", "capitalise the greeting", str(root), "--yes", "--json",
                                 "--model", "openai:fake", "--base-url", srv.openai_url, "--python", PYTHON],
                                env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while not any("test_slow" in p or "pytest" in p or "forkserver" in p for p in leftovers(worktrees)):
            assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
            time.sleep(0.2)
        time.sleep(0.5)  # the baseline's test process is running
        proc.send_signal(signal.SIGINT)
        out, errors = proc.communicate(timeout=120)
    assert proc.returncode == 130, errors
    assert json.loads(out[out.index("{"):])["status"] == "interrupted"
    assert_clean(root, worktrees)
