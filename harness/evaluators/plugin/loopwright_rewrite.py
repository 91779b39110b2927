"""Test modules' assertion rewriting done once per content in the fork server, not per candidate.

pytest rewrites the ``assert`` statements of every test module it imports (an AST pass and a
compile) and would cache the result as a ``.pyc``; our test processes write no bytecode
(``PYTHONDONTWRITEBYTECODE``: a same-size edit within the same second would be missed by the
mtime+size check), so each candidate's run rewrote its test module again. On a large test
module that is most of a candidate's time: furl 2.1.3's ``tests/test_furl.py`` (2394 lines, 785
asserts) takes about 1.5 s to rewrite, while its two failing tests run in 0.01 s (release-pair
tune suite, 1.6 s per candidate, 120 candidates in 150 s).

Candidates never change a test module (test files are protected paths), so the rewrite is the
same for every candidate. The fork server (:mod:`loopwright_forkserver`) calls :func:`prepare`
with each request before it forks: the test files the request names are read, and rewritten
(parsed and compiled, never executed) in the server when their content is new. Each child calls
:func:`install`: pytest's ``_rewrite_test`` then returns the server's code object for a file whose
bytes hash to the same SHA-256 (and with ``enable_assertion_pass_hook`` off, the only setting
the rewrite reads), and rewrites as before otherwise. The memo lives in the server's memory:
a child (code under test) cannot write to it, and what it holds is a function of the file's
bytes and path alone, so a file changed by anyone is simply rewritten again.

Standard library only (plus pytest, which the target interpreter has).
"""

import hashlib
import os

#: absolute path -> (sha256 of the file's bytes, what pytest's ``_rewrite_test`` returned for it:
#: its code object names the file by this path, so only a child importing it by the same path uses it)
MEMO: dict = {}
#: at most this many files kept (a request names a few; a suite's test files, not more)
LIMIT = 512


def _original():
    try:
        from _pytest.assertion import rewrite
    except ImportError:
        return None, None
    fn = getattr(rewrite, "_rewrite_test", None)
    return rewrite, getattr(fn, "__wrapped__", fn)


def _files(cwd, args):
    """The existing ``.py`` files among pytest arguments ``args`` (a node id's file part),
    resolved against ``cwd``; absolute paths (links not resolved: pytest does not resolve them)."""
    out = []
    for arg in args:
        if not isinstance(arg, str) or arg.startswith("-"):
            continue
        path = os.path.abspath(os.path.join(cwd, arg.split("::", 1)[0]))
        if path.endswith(".py") and os.path.isfile(path) and path not in out:
            out.append(path)
    return out


def prepare(cwd, args):
    """In the fork server, before a child is forked: rewrite each test file named in pytest
    arguments ``args`` (relative to ``cwd``) whose content is not in :data:`MEMO` yet. A file
    that cannot be read or parsed is left to the child (its error is the child's to report)."""
    from pathlib import Path

    rewrite, original = _original()
    if original is None:
        return
    for path in _files(cwd, args):
        try:
            with open(path, "rb") as f:
                digest = hashlib.sha256(f.read()).hexdigest()
            if MEMO.get(path, (None,))[0] == digest:
                continue
            done = original(Path(path), None)  # config None: the pass hook off
        except (OSError, SyntaxError, ValueError):
            continue
        if len(MEMO) >= LIMIT:
            MEMO.clear()
        MEMO[path] = (digest, done)


def install():
    """In a child: pytest's ``_rewrite_test`` answers from :data:`MEMO` when the file's bytes
    are the ones the server rewrote and the configuration does not ask for the pass hook."""
    rewrite, original = _original()
    if original is None or not MEMO:
        return

    def _rewrite_test(fn, config):
        hit = MEMO.get(str(fn))
        if hit is not None and not (config is not None and config.getini("enable_assertion_pass_hook")):
            try:
                with open(fn, "rb") as f:
                    same = hashlib.sha256(f.read()).hexdigest() == hit[0]
            except OSError:
                same = False
            if same:
                return hit[1]
        return original(fn, config)

    _rewrite_test.__wrapped__ = original
    rewrite._rewrite_test = _rewrite_test
