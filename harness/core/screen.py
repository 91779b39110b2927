"""What a candidate's patch text says before any of it runs: files that would shadow an
importable module (refused by the validator's policy stage), and code that reaches into the
machinery judging it (a static screen that flags an accepted fix for a human).

Both read only the diff (:class:`sandbox.patch.Patch`), never the worktree, so code under
test cannot influence them. The shadowing check is a refusal: a new ``pytest.py``,
``_pytest/``, ``pluggy/``, ``sitecustomize`` or a standard-library name in a directory that
is on ``sys.path`` during the tests would replace what the runner or the tests import. The
static screen is a bound, not a proof: it looks for the handful of names a cheap forgery of a
verdict needs (pytest's internals, ``sys.modules``, ``builtins``, ``atexit``, ``os._exit``,
``ctypes``, ``gc``, signal handlers, writes to ``__file__``, ``exec``/``eval`` of decoded data);
code that hides them well enough gets through it, and is left to the confirmation run's
canaries (:mod:`harness.evaluators.confirm`). See docs/threat-model.md ("Forged verdicts").
"""

from __future__ import annotations

import re
from pathlib import Path

import unidiff

from sandbox.patch import Patch

#: Top-level names no patch may add: pytest and its plugin manager, the interpreter's start-up
#: hooks, loopwright's own modules in the target interpreter (``loopwright_*``).
ALWAYS_SHADOWING = frozenset({"pytest", "_pytest", "pluggy", "py", "sitecustomize", "usercustomize",
                              "iniconfig", "conftest"})

#: Directories of the worktree that are on ``sys.path`` while tests run (its root and ``src``).
PATH_ROOTS = ("", "src/")

#: (pattern over one added line, why it is flagged). Ordered: the first match of a line is kept.
FLAGS: tuple[tuple[re.Pattern, str], ...] = tuple((re.compile(p), why) for p, why in (
    (r"\b_pytest\b|\bpluggy\b|\b(import|from)\s+pytest\b|\bpytest\s*\.\s*[A-Za-z_]",
     "uses pytest or its machinery from the code under test"),
    (r"\bloopwright_|LOOPWRIGHT_", "names loopwright's plugin or its variables"),
    (r"sys\s*\.\s*modules\b|\.\s*modules\s*\[", "edits or reads sys.modules"),
    (r"\b__builtins__\b|\bimport\s+builtins\b|\bbuiltins\s*\.", "changes builtins"),
    (r"\batexit\b", "registers an exit handler (atexit)"),
    (r"\.\s*_exit\b|\bos\s*\.\s*(kill|abort|killpg)\b", "ends the process itself (os._exit/kill/abort)"),
    (r"\bctypes\b|\bcffi\b", "uses ctypes"),
    (r"\bget_(objects|referrers|referents)\b", "walks live objects (gc)"),
    (r"signal\s*\.\s*(signal|setitimer|alarm|set_wakeup_fd)\b", "installs a signal handler"),
    (r"\b(settrace|setprofile|_getframe|excepthook|addaudithook)\b|inspect\s*\.\s*(stack|currentframe)",
     "hooks the interpreter (trace, frames, exit)"),
    (r"__file__.*\b(open|write\w*|remove|unlink|symlink|rename|replace|truncate)\b"
     r"|\b(open|remove|unlink|symlink|rename|replace|truncate)\b.*__file__", "writes to its own file (__file__)"),
    (r"\b(exec|eval|compile)\s*\(.*\b(b64decode|b32decode|b16decode|a85decode|b85decode|fromhex|decompress"
     r"|decode|codecs|marshal|rot13|unhexlify|join|chr)\b", "runs decoded data (exec/eval)"),
    (r"\bmarshal\s*\.\s*loads\b|\bpickle\s*\.\s*loads\b|\b__import__\s*\(|\bimportlib\s*\.\s*import_module\b",
     "imports or loads code dynamically"),
    (r"/proc/self|\bos\s*\.\s*(dup2|write|fdopen)\s*\(", "writes to raw file descriptors or /proc"),
))


def added_files(patch: Patch) -> list[str]:
    """Repository-relative paths ``patch`` creates (new files and rename targets), in diff order."""
    out = []
    for pf in unidiff.PatchSet(patch.diff):
        if pf.is_added_file or pf.is_rename:
            path = pf.target_file
            out.append(path[2:] if path.startswith("b/") else path)
    return out


def top_names(root: Path) -> set[str]:
    """Top-level module names the tree at ``root`` defines in its import roots (root, ``src``):
    ``x.py`` and ``x/`` give ``x``. Adding files under a name the project already has is not
    shadowing (the project *is* that module, e.g. pytest's own repository)."""
    out = set()
    for base in (root / r for r in PATH_ROOTS):
        if base.is_dir():
            out |= {p.name.split(".", 1)[0] for p in base.iterdir() if not p.name.startswith(".")}
    return out


def shadowing(patch: Patch, importable: frozenset[str] | set[str], own: set[str]) -> str:
    """Why ``patch`` must be refused for shadowing a module, or ``''``.

    A file the patch adds whose top-level module name (its first component under the
    worktree root or ``src/``, extension stripped) is in :data:`ALWAYS_SHADOWING`, starts with
    ``loopwright``, or is in ``importable`` (the target interpreter's standard-library names and
    its installed distributions' top-level names, see
    :meth:`harness.evaluators.pytest_runner.PytestEvaluator.importable_names`) and is not one
    of the names the project itself defines (``own``, :func:`top_names` of the base tree).
    """
    for path in added_files(patch):
        for prefix in PATH_ROOTS:
            if prefix and not path.startswith(prefix):
                continue
            rest = path[len(prefix):]
            name = rest.split("/", 1)[0].split(".", 1)[0]
            if not name or name in own:
                continue
            if name in ALWAYS_SHADOWING or name.startswith("loopwright") or name in importable:
                what = ("the test runner or the interpreter's start-up" if name in ALWAYS_SHADOWING
                        or name.startswith("loopwright") else "an installed or standard-library module")
                return (f"adds {path}, which would shadow the importable module `{name}` ({what}); "
                        "a patch may not add files named like modules the tests or their runner import")
    return ""


def flags(patch: Patch) -> list[str]:
    """The static screen: one reason per added line that matches :data:`FLAGS` (at most 10),
    ``"path:line: why: the line"``; empty when nothing is flagged. Comments are not skipped:
    the screen is meant to be cheap and loud, a human reads what it flags."""
    out: list[str] = []
    for pf in unidiff.PatchSet(patch.diff):
        path = pf.path[2:] if pf.path.startswith(("a/", "b/")) else pf.path
        for hunk in pf:
            for ln in hunk:
                if not ln.is_added:
                    continue
                text = ln.value.strip()
                why = next((w for pat, w in FLAGS if pat.search(text)), "")
                if why:
                    out.append(f"{path}:{ln.target_line_no}: {why}: {text[:120]}")
                    if len(out) >= 10:
                        return out
    return out
