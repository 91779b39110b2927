"""``loopwright do`` end to end: the real OpenAI SDK against a local fake model server.

Interactive runs happen on a pseudo-terminal (the CLI sees a terminal, as with a
person at the keyboard); ``--yes`` runs in-process. The fake server runs in the test
process; the CLI points at it with ``--base-url``. Nothing leaves the machine.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from loopwright.cli import app
from tests.conftest import PYTHON, assert_clean, git, run_dir, snapshot
from evals.model_server import FakeLLMServer

ROOT = Path(__file__).parents[1]
CLI = [sys.executable, "-m", "loopwright"]
MODEL = "openai:fake-model"

FILES = {
    "greet.py": "def greet(name):\n    return 'hello ' + name\n",
    "test_greet.py": "from greet import greet\n\n\ndef test_greet():\n    assert greet('ada').endswith('ada')\n",
}


def block(path: str, old: str, new: str, why: str = "") -> str:
    """A model answer: one SEARCH/REPLACE block (with a sentence before it)."""
    return f"{why or 'A change.'}\n\n{path}\n<<<<<<< SEARCH\n{old}=======\n{new}>>>>>>> REPLACE\n"


CAPITALISE = block("greet.py", "    return 'hello ' + name\n", "    return 'Hello, ' + name\n", "Capitalise.")
SHOUT = block("greet.py", "    return 'Hello, ' + name\n",
              "    return 'Hello, ' + name\n\n\ndef shout(name):\n    return greet(name).upper()\n", "Add shout().")
BREAK = block("greet.py", "    return 'hello ' + name\n", "    return 'Hello'\n", "Drop the name.")
DONE = "DONE: The greeting is capitalised and shout() is added."
INSTRUCTION = "capitalise the greeting and add a shout() function"


def user_texts(server: FakeLLMServer) -> list[str]:
    """The last user message of every request the server received."""
    return [r.body["messages"][-1]["content"] for r in server.requests]


def env() -> dict:
    """The CLI's environment: this checkout importable, a key for the fake server, a terminal type."""
    return {**os.environ, "PYTHONPATH": str(ROOT), "OPENAI_API_KEY": "k", "TERM": "xterm-256color",
            "PYTHONFAULTHANDLER": "1",
            "COLUMNS": "120", "LINES": "50"}


def do_args(server: FakeLLMServer, root: Path, *more: str, instruction: str = INSTRUCTION) -> list[str]:
    return ["do", instruction, str(root), "--model", MODEL, "--base-url", server.openai_url,
            "--python", PYTHON, *more]


def branch_log(root: Path, run_id: str) -> list[str]:
    """Checkpoint subjects on the run's branch, newest first."""
    base = json.loads((run_dir(root, run_id) / "state.json").read_text())["base_commit"]
    return git(root, "log", "--format=%s", f"{base}..loopwright/{run_id}").splitlines()


def run_ids(root: Path) -> list[str]:
    return sorted(p.name for p in run_dir(root).iterdir())


def invoke(args: list[str], monkeypatch) -> tuple[int, dict | str]:
    """Run the CLI in-process (stdin is not a terminal); JSON stdout parsed when ``--json``."""
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    res = CliRunner().invoke(app, args, catch_exceptions=False)
    out = res.stdout
    if "--json" in args:
        return res.exit_code, json.loads(out[out.index("{"):])
    return res.exit_code, res.output


ANSI = re.compile(r"\x1b(\[[0-9;?]*[A-Za-z]|\][^\x07]*\x07|[()][A-Z0-9])")


class Terminal:
    """A subprocess on a pseudo-terminal of a fixed size: read its screen text, type answers."""

    def __init__(self, argv: list[str], cols: int = 120, rows: int = 50):
        import fcntl
        import termios

        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env(),
                                     cwd=ROOT, start_new_session=True, close_fds=True)
        os.close(slave)
        self.master = master
        self.raw = b""

    @property
    def text(self) -> str:
        """Everything printed so far, without terminal escapes."""
        return ANSI.sub("", self.raw.decode("utf-8", "replace")).replace("\r", "")

    def _read(self, timeout: float) -> bool:
        """Read what is there within ``timeout`` seconds; False once the terminal is closed."""
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return True
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # the child exited and its side of the terminal is gone
            return False
        self.raw += chunk
        return bool(chunk)

    def expect(self, needle: str, count: int = 1, timeout: float = 60) -> None:
        """Wait until ``needle`` has been printed ``count`` times."""
        deadline = time.monotonic() + timeout
        while self.text.count(needle) < count:
            alive = self._read(0.1) or self.proc.poll() is None
            if not alive or time.monotonic() > deadline:
                raise AssertionError(f"never saw {needle!r} x{count}; screen:\n{self.text[-3000:]}")

    def type(self, line: str) -> None:
        """Type ``line`` and Enter."""
        os.write(self.master, line.encode() + b"\r")

    def wait(self, timeout: float = 60) -> int:
        """Wait for the process to exit, reading all its output; returns the exit code."""
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self._read(0.1)
        if self.proc.poll() is None:  # stuck: show where (faulthandler dumps every thread on SIGABRT)
            self.proc.send_signal(signal.SIGABRT)
            end = time.monotonic() + 5
            while self.proc.poll() is None and time.monotonic() < end:
                self._read(0.1)
            self._read(0.5)
            raise AssertionError(f"the process did not exit within {timeout} s:\n{self.text[-8000:]}")
        code = self.proc.wait(timeout=5)
        while select.select([self.master], [], [], 0.05)[0] and self._read(0):
            pass
        os.close(self.master)
        return code


TGKILL = {"x86_64": 234, "aarch64": 131}  # syscall numbers (Linux)


def sigint_to_a_worker_thread(pid: int) -> bool:
    """Send SIGINT to a thread of ``pid`` other than the main one (Linux ``tgkill``), as the
    kernel may do with a Ctrl-C; False when that is not possible here (then nothing is sent)."""
    import ctypes

    tasks = Path(f"/proc/{pid}/task")
    number = TGKILL.get(os.uname().machine)
    others = [int(t.name) for t in tasks.iterdir() if int(t.name) != pid] if tasks.is_dir() else []
    if not number or not others:
        return False
    return ctypes.CDLL(None, use_errno=True).syscall(number, pid, others[0], signal.SIGINT) == 0


def test_instruction_carried_out_in_two_approved_patches(make_repo):
    root = make_repo(FILES)
    before = snapshot(root)
    with FakeLLMServer([CAPITALISE, SHOUT, DONE]) as server:
        term = Terminal([*CLI, *do_args(server, root)])
        term.expect("a approve · r reject (say why) · s stop")
        assert "patch 1 — verified by the evaluators" in term.text
        assert "+    return 'Hello, ' + name" in term.text and "tests  passed" in term.text
        term.type("a")
        term.expect("a approve · r reject (say why) · s stop", count=2)
        assert "+def shout(name):" in term.text
        term.type("a")
        term.expect("k keep the branch only")
        term.type("k")
        assert term.wait() == 0, term.text
    assert "status       done" in term.text
    run_id = run_ids(root)[0]
    assert branch_log(root, run_id) == [f"loopwright: {INSTRUCTION}"] * 2
    assert "def shout" in git(root, "show", f"loopwright/{run_id}:greet.py")
    assert snapshot(root) == before  # kept on the branch: the working tree is untouched
    assert "accepted and applied" in user_texts(server)[1]  # the model is told patch 1 went in


def test_rejected_patch_reason_reaches_the_model(make_repo):
    root = make_repo(FILES)
    hey = block("greet.py", "    return 'hello ' + name\n", "    return 'Hey ' + name\n", "Use Hey.")
    with FakeLLMServer([CAPITALISE, hey, "DONE: greeting changed to Hey."]) as server:
        term = Terminal([*CLI, *do_args(server, root, "--keep-branch", instruction="make the greeting friendlier")])
        term.expect("s stop ›")
        term.type("r")
        term.expect("why? (sent to the model)")
        term.type("say Hey instead of Hello")
        term.expect("s stop ›", count=2)
        assert "+    return 'Hey ' + name" in term.text
        term.type("a")
        assert term.wait() == 0, term.text
    assert "say Hey instead of Hello" in user_texts(server)[1]  # the reason goes to the model
    run_id = run_ids(root)[0]
    assert "'Hey '" in git(root, "show", f"loopwright/{run_id}:greet.py")
    reviews = [json.loads(ln) for ln in (run_dir(root, run_id) / "trajectory.jsonl")
               .read_text().splitlines() if '"action": "review"' in ln]
    assert [r["verdict"] for r in reviews] == ["reject", "approve"]


def test_yes_mode_approves_unattended_and_applies_to_a_clean_tree(make_repo, monkeypatch, tmp_path):
    root = make_repo(FILES)
    check = f"{PYTHON} -c 'import greet, sys; sys.exit(not greet.greet(\"x\").startswith(\"Hello\"))'"
    with FakeLLMServer([CAPITALISE, SHOUT, DONE]) as server:
        code, out = invoke(do_args(server, root, "--yes", "--json", "--apply", "--check", check), monkeypatch)
    assert code == 0 and out["status"] == "done" and len(out["commits"]) == 2
    settings = json.loads((run_dir(root, out["run_id"]) / "do.json").read_text())
    assert settings["check"][1:3] == ["-c", "import greet, sys; sys.exit(not greet.greet(\"x\").startswith(\"Hello\"))"]
    assert out["applied"] and out["ending"] == "apply"
    assert out["python"] and out["python_why"] and out["evaluators"]["tests"].startswith("pytest ")
    assert "def shout" in (root / "greet.py").read_text()  # applied, not committed
    assert git(root, "status", "--porcelain", "--untracked-files=no").strip() == "M greet.py"
    assert git(root, "log", "--format=%s", "main").splitlines() == ["initial"]
    assert_clean(root, tmp_path / "worktrees")  # the run left no process, fork server or worktree


def test_patch_that_breaks_a_test_is_never_offered_for_approval(make_repo):
    root = make_repo(FILES)
    with FakeLLMServer([BREAK, CAPITALISE, "DONE: capitalised."]) as server:
        term = Terminal([*CLI, *do_args(server, root, "--keep-branch", instruction="capitalise the greeting")])
        term.expect("s stop ›")
        assert "rejected by the evaluators" in term.text and "breaks test_greet.py::test_greet" in term.text
        assert "patch 2" not in term.text and "+    return 'Hello'\n" not in term.text
        assert "+    return 'Hello, ' + name" in term.text
        term.type("a")
        assert term.wait() == 0, term.text
    assert term.text.count("verified by the evaluators") == 1
    assert "breaks test_greet.py::test_greet" in user_texts(server)[1]


def test_non_interactive_stdin_needs_yes(make_repo, monkeypatch):
    root = make_repo(FILES)
    with FakeLLMServer([]) as server:
        code, text = invoke(do_args(server, root), monkeypatch)
    assert code == 2 and "--yes" in text and "not a terminal" in text
    assert server.requests == []
    assert not run_dir(root).exists() or not run_ids(root)


def test_undo_drops_checkpoints_down_to_the_base(make_repo, monkeypatch):
    root = make_repo(FILES)
    task = root.parent / "TASK.md"
    task.write_text(f"# Greeting\n\n{INSTRUCTION}\n")
    with FakeLLMServer([CAPITALISE, SHOUT, DONE]) as server:  # -f TASK.md: then REPO is the argument
        code, out = invoke(["do", "-f", str(task), str(root), "--model", MODEL, "--base-url", server.openai_url,
                            "--python", PYTHON, "--yes", "--json"], monkeypatch)
    assert code == 0 and out["ending"] == "keep"
    assert INSTRUCTION in user_texts(server)[0]
    run_id = out["run_id"]
    code, res = invoke(["undo", run_id, str(root), "--json"], monkeypatch)
    assert code == 0 and res["left"] == 1 and res["dropped"] == out["commits"][1]
    assert "shout" not in git(root, "show", f"loopwright/{run_id}:greet.py")
    assert "shout" not in Path(res["patch_path"]).read_text()
    code, res = invoke(["undo", str(root), "--json"], monkeypatch)  # default: the latest do run
    assert code == 0 and res["left"] == 0 and not res["patch_path"]
    assert git(root, "rev-parse", f"loopwright/{run_id}") == git(root, "rev-parse", "main")
    code, text = invoke(["undo", run_id, str(root)], monkeypatch)
    assert code == 2 and "only the base commit" in text
    state = json.loads((run_dir(root, run_id) / "state.json").read_text())
    assert state["accepted"] == []


def test_ctrl_c_at_the_prompt_then_resume_on_the_same_branch(make_repo, monkeypatch):
    root = make_repo(FILES)
    before = snapshot(root)
    with FakeLLMServer([CAPITALISE, SHOUT, SHOUT, DONE]) as server:
        term = Terminal([*CLI, *do_args(server, root)])
        term.expect("s stop ›")
        term.type("a")
        term.expect("s stop ›", count=2)  # waiting for the developer on patch 2
        # the signal lands on a validator thread, not the one blocked reading the answer
        if not sigint_to_a_worker_thread(term.proc.pid):
            term.proc.send_signal(signal.SIGINT)
        assert term.wait() == 130, term.text
        run_id = run_ids(root)[0]
        assert "stopped (Ctrl-C)" in term.text and f"loopwright resume {run_id}" in term.text
        state = json.loads((run_dir(root, run_id) / "state.json").read_text())
        assert state["status"] == "interrupted" and state["stop_reason"] == "interrupted"
        first = git(root, "rev-parse", f"loopwright/{run_id}").strip()
        assert len(branch_log(root, run_id)) == 1
        assert run_id not in git(root, "worktree", "list")  # worktree cleaned up, branch kept

        # `loopwright resume` continues on the branch, with the run's model and base URL (do.json)
        term = Terminal([*CLI, "resume", run_id, str(root)])
        term.expect("s stop ›")
        assert "1 approved checkpoint(s) kept" in term.text and "+def shout(name):" in term.text
        term.type("a")
        term.expect("k keep the branch only")
        term.type("k")
        assert term.wait() == 0, term.text
    assert "status       done" in term.text
    resumed = user_texts(server)[2]  # the first request after the resume
    assert "Capitalise." in resumed.split("accepted and applied")[1]  # the model is told what is done
    commits = git(root, "rev-list", "--reverse", f"main..loopwright/{run_id}").split()
    assert commits[0] == first and len(commits) == 2
    assert snapshot(root) == before
    code, text = invoke(["resume", run_id, str(root)], monkeypatch)
    assert code == 2 and "already finished" in text


def test_read_file_request_is_served_and_bounded(make_repo, monkeypatch):
    big = "".join(f"CONSTANT_{i:05d} = {i}  # a long module the model may only see part of\n" for i in range(3000))
    root = make_repo({**FILES, "big.py": big, ".env": "API_TOKEN=sk-do-not-send\n"})
    read = "I need to see the code first.\nREAD: greet.py\nREAD: big.py\nREAD: .env\nREAD: ../outside.py"
    with FakeLLMServer([read, CAPITALISE, "DONE: capitalised."]) as server:
        code, out = invoke(do_args(server, root, "--yes", "--json", instruction="capitalise the greeting"),
                           monkeypatch)
    assert code == 0 and out["status"] == "done" and len(out["commits"]) == 1
    served = user_texts(server)[1]
    assert "    return 'hello ' + name" in served  # greet.py, as it is now
    assert "CONSTANT_00000 = 0" in served and "CONSTANT_02999" not in served  # big.py: cut
    assert len(served) < len(big) // 3
    assert all("sk-do-not-send" not in json.dumps(r.body) for r in server.requests)
    assert ".env" in served and "../outside.py" in served  # refused, and the model is told


def test_reviewer_answers_reasons_and_the_human_rejected_rule():
    from rich.console import Console

    from harness.cli.interactive import Reviewer
    from harness.core.validate import Outcome
    from sandbox.patch import Patch

    outcome = Outcome(Patch.from_texts({"a.py": ("x = 1\n", "x = 2\n")}, "bump [x]"), True, "verified", "full",
                      viable=True, seconds={"full": 0.5, "lint": 0.1}, tests_run=3)
    console = Console(record=True, width=100, force_terminal=False)
    answers = iter(["maybe", "r", "not like that", "R", "", "a", "reject", "three strikes"])
    reviewer = Reviewer(console, ["pytest", "-k", "new test"], ask=lambda prompt: next(answers), max_rejections=3)
    assert reviewer(outcome) == ("reject", "not like that")
    assert reviewer(outcome) == ("reject", "")
    assert reviewer(outcome) == ("approve", "")
    assert reviewer(outcome) == ("reject", "three strikes")  # the count restarted after the approval
    shown = console.export_text()
    assert "answer a, r or s" in shown and "bump [x]" in shown and "+x = 2" in shown
    assert "tests  passed — 3 run" in shown and "lint   passed" in shown and "types  not run" in shown
    assert "check  passed — `pytest -k 'new test'`" in shown
    stopping = Reviewer(console, ask=lambda prompt: "r", max_rejections=1)
    assert stopping(outcome)[0] == "stop" and "human_rejected" in stopping(outcome)[1]

    def closed(prompt):
        raise EOFError

    assert Reviewer(console, ask=closed)(outcome) == ("stop", "input closed")
