"""The sandbox room: patches, the process runner, worktrees."""

from __future__ import annotations

import os
import time

import pytest

from sandbox.patch import Patch, PatchError, apply_patch, revert
from sandbox.process import SandboxPolicy, run
from sandbox.worktree import RepoError, Worktree, open_repo
from tests.conftest import PYTHON, git, snapshot


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


def test_process_timeout_kills_the_whole_group(tmp_path):
    marker = tmp_path / "child.pid"
    code = ("import subprocess, sys, time\n"
            f"p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
            f"open({str(marker)!r}, 'w').write(str(p.pid))\n"
            "time.sleep(60)\n")
    t0 = time.monotonic()
    res = run([PYTHON, "-c", code], tmp_path, timeout=1.5)
    assert res.timed_out and res.returncode is None
    assert time.monotonic() - t0 < 10
    child = int(marker.read_text())
    time.sleep(0.2)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    """True if ``pid`` runs (a killed zombie awaiting its reaper does not count)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            return not any(ln.startswith("State:") and "Z" in ln.split()[1] for ln in fh)
    except FileNotFoundError:
        return False


def test_secrets_are_scrubbed_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_secret")
    monkeypatch.setenv("MY_SECRET_THING", "x")
    monkeypatch.setenv("HARMLESS", "ok")
    res = run([PYTHON, "-c", "import os; print(sorted(os.environ))"], tmp_path, timeout=30)
    assert "HARMLESS" in res.stdout
    for name in ("OPENAI_API_KEY", "GITHUB_TOKEN", "MY_SECRET_THING"):
        assert name not in res.stdout
    assert "OPENAI_API_KEY" not in SandboxPolicy().environment({"OPENAI_API_KEY": "k"})


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
    wt.apply(Patch.from_texts({"m.py": ("a = 1\n", "a = 2\n")}))
    sha = wt.commit("change", ["m.py"])
    assert git(root, "log", "-1", "--format=%H", "loopwright/run1").strip() == sha
    wt.remove()
    assert not wt.path.exists()
    assert snapshot(root) == before
    assert git(root, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"


def test_network_is_blocked_but_loopback_works_where_namespaces_allow(tmp_path, capsys):
    from sandbox.process import network_isolation

    code = (
        "import socket\n"
        "srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen()\n"
        "socket.create_connection(srv.getsockname(), timeout=2); print('loopback ok')\n"
        "try:\n"
        "    socket.create_connection(('192.0.2.1', 80), timeout=1); print('outside reachable')\n"
        "except OSError:\n"
        "    print('outside blocked')\n"
    )
    res = run([PYTHON, "-c", code], tmp_path, timeout=30, policy=SandboxPolicy(network=False))
    assert "loopback ok" in res.stdout
    if network_isolation() is None:
        with capsys.disabled():
            print("\n[no unprivileged network namespaces here: only the fallback was checked]")
        assert SandboxPolicy(network=False).wrap(["x"]) == ["x"]
        assert "NOT blocked" in SandboxPolicy(network=False).describe()["network"]
    else:
        assert "outside blocked" in res.stdout  # 192.0.2.1 is TEST-NET-1: never a real host
        assert SandboxPolicy(network=False).describe()["network"].startswith("blocked")


def test_private_home_and_rlimits(tmp_path):
    policy = SandboxPolicy(private_home=True, memory_bytes=512 * 2**20)
    code = "import os\nprint(os.environ['HOME'])\ntry:\n    b = bytearray(1024 * 2**20)\nexcept MemoryError:\n    print('memory limited')\n"
    res = run([PYTHON, "-c", code], tmp_path, timeout=30, policy=policy)
    home, limited = res.stdout.split()[0], res.stdout.split("\n")[1]
    assert home != os.path.expanduser("~") and "loopwright-home" in home
    assert limited == "memory limited"


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
