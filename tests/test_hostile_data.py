"""The worktree is hostile data (issue 19, items 2-5): what code under test leaves in a worktree
never reaches loopwright's hands as trust, and secrets stay out of reach.

Victims live outside the worktree *and* outside /tmp (the sandbox's /tmp is private, so a
victim there proves nothing): a folder under the real home directory, removed afterwards.
A scripted model on loopback (:mod:`evals.model_server`) proposes the patches.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from evals.model_server import FakeLLMServer
from harness.core.errors import UsageError
from harness.core.state import RunFiles, RunState
from loops.spec import Limits
from harness.generators.registry import make_generator
from harness.core.config import RunConfig
from harness.core.records import AcceptedPatch
from harness.work.fix import fix
from sandbox import bwrap, redact
from sandbox.patch import Patch, PatchError
from sandbox.process import SandboxPolicy, run
from sandbox.worktree import Worktree, open_repo
from tests.conftest import PYTHON, git
from tests.test_fix import CLAMP
from tests.test_hostile import FAST_RETRY, FIX, prepend

strong_only = pytest.mark.skipif(not bwrap.available(), reason="bwrap cannot run here (weak sandbox)")


@pytest.fixture
def victim():
    """A folder outside /tmp and outside every worktree, with a file whose bytes must not change."""
    home = Path(os.path.realpath(Path.home()))
    folder = home / f".loopwright-victim-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    (folder / "victim.txt").write_text("victim text: must stay byte-identical\n")
    (folder / "keep.txt").write_text("keep me\n")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def run_model(root: Path, replies: list[str], seconds: float = 180, **opts):
    """``fix`` with the scripted model; returns (FixResult or the UsageError, every request body)."""
    with FakeLLMServer(replies) as srv:
        gen = make_generator("openai:gpt-4.1-mini", base_url=srv.openai_url, retry=FAST_RETRY,
                             env={"OPENAI_API_KEY": "sk-test"})
        limits = Limits(max_iterations=len(replies), max_wall_seconds=seconds, no_progress=4)
        try:
            result = fix(root, gen, RunConfig(python=PYTHON, limits=limits, **opts))
        except UsageError as exc:
            result = exc
        return result, [r.body for r in srv.requests]


# -- 1. slots are reset by git, never written back through a link -------------------------------

def test_revert_does_not_write_through_a_symlink_the_code_left(make_repo, victim):
    """Old revert wrote the previous text through the link (the victim got the module's source)."""
    root = make_repo({"pkg/m.py": "a = 1\n"})
    wt = Worktree.create(open_repo(root), f"sym-{os.getpid()}", None)
    before = (victim / "victim.txt").read_bytes()
    wt.apply(Patch.from_texts({"pkg/m.py": ("a = 1\n", "a = 2\n")}))
    (wt.path / "pkg" / "m.py").unlink()
    (wt.path / "pkg" / "m.py").symlink_to(victim / "victim.txt")  # what the module did at import
    wt.reset()
    assert (victim / "victim.txt").read_bytes() == before
    assert not (wt.path / "pkg" / "m.py").is_symlink()
    assert (wt.path / "pkg" / "m.py").read_text() == "a = 1\n"
    wt.remove()


def test_reset_does_not_delete_through_a_directory_link(make_repo, victim):
    """A patch adds pkg/keep.txt; the code replaces pkg/ by a link to the victim's folder:
    undoing the added file must not delete the victim's file of the same name."""
    root = make_repo({"pkg/m.py": "a = 1\n"})
    wt = Worktree.create(open_repo(root), f"dir-{os.getpid()}", None)
    wt.apply(Patch.from_texts({"pkg/keep.txt": ("", "new\n")}))
    shutil.rmtree(wt.path / "pkg")
    (wt.path / "pkg").symlink_to(victim, target_is_directory=True)
    wt.revert()
    assert (victim / "keep.txt").read_text() == "keep me\n"
    assert (wt.path / "pkg").is_dir() and not (wt.path / "pkg").is_symlink()
    assert sorted(p.name for p in (wt.path / "pkg").iterdir()) == ["m.py"]
    wt.remove()


def test_apply_refuses_a_link_on_the_way(make_repo, victim):
    root = make_repo({"pkg/m.py": "a = 1\n"})
    wt = Worktree.create(open_repo(root), f"way-{os.getpid()}", None)
    shutil.rmtree(wt.path / "pkg")
    (wt.path / "pkg").symlink_to(victim, target_is_directory=True)
    with pytest.raises(PatchError):
        wt.apply(Patch.from_diff("--- /dev/null\n+++ b/pkg/victim.txt\n@@ -0,0 +1 @@\n+pwned\n"))
    assert (victim / "victim.txt").read_text() == "victim text: must stay byte-identical\n"
    wt.remove()


def test_symlink_and_mode_changes_in_patch_text_are_refused():
    link = ("diff --git a/m.py b/m.py\nnew file mode 120000\n--- /dev/null\n+++ b/m.py\n"
            "@@ -0,0 +1 @@\n+/root/.bashrc\n\\ No newline at end of file\n")
    with pytest.raises(PatchError, match="symlinks and file mode"):
        Patch.from_diff(link)
    chmod = "diff --git a/m.py b/m.py\nold mode 100644\nnew mode 100755\n--- a/m.py\n+++ b/m.py\n@@ -1 +1 @@\n-a\n+b\n"
    with pytest.raises(PatchError, match="symlinks and file mode"):
        Patch.from_diff(chmod)


def test_a_module_that_swaps_itself_for_a_link_to_the_victim(make_repo, victim):
    """Issue 19 item 2, end to end: the rejected candidate leaves a link to the victim in the slot;
    the victim stays byte-identical and the next, correct candidate is still accepted."""
    root = make_repo(CLAMP)
    before = (victim / "victim.txt").read_bytes()
    hostile = prepend(f"import os as _o\nif not _o.path.islink(__file__):\n    _o.remove(__file__)\n"
                      f"    _o.symlink({str(victim / 'victim.txt')!r}, __file__)\n")
    result, _ = run_model(root, [hostile, FIX], jobs=1)
    assert (victim / "victim.txt").read_bytes() == before
    assert result.state.status == "fixed", result.to_json()


APPEND = ("import os as _o\n"
          "if not _o.path.islink(__file__) and '# LEAK' + 'ED' not in open(__file__).read():\n"
          "    with open(__file__, 'a') as _h:\n"
          "        _h.write('\\n# LEAK' + 'ED\\n')\n")
SWAP = ("import os as _o\n"
        "if not _o.path.islink(__file__):\n"
        "    _s = open(__file__).read()\n"
        "    with open(__file__ + '_copy.py', 'w') as _h:\n"
        "        _h.write(_s + '\\n# LEAK' + 'ED\\n')\n"
        "    _o.remove(__file__)\n"
        "    _o.symlink(_o.path.basename(__file__) + '_copy.py', __file__)\n")


@pytest.mark.parametrize("code", [APPEND, SWAP], ids=["appends-to-itself", "swaps-itself-for-a-link"])
def test_the_commit_carries_only_the_validated_text(make_repo, code):
    """Issue 19 item 3: a fix whose module appends to ``__file__`` (or swaps itself for a link)
    when imported, as the confirmation run does in the run's worktree: the commit and patch.diff
    carry only the validated patch text, a regular file; the static screen flags the writes to
    ``__file__``, so --apply leaves the user's tree alone."""
    root = make_repo(CLAMP)
    original = (root / "mathx" / "__init__.py").read_text()
    result, _ = run_model(root, [prepend(code) + FIX], apply=True)  # two blocks: the code and the fix
    # the static screen sees the writes to __file__: fixed, but flagged, so never applied
    assert result.state.status == "flagged" and any("__file__" in f for f in result.state.flagged), result.to_json()
    branch = result.state.branch
    entry = git(root, "ls-tree", branch, "mathx/__init__.py").split()
    assert entry[0] == "100644"
    committed = git(root, "show", f"{branch}:mathx/__init__.py")
    assert "LEAKED" not in committed and "return hi" in committed and "_o.path.islink" in committed
    assert "LEAKED" not in result.patch and "120000" not in result.patch
    assert Path(result.patch_path).read_text() == result.patch
    user = root / "mathx" / "__init__.py"
    assert not user.is_symlink() and user.read_text() == original  # --apply skipped: flagged
    assert not (root / "mathx" / "__init__.py_copy.py").exists()


# -- 4. outputs read from loopwright's descriptors; no secret reaches the model -----------------

@strong_only
def test_a_replaced_err_file_is_not_read_through(make_repo, victim):
    """Issue 19 item 5: the repository's conftest.py, from the fork server's second run on (its
    private /tmp lives across runs), swaps the stderr file it was given for a link to the victim
    and dies before collection, so loopwright reports stderr as the start-up error. The victim's
    text is not in stop_detail, the messages or the --json result."""
    marker = f"victim-secret-{uuid.uuid4().hex}"
    (victim / "victim.txt").write_text(marker + "\n")
    files = {**CLAMP, "conftest.py": f"""
        import os

        if os.path.exists('/tmp/.runs-seen'):
            for fd in os.listdir('/proc/self/fd'):  # pytest's capture may hold the real fd 2
                try:
                    p = os.readlink('/proc/self/fd/' + fd)
                except OSError:
                    continue
                if p.startswith('/') and p.endswith('.err'):
                    os.remove(p)
                    os.symlink({str(victim / 'victim.txt')!r}, p)
                    os._exit(3)
        else:
            open('/tmp/.runs-seen', 'w').close()
    """}
    root = make_repo(files)
    result, _ = run_model(root, [FIX, prepend("X = 1\n")], seconds=120, jobs=1)
    text = str(result) if isinstance(result, UsageError) else json.dumps(result.to_json())
    assert marker not in text
    assert (victim / "victim.txt").read_text() == marker + "\n"


@strong_only
def test_a_hostile_test_cannot_put_the_home_gitconfig_into_the_prompt(make_repo, monkeypatch):
    """Issue 19 item 4: a repository test fails with ``open($HOME/.gitconfig).read()`` as its
    message. The real $HOME is an empty tmpfs in the sandbox, and a token-shaped string in a
    test's message is redacted from the request the model receives."""
    home = Path(os.path.realpath(Path.home())) / f".loopwright-home-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    home.mkdir()
    marker = f"planted-secret-{uuid.uuid4().hex}"
    (home / ".gitconfig").write_text(f"[user]\n\tname = {marker}\n")
    token = "ghp_" + "Z9" * 18
    monkeypatch.setenv("HOME", str(home))
    files = {**CLAMP, "tests/test_leak.py": f"""
        import os

        def test_leak():
            msg = {token!r}
            try:
                msg += open(os.path.expanduser('~/.gitconfig')).read()
            except OSError as exc:
                msg += repr(exc)
            assert False, msg
    """}
    root = make_repo(files)
    try:
        result, bodies = run_model(root, [FIX])
    finally:
        shutil.rmtree(home, ignore_errors=True)
    sent = json.dumps(bodies)
    assert bodies and marker not in sent and token not in sent
    assert redact.MARK in sent  # the redaction pass ran on the request
    assert marker not in json.dumps(result.to_json()) and token not in json.dumps(result.to_json())


def test_redaction_of_environment_secrets_and_token_shapes():
    env = {"MY_API_KEY": "s3cr3t-value-123", "PATH": "/usr/bin", "FLAG_TOKEN": "1"}
    text = ("key s3cr3t-value-123, gh ghp_" + "a" * 36 + ", pat github_pat_" + "b" * 30
            + ", sk-ant-api03-" + "c" * 20 + ", sk-" + "d" * 30 + ", AKIA" + "E" * 16
            + ", xoxb-1234567890-abc, https://user:hunter2@example.invalid/r, "
            + "Authorization: Bearer abcdefghijkl, path /usr/bin, flag 1")
    out = redact.redact(text, env)
    for secret in ("s3cr3t", "ghp_", "github_pat_", "sk-ant-", "sk-ddd", "AKIAEEE", "xoxb-", "hunter2",
                   "abcdefghijkl"):
        assert secret not in out, (secret, out)
    assert "/usr/bin" in out and "flag 1" in out and "example.invalid/r" in out
    nested = redact.redact_all({"a": ["ghp_" + "x" * 36, 3], "b": ("s3cr3t-value-123",)}, env)
    assert nested == {"a": [redact.MARK, 3], "b": (redact.MARK,)}


def test_stop_detail_is_redacted_as_it_is_set(monkeypatch):
    monkeypatch.setenv("LOOPWRIGHT_TEST_SECRET", "very-secret-value-42")
    state = RunState("20250101-120000-ab12", "fix", "/r", "0" * 40)
    state.stop_detail = "evaluator fault: very-secret-value-42 and sk-" + "q" * 24
    assert "very-secret" not in state.stop_detail and "sk-qqq" not in state.stop_detail


# -- 3. the sandbox's .git/config: an allow-list, rebuilt from what git parses ------------------

def test_insteadof_and_one_line_extraheader_tokens_do_not_reach_the_sandbox(make_repo):
    root = make_repo({"m.py": "a = 1\n"})
    with open(root / ".git" / "config", "a") as fh:
        fh.write('[url "https://x:TOKEN-IN-URL-123@github.com/"]\n\tinsteadOf = https://github.com/\n'
                 "[http] extraheader = AUTHORIZATION: basic ONE-LINE-HEADER-456\n"
                 '[includeIf "gitdir:/"]\n\tpath = /nonexistent/creds\n'
                 "[user]\n\tname = Multi \\\n  line\n")
    git(root, "remote", "add", "origin", "https://github.com/o/r.git")
    wt = Worktree.create(open_repo(root), f"cfg-{os.getpid()}", None)
    try:
        res = run(["sh", "-c", f"cat {root}/.git/config; git config --list"], wt.path, timeout=30,
                  policy=SandboxPolicy(git_dir=root / ".git"))
        if res.sandbox == "strong":
            out = res.stdout
            assert "TOKEN-IN-URL-123" not in out and "ONE-LINE-HEADER-456" not in out
            assert "insteadof" not in out.lower() and "includeif" not in out.lower()
            assert "remote.origin.url=https://github.com/o/r.git" in out
            assert "user.name=Multi   line" in out  # the continued value, as git reads it
    finally:
        wt.remove()


# -- 5. resource limits, each named when it trips ----------------------------------------------

def test_file_size_limit_is_named(tmp_path):
    res = run([sys.executable, "-c", "open('big', 'wb').write(b'x' * (3 * 2**20))"], tmp_path, timeout=60,
              policy=SandboxPolicy(file_bytes=2**20))
    assert res.returncode != 0
    assert "file size limit exceeded: RLIMIT_FSIZE, 1 MiB per file" in res.stderr
    assert (tmp_path / "big").stat().st_size <= 2**20


@strong_only
def test_the_sandbox_tmp_has_a_size(tmp_path, monkeypatch):
    monkeypatch.setattr(bwrap, "TMPFS_BYTES", 2**20)
    code = ("import errno\ntry:\n    open('/tmp/fill', 'wb').write(b'x' * (3 * 2**20))\n"
            "except OSError as e:\n    print('full', e.errno == errno.ENOSPC)\n")
    res = run([sys.executable, "-c", code], tmp_path, timeout=60, policy=SandboxPolicy(file_bytes=None))
    assert "full True" in res.stdout, res.stderr


def test_worktree_growth_is_measured_without_following_links(make_repo, victim):
    root = make_repo({"m.py": "a = 1\n"})
    wt = Worktree.create(open_repo(root), f"grow-{os.getpid()}", None)
    (victim / "big.bin").write_bytes(b"x" * 2**20)
    (wt.path / "link").symlink_to(victim / "big.bin")
    (wt.path / "junk.bin").write_bytes(b"y" * 4096)
    grown = wt.growth(limit=2**30)
    assert 4096 <= grown < 2**20  # the link counts as itself, not as the 1 MiB it points to
    wt.reset()
    assert wt.growth() == 0
    wt.remove()


# -- 6. a corrupted state.json is exit 2 with one line ------------------------------------------

@pytest.mark.parametrize("diff", ["this is not a diff", "--- a/../x.py\n+++ b/../x.py\n@@ -1 +1 @@\n-a\n+b\n"])
def test_resume_with_a_corrupted_accepted_diff_exits_2(make_repo, diff):
    root = make_repo(CLAMP)
    run_id = "20250101-120000-ab12"
    head = git(root, "rev-parse", "HEAD").strip()
    state = RunState(run_id, "fix", str(root), head, status="interrupted",
                     accepted=[AcceptedPatch("x", diff, [], ["x.py"], {})])
    RunFiles(root, run_id).save(state)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    res = subprocess.run([sys.executable, "-m", "loopwright", "resume", run_id, "--python", PYTHON],
                         cwd=root, capture_output=True, text=True, timeout=300, env=env)
    assert res.returncode == 2, res.stdout + res.stderr
    assert "Traceback" not in res.stderr and "corrupted" in res.stdout + res.stderr
    errors = [ln for ln in (res.stdout + res.stderr).splitlines() if "corrupted (" in ln]
    assert len(errors) == 1
