"""The run session leaves nothing behind: no test process, fork server or worktree
outlives ``fix`` or a ``do`` stopped with SIGINT while a test runs.

``do`` and ``review`` are checked where their end-to-end tests already run them
(``tests/test_do.py``, ``tests/test_review.py``: :func:`tests.conftest.assert_clean`),
so no extra run is paid for here.
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

from evals.model_server import FakeLLMServer
from tests.conftest import PYTHON, assert_clean, leftovers

ROOT = Path(__file__).parents[1]
CLI = [sys.executable, "-m", "loopwright"]
BUGGY = {"ages.py": "def is_adult(age):\n    return age > 18\n",
         "tests/test_ages.py": "from ages import is_adult\n\n\ndef test_eighteen():\n    assert is_adult(18)\n"}
GREET = {"greet.py": "def greet(name):\n    return 'hello ' + name\n",
         "test_greet.py": "from greet import greet\n\n\ndef test_greet():\n    assert greet('ada').endswith('ada')\n"}
CAPITALISE = ("Capitalise.\n\ngreet.py\n<<<<<<< SEARCH\n    return 'hello ' + name\n=======\n"
              "    return 'Hello, ' + name\n>>>>>>> REPLACE\n")


def env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT), "OPENAI_API_KEY": "k"}


@pytest.fixture
def worktrees(tmp_path) -> Path:
    return tmp_path / "worktrees"


def test_fix_leaves_no_process_or_worktree_and_loads_no_other_command(make_repo, worktrees):
    """One ``loopwright fix`` run: nothing left behind, and the modules of the other commands
    (GitHub client, review, undo, the interactive prompt) were never imported."""
    root = make_repo(BUGGY)
    probe = ("import atexit, sys\n"
             "atexit.register(lambda: print('MODULES', ' '.join(sorted(sys.modules)), file=sys.stderr))\n"
             f"sys.argv = ['loopwright', 'fix', {str(root)!r}, '--json', '--python', {PYTHON!r}]\n"
             "from loopwright.cli import main\nmain()\n")
    res = subprocess.run([sys.executable, "-c", probe], env=env(), capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["status"] == "fixed"
    assert_clean(root, worktrees)
    loaded = set(res.stderr.split("MODULES", 1)[1].split())
    assert "harness.cli.fix" in loaded and "harness.core.session" in loaded
    assert not loaded & {"harness.work.github", "harness.work.review", "harness.work.undo", "harness.cli.interactive",
                         "harness.cli.do", "harness.cli.review", "harness.work.instruct", "httpx2"}


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
