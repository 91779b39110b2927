"""``loopwright do`` driven in a real terminal (tmux), as a person sees and answers it.

The fake model server runs in this process; the CLI runs in a detached tmux session
of a fixed size (its own tmux server on a private socket, killed afterwards) pointed at the server
with ``--base-url``, with ``OPENAI_API_KEY`` set in the tmux environment. The test
reads the screen with ``capture-pane`` (text, and with ``-e`` the colours) and answers
with ``send-keys``.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import PYTHON, git
from evals.model_server import FakeLLMServer
from tests.test_do import CAPITALISE, DONE, FILES, MODEL, ROOT, SHOUT

TMUX = shutil.which("tmux")
pytestmark = pytest.mark.skipif(TMUX is None, reason="tmux is not on PATH: this test drives the interactive "
                                "`loopwright do` in a real terminal (CI installs tmux in .ci/run)")
PROMPT = "a approve · r reject (say why) · s stop ›"


class Tmux:
    """One detached tmux session on a private server socket."""

    def __init__(self, socket: str, cols: int = 120, rows: int = 50):
        self.socket, self.cols, self.rows = socket, cols, rows  # a socket path (tmux -S)
        self.env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE")}

    def tmux(self, *args: str) -> str:
        return subprocess.run([TMUX, "-S", self.socket, *args], check=True, capture_output=True,
                              text=True, env=self.env, timeout=30).stdout

    def start(self, command: str, env: dict[str, str]) -> None:
        """Run ``command`` in a new session; the pane stays open after it exits."""
        sets = [a for k, v in env.items() for a in ("-e", f"{k}={v}")]
        shell = f"{command}; echo \"[exited $?]\"; sleep 600"
        self.tmux("new-session", "-d", "-s", "do", "-x", str(self.cols), "-y", str(self.rows), *sets,
                  "sh", "-c", shell)

    def screen(self, colours: bool = False) -> str:
        """The pane with its scrollback, as text (``colours``: with SGR escapes)."""
        return self.tmux("capture-pane", "-p", "-J", "-S", "-500", *(["-e"] if colours else []), "-t", "do")

    def wait_for(self, text: str, count: int = 1, timeout: float = 60) -> str:
        """Wait until ``text`` is on screen ``count`` times; returns the screen."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if screen.count(text) >= count:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"never saw {text!r} on screen:\n{screen}")
            time.sleep(0.1)

    def keys(self, text: str) -> None:
        """Type ``text`` then Enter."""
        self.tmux("send-keys", "-t", "do", "-l", text)
        self.tmux("send-keys", "-t", "do", "Enter")

    def kill(self) -> None:
        subprocess.run([TMUX, "-S", self.socket, "kill-server"], capture_output=True, env=self.env)


@pytest.fixture
def tmux():
    where = tempfile.mkdtemp(prefix="lw-tmux-")  # short: socket paths are limited to ~100 bytes
    session = Tmux(os.path.join(where, "sock"))
    yield session
    session.kill()
    shutil.rmtree(where, ignore_errors=True)


def coloured(screen: str, text: str) -> set[str]:
    """The SGR codes in effect where ``text`` starts on a ``capture-pane -e`` screen."""
    line = next(ln for ln in screen.splitlines() if text in re.sub(r"\x1b\[[0-9;]*m", "", ln))
    codes: set[str] = set()
    plain = ""
    for piece in re.split(r"(\x1b\[[0-9;]*m)", line):
        if piece.startswith("\x1b["):
            params = piece[2:-1].split(";")
            codes = set() if params in ([""], ["0"]) else codes | set(params)
        else:
            plain += piece
            if text in plain:
                return codes
    return codes


def test_interactive_do_in_a_real_terminal(make_repo, tmux):
    root = make_repo(FILES)
    with FakeLLMServer([CAPITALISE, SHOUT, DONE]) as server:
        command = shlex.join([sys.executable, "-m", "loopwright", "do", "capitalise and add shout()",
                              str(root), "--model", MODEL, "--base-url", server.openai_url, "--python", PYTHON])
        tmux.start(f"cd {shlex.quote(str(ROOT))} && {command}",
                   {"OPENAI_API_KEY": "k", "PYTHONPATH": str(ROOT), "LANG": "C.UTF-8",
                    "LOOPWRIGHT_WORKTREES": os.environ["LOOPWRIGHT_WORKTREES"]})
        screen = tmux.wait_for(PROMPT)
        # what a person sees: the panel, the verdicts, the diff, the prompt
        assert "patch 1 — verified by the evaluators" in screen
        assert re.search(r"tests\s+passed — 1 run, none that passed before fails", screen)
        assert "-    return 'hello ' + name" in screen and "+    return 'Hello, ' + name" in screen
        # the diff is coloured: removed lines red, added lines green (SGR 31/91 and 32/92)
        shot = tmux.screen(colours=True)
        assert coloured(shot, "+    return 'Hello, ' + name") & {"32", "92"}, shot
        assert coloured(shot, "-    return 'hello ' + name") & {"31", "91"}, shot
        tmux.keys("a")
        screen = tmux.wait_for(PROMPT, count=2)
        assert "approved: committing it as a checkpoint" in screen and "+def shout(name):" in screen
        tmux.keys("a")
        tmux.wait_for("k keep the branch only")
        tmux.keys("a")  # apply the result to the (clean) working tree
        screen = tmux.wait_for("[exited ")
    assert "[exited 0]" in screen, screen
    assert re.search(r"status\s+done", screen)
    assert "applied to your working tree" in screen
    assert "def shout" in (Path(root) / "greet.py").read_text()
    assert git(root, "status", "--porcelain", "--untracked-files=no").strip() == "M greet.py"
