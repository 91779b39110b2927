"""The sandbox room: patches, the process runner, worktrees."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from sandbox.limits import interpreter_dirs
from sandbox.patch import Patch, PatchError, apply_patch, revert
from sandbox import bwrap
from sandbox.process import SandboxPolicy, network_isolation, run
from sandbox.worktree import RepoError, Worktree, open_repo
from tests.conftest import PYTHON, git, snapshot, survivors


def test_patch_roundtrip_apply_and_revert(tmp_path):
    (tmp_path / "m.py").write_text("a = 1\nb = 2\nc = 3\n")
    patch = Patch.from_texts({"m.py": ("a = 1\nb = 2\nc = 3\n", "a = 1\nb = 20\nc = 3\n")}, "b")
    assert patch.files == ("m.py",) and patch.added == 1 and patch.removed == 1 and patch.hunks == 1
    prev = apply_patch(tmp_path, patch)
    assert (tmp_path / "m.py").read_text() == "a = 1\nb = 20\nc = 3\n"
    revert(tmp_path, prev)
    assert (tmp_path / "m.py").read_text() == "a = 1\nb = 2\nc = 3\n"


def test_patch_applies_to_shifted_file(tmp_path):
    patch = Patch.from_texts({"m.py": ("x = 1\ny = 2\n", "x = 1\ny = 3\n")})
    (tmp_path / "m.py").write_text("# header\n# more\nx = 1\ny = 2\n")
    apply_patch(tmp_path, patch)
    assert (tmp_path / "m.py").read_text() == "# header\n# more\nx = 1\ny = 3\n"


def test_patch_that_does_not_match_writes_nothing(tmp_path):
    (tmp_path / "a.py").write_text("a = 1\n")
    (tmp_path / "b.py").write_text("b = 1\n")
    patch = Patch.from_texts({"a.py": ("a = 1\n", "a = 2\n"), "b.py": ("zzz\n", "b = 2\n")})
    with pytest.raises(PatchError, match="b.py: hunk 1"):
        apply_patch(tmp_path, patch)
    assert (tmp_path / "a.py").read_text() == "a = 1\n"


@pytest.mark.parametrize("path", ["/etc/passwd", "../outside.py", "a/../../x.py", ".git/config"])
def test_unsafe_paths_are_refused(path):
    diff = f"--- a/{path}\n+++ b/{path}\n@@ -1 +1 @@\n-x\n+y\n"
    with pytest.raises(PatchError):
        Patch.from_diff(diff)


def test_symlink_escape_is_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "t.py").write_text("x\n")
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "link").symlink_to(outside)
    patch = Patch.from_diff("--- a/link/t.py\n+++ b/link/t.py\n@@ -1 +1 @@\n-x\n+y\n")
    with pytest.raises(PatchError, match="outside the worktree"):
        apply_patch(tree, patch)
    assert (outside / "t.py").read_text() == "x\n"


def test_garbage_is_not_a_patch():
    with pytest.raises(PatchError):
        Patch.from_diff("hello world\n")


def test_digest_tells_places_and_files_apart():
    a = Patch.from_texts({"m.py": ("a\nb\n", "a\nc\n")})
    b = Patch.from_texts({"m.py": ("a\nb\n", "a\nc\n")}, "same change, other description")
    c = Patch.from_texts({"m.py": ("a\nb\n", "a\nd\n")})
    other_file = Patch.from_texts({"n.py": ("a\nb\n", "a\nc\n")})
    body = "".join(f"line{i}\n" for i in range(20))
    guard = "if x is None: return None\n"
    top = Patch.from_texts({"m.py": (body, guard + body)})
    bottom = Patch.from_texts({"m.py": (body, body + guard)})
    assert a.digest == b.digest != c.digest
    assert other_file.digest != a.digest and top.digest != bottom.digest


def test_process_timeout_kills_the_whole_tree(tmp_path):
    token = f"lw-tree-{os.getpid()}-{time.monotonic_ns()}"
    code = ("import subprocess, sys, time\n"
            f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)', {token!r}])\n"
            f"subprocess.Popen(['setsid', sys.executable, '-c', 'import time; time.sleep(60)', {token!r}])\n"
            "time.sleep(60)\n")
    t0 = time.monotonic()
    res = run([PYTHON, "-c", code], tmp_path, timeout=1.5)
    assert res.timed_out and res.returncode is None
    assert time.monotonic() - t0 < 10
    time.sleep(0.3)
    left = survivors(token)
    if res.sandbox == "strong":
        assert not left  # the PID namespace takes setsid children too
    for pid in left:  # weak fallback: setsid escapes the group; do not leave it running
        os.kill(pid, 9)


def test_a_setsid_grandchild_holding_the_pipe_cannot_hang_the_reader(tmp_path):
    token = f"lw-pipe-{os.getpid()}-{time.monotonic_ns()}"
    code = ("import subprocess, sys\n"
            f"subprocess.Popen(['setsid', sys.executable, '-c', 'import time; time.sleep(60)', {token!r}])\n"
            "print('parent done')\n")
    t0 = time.monotonic()
    res = run([PYTHON, "-c", code], tmp_path, timeout=30)
    assert res.returncode == 0 and "parent done" in res.stdout
    assert time.monotonic() - t0 < 10  # not the grandchild's 60 s, not the 30 s timeout
    left = survivors(token)
    if res.sandbox == "strong":
        assert not left
    for pid in left:
        os.kill(pid, 9)


SECRETS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GITHUB_TOKEN", "GH_TOKEN", "AWS_SECRET_ACCESS_KEY",
           "AWS_ACCESS_KEY_ID", "AWS_SESSION_TOKEN", "API_KEY", "OPENAI_KEY", "AZURE_OPENAI_KEY",
           "GITHUB_PAT", "DATABASE_URL", "SSH_AUTH_SOCK", "NPM_TOKEN", "PYPI_TOKEN",
           "SLACK_WEBHOOK_URL", "HF_TOKEN")


def test_environment_is_an_allow_list(tmp_path, monkeypatch):
    for name in SECRETS:
        monkeypatch.setenv(name, f"secret-value-of-{name}")
    monkeypatch.setenv("HARMLESS_BUT_UNDECLARED", "x")
    monkeypatch.setenv("DECLARED", "ok")
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    res = run([PYTHON, "-c", "import os; print(dict(os.environ))"], tmp_path, timeout=30,
              policy=SandboxPolicy(pass_env=("DECLARED",)))
    assert "secret-value-of" not in res.stdout
    for name in (*SECRETS, "HARMLESS_BUT_UNDECLARED"):
        assert f"'{name}'" not in res.stdout
    assert "'DECLARED': 'ok'" in res.stdout and "'LC_ALL'" in res.stdout and "'PATH'" in res.stdout
    env = SandboxPolicy().environment({"OPENAI_API_KEY": "k", "PATH": "/bin"})
    assert env["PATH"] == "/bin" and "OPENAI_API_KEY" not in env


def test_network_is_loopback_only(tmp_path, capsys):
    import socket

    outside = socket.socket()  # a listener on the host's loopback, outside the sandbox
    outside.bind(("127.0.0.1", 0))
    outside.listen()
    port = outside.getsockname()[1]
    code = (
        "import socket\n"
        "srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen()\n"
        "socket.create_connection(srv.getsockname(), timeout=2); print('own loopback ok')\n"
        "try:\n"
        f"    socket.create_connection(('127.0.0.1', {port}), timeout=2); print('host reachable')\n"
        "except OSError:\n"
        "    print('host blocked')\n"
    )
    try:
        res = run([PYTHON, "-c", code], tmp_path, timeout=30, policy=SandboxPolicy(network=False))
    finally:
        outside.close()
    assert "own loopback ok" in res.stdout
    policy = SandboxPolicy(network=False)
    if res.sandbox == "weak" and network_isolation() is None:
        with capsys.disabled():
            print("\n[no network namespaces here: only the fallback was checked]")
        assert "NOT blocked" in policy.describe()["network"]
    else:
        assert "host blocked" in res.stdout
        assert policy.describe()["network"].startswith("loopback only")


def test_private_home_and_rlimits(tmp_path):
    policy = SandboxPolicy(private_home=True, memory_bytes=512 * 2**20)
    code = "import os\nprint(os.environ['HOME'])\ntry:\n    b = bytearray(1024 * 2**20)\nexcept MemoryError:\n    print('memory limited')\n"
    res = run([PYTHON, "-c", code], tmp_path, timeout=30, policy=policy)
    home, limited = res.stdout.split()[0], res.stdout.split("\n")[1]
    assert home != os.path.expanduser("~")
    assert limited == "memory limited"


def test_strong_sandbox_writes_only_the_worktree(tmp_path):
    if not bwrap.available():
        pytest.skip("bwrap cannot run here: the weak fallback is tested elsewhere")
    wt, outside = tmp_path / "wt", tmp_path / "outside"
    wt.mkdir()
    outside.mkdir()
    home_file = Path.home() / f".loopwright-probe-{os.getpid()}"
    code = ("import os, sys\n"
            "for target in sys.argv[1:]:\n"
            "    try:\n"
            "        open(target, 'w').write('x'); print('wrote', target)\n"
            "    except OSError as exc:\n"
            "        print('refused', target, exc.errno)\n"
            "print('ppid', os.getppid())\n")
    targets = [str(wt / "ok.txt"), str(outside / "no.txt"), str(home_file), "/tmp/private.txt",
               "/etc/loopwright-probe"]
    res = run([PYTHON, "-c", code, *targets], wt, timeout=30)
    assert res.sandbox == "strong"
    assert f"wrote {wt / 'ok.txt'}" in res.stdout and (wt / "ok.txt").exists()
    assert not (outside / "no.txt").exists() and not home_file.exists()
    assert not Path("/etc/loopwright-probe").exists()
    assert "ppid 1" in res.stdout  # bwrap's init, not loopwright


def test_git_config_credentials_are_hidden(make_repo):
    root = make_repo({"m.py": "a = 1\n"})
    git(root, "config", "http.https://github.com/.extraheader", "AUTHORIZATION: basic c2VjcmV0LXRva2Vu")
    git(root, "remote", "add", "origin", "https://user:hunter2@example.invalid/r.git")
    repo = open_repo(root)
    wt = Worktree.create(repo, f"cfg-{os.getpid()}", None)
    try:
        res = run(["sh", "-c", f"cat {root}/.git/config; git config --get remote.origin.url"], wt.path,
                  timeout=30)
        if res.sandbox == "strong":
            assert "c2VjcmV0LXRva2Vu" not in res.stdout and "hunter2" not in res.stdout
            assert "example.invalid/r.git" in res.stdout  # the rest of the config is kept
    finally:
        wt.remove()
    clean = bwrap.sanitize_git_config(
        '[http "https://github.com/"]\n\textraheader = AUTHORIZATION: basic abc\n'
        '[credential]\n\thelper = store\n[remote "o"]\n\turl = https://u:p@h/r\n')
    assert "abc" not in clean and "store" not in clean and "u:p@" not in clean and "https://h/r" in clean


def test_open_repo_errors_say_what_to_do(tmp_path, make_repo):
    with pytest.raises(RepoError, match="not inside a git repository"):
        open_repo(tmp_path)
    empty = make_repo({"a.py": "x = 1\n"}, commit=False)
    with pytest.raises(RepoError, match="no commits"):
        open_repo(empty)


def test_worktree_is_outside_and_leaves_user_tree_alone(make_repo):
    root = make_repo({"m.py": "a = 1\n"})
    (root / "m.py").write_text("a = 'uncommitted'\n")
    before = snapshot(root)
    repo = open_repo(root)
    wt = Worktree.create(repo, "run1", "loopwright/run1")
    assert root not in wt.path.parents
    assert (wt.path / "m.py").read_text() == "a = 1\n"  # from HEAD, not the dirty tree
    wt.accept(Patch.from_texts({"m.py": ("a = 1\n", "a = 2\n")}))
    sha = wt.commit("change", ["m.py"])
    assert git(root, "log", "-1", "--format=%H", "loopwright/run1").strip() == sha
    wt.remove()
    assert not wt.path.exists()
    assert snapshot(root) == before
    assert git(root, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"


def test_unified_diff_of_a_window_equals_the_whole_file_diff():
    import difflib
    import random

    from sandbox.patch import unified_diff

    def plain(path, old, new):
        out = []
        for ln in difflib.unified_diff(old.splitlines(True), new.splitlines(True), f"a/{path}", f"b/{path}"):
            out.append(ln if ln.endswith("\n") else ln + "\n\\ No newline at end of file\n")
        return "".join(out)

    rng = random.Random(7)
    base = [f"line {i}\n" for i in range(60)]
    for _ in range(300):
        lines = list(base)
        for _ in range(rng.randint(1, 3)):  # one to three edits anywhere, ends included
            i = rng.randrange(len(lines) + 1)
            kind = rng.choice(["replace", "insert", "delete"])
            if kind == "insert" or i == len(lines):
                lines.insert(i, f"new {rng.random()}\n")
            elif kind == "replace":
                lines[i] = f"changed {rng.random()}\n"
            else:
                del lines[i]
        old, new = "".join(base), "".join(lines)
        if rng.random() < 0.2:
            new = new.rstrip("\n")
        assert unified_diff("m.py", old, new) == plain("m.py", old, new)


def test_sanitized_git_config_copies_end_with_their_process(make_repo):
    """The credential-free copy of ``.git/config`` bound over the real one lives in the temp
    directory only while the process that made it runs (1,100 were once left behind)."""
    import subprocess
    import sys

    root = make_repo({"m.py": "a = 1\n"})
    code = ("import sys\nfrom pathlib import Path\nfrom sandbox import bwrap\n"
            "argv = bwrap.command(['true'], Path(sys.argv[1]), git_dir=Path(sys.argv[1]) / '.git')\n"
            "i = argv.index(str(Path(sys.argv[1]) / '.git' / 'config'))\n"
            "copy = argv[i - 1]\nassert Path(copy).is_file(), copy\nprint(copy)\n")
    res = subprocess.run([sys.executable, "-c", code, str(root)], capture_output=True, text=True, timeout=60,
                         cwd=Path(__file__).parents[1])
    assert res.returncode == 0, res.stderr
    copy = Path(res.stdout.strip())
    assert copy.name.startswith("loopwright-gitconfig-") and not copy.exists()


def test_copies_left_by_a_killed_process_are_swept(tmp_path):
    """SIGKILL skips ``atexit``: the next process removes copies whose process is gone, and
    keeps those of live processes and files it cannot place."""
    import subprocess
    import sys

    from sandbox.bwrap import _sweep_orphans

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    orphan = tmp_path / f"loopwright-gitconfig-{dead}-abc"
    alive = tmp_path / f"loopwright-gitconfig-{os.getpid()}-def"
    other = tmp_path / "loopwright-gitconfig-xyz"
    parent = tmp_path / f"loopwright-gitconfig-{os.getppid()}-ghi"
    for p in (orphan, alive, other, parent):
        p.write_text("[core]\n")
    assert _sweep_orphans(str(tmp_path)) == [str(orphan)]
    assert not orphan.exists() and alive.exists() and other.exists() and parent.exists()


def test_a_venv_reached_through_a_linked_dot_venv_is_readable(tmp_path):
    # a repository's .venv that links to a venv kept elsewhere (a hidden $HOME's cache): the venv's
    # own directory must be bound, not only the base interpreter its bin/python links on to
    venv = tmp_path / "home" / ".cache" / "venvs" / "v1"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(sys.executable)
    (venv / "pyvenv.cfg").write_text(f"home = {Path(sys.executable).parent}\n")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".venv").symlink_to(venv)
    dirs = interpreter_dirs(str(repo / ".venv" / "bin" / "python"))
    assert repo / ".venv" in dirs and venv.resolve() in dirs
    assert Path(os.path.realpath(sys.executable)).parent.parent in dirs
