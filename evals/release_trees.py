"""Release-pair source trees and task trees: what N and N+1 changed, and N's source with N+1's tests.

The lower half of the release-pair benchmark (:mod:`evals.release_pairs`): unpacking both
releases' sdists (cached under ``cache_root()/release-pairs``), the developer's change
to each module (:class:`Change`, version bumps and comment-only edits left out), the
hybrid tree (:func:`build_tree`) and a task repository (:func:`materialize`). The
miner that decides which changes make tasks is :mod:`evals.release_mine`.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from evals.inject import is_test_path
from evals.release_env import ensure_venv, requirements
from evals.sources import BASE_DATE, BadInput, PrepareError, cache_dir, fetch_sdist, run_git, text_or_none, unpack

__all__ = ["MAX_CHANGED_LINES", "Change", "build_tree", "changed_tests", "gold_patch", "has_tests", "is_test_file", "materialize",
           "pair_python", "pair_trees", "short_name", "source_changes", "source_tree", "text_or_none"]

MAX_CHANGED_LINES = 6
_VERSION_LINE = re.compile(r"^\s*(__version__|VERSION|version|__version_info__|version_info|__version_tuple__"
                           r"|version_tuple)\s*[:=]")
#: generated version modules (versioneer, setuptools-scm, hand-kept): a release always changes them
_VERSION_FILES = {"_version.py", "__version__.py", "__about__.py"}
_SKIP_PARTS = {"__pycache__", ".git", ".tox", ".nox", "build", "dist"}
#: folders of an sdist that hold no library code: a change there cannot be a fix (Sphinx's conf.py)
_NOT_SOURCE = {"docs", "doc", "benchmarks", "bench", "examples", "scripts", "tools"}
#: scripts at an sdist's root that build or drive the project, by their tools' default names (setuptools,
#: nox, a hatchling build hook, a poetry build script, fabric, invoke, paver, doit): never the library
_ROOT_SCRIPTS = {"setup.py", "noxfile.py", "hatch_build.py", "build.py", "fabfile.py", "tasks.py", "pavement.py",
                 "dodo.py"}


def is_test_file(rel: str) -> bool:
    """:func:`evals.inject.is_test_path`, plus files under a ``testsuite`` folder (pycodestyle's
    test data are ``.py`` files there)."""
    return is_test_path(rel) or "testsuite" in rel.split("/")[:-1]


def has_tests(root: Path) -> bool:
    """True when the source tree ``root`` holds a test module (a ``.py`` :func:`is_test_file`
    other than a ``conftest.py``): an sdist without one cannot give a task."""
    return any(rel.endswith(".py") and is_test_file(rel) and not rel.endswith("conftest.py")
               for rel in _files(root))


def changed_tests(old_root: Path, new_root: Path) -> list[str]:
    """N+1's test modules (``test_*.py``/``*_test.py`` under any folder) that are new or differ
    from N's, sorted: where N+1's tests can notice what N+1 fixed."""
    old, new = _files(old_root), _files(new_root)
    out = []
    for rel, path in new.items():
        name = rel.rsplit("/", 1)[-1]
        if rel.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py")) and is_test_file(rel) \
                and (rel not in old or text_or_none(old[rel]) != text_or_none(path)):
            out.append(rel)
    return sorted(out)


@dataclass
class Change:
    """The developer's change to one non-test module between releases N and N+1.

    ``old`` is N's text, ``gold`` is N's text with N+1's hunks applied except those
    that only change a version assignment; ``changed_lines`` counts the removed +
    added lines of ``old`` -> ``gold``.
    """

    path: str
    old: str
    gold: str
    changed_lines: int

    @property
    def patch(self) -> str:
        """The gold patch: a unified diff with ``a/``/``b/`` headers (3 lines of context)."""
        return gold_patch(self.path, self.old, self.gold)


# -- source trees ---------------------------------------------------------------------------
def source_tree(package: str, version: str, cache: Path | None = None) -> Path:
    """The unpacked sdist of ``package==version`` (cached in ``CACHE/release-pairs/trees``).

    ``package`` may also be a local sdist archive path (tests use that; ``version``
    then only names the cache slot).

    Raises:
        PrepareError: pip download or unpacking failed.
    """
    root = cache_dir(cache)
    if os.path.sep in package and not Path(package).exists():
        raise PrepareError(f"{package}: no such sdist archive")
    local = Path(package) if os.path.sep in package else None
    name = local.name if local else package
    key = hashlib.sha1(str(local.resolve()).encode()).hexdigest()[:10] if local else ""
    slot = root / "release-pairs" / "trees" / f"{re.sub(r'[^A-Za-z0-9._-]+', '_', name)}-{version}{key}"
    if slot.is_dir():
        return slot
    archive = local or _fetch(package, version, root)
    slot.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".unpack-", dir=slot.parent))
    try:
        unpack(archive, tmp)
        try:
            tmp.rename(slot)
        except OSError:  # another process unpacked it first
            pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return slot


def _fetch(package: str, version: str, cache: Path) -> Path:
    """:func:`evals.sources.fetch_sdist`, trying ``--no-build-isolation`` first (same cache slot).

    pip prepares an sdist's metadata even for ``download``; with build isolation that
    installs the build backend into a fresh environment each time (about 30 s of a
    loaded 2-core machine), without it the backend already installed here is used.
    When that fails (backend not installed), the isolated download runs.
    """
    slot = cache / "sdists" / f"{re.sub(r'[-_.]+', '-', package).lower()}-{version}"
    if not (slot.is_dir() and any(slot.iterdir())):
        slot.parent.mkdir(parents=True, exist_ok=True)  # the download lands beside its slot: one rename,
        tmp = Path(tempfile.mkdtemp(prefix=".dl-", dir=slot.parent))  # never across file systems
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", package, "-q",
               "--no-build-isolation", "-d", str(tmp), f"{package}=={version}"]
        try:
            res = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
        except subprocess.TimeoutExpired:  # the isolated download below says so, or succeeds
            res = subprocess.CompletedProcess(cmd, -1)
        files = sorted(tmp.glob("*"))
        if res.returncode == 0 and len(files) == 1:
            slot.parent.mkdir(parents=True, exist_ok=True)
            try:
                tmp.rename(slot)
            except OSError:
                pass
        shutil.rmtree(tmp, ignore_errors=True)
    return fetch_sdist(package, version, cache)


def _files(root: Path) -> dict[str, Path]:
    """Repo-relative posix path -> file, without build output, caches or egg-info."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if not p.is_file() or any(part in _SKIP_PARTS or part.endswith(".egg-info")
                                  for part in rel.parts) or p.suffix == ".pyc":
            continue
        out[rel.as_posix()] = p
    return out


def _gold(old: str, new: str) -> tuple[str, int]:
    """N's text with N+1's edits except version-only ones, and its added + removed line count."""
    a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
    out, changed = [], 0
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        touched = a[i1:i2] + b[j1:j2]
        if tag == "equal" or all(_VERSION_LINE.match(line) for line in touched):
            out.extend(a[i1:i2])
            continue
        out.extend(b[j1:j2])
        changed += (i2 - i1) + (j2 - j1)
    return "".join(out), changed


def same_code(a: str, b: str) -> bool:
    """True when two module texts differ only in comments, layout or docstrings (same AST
    once docstrings are dropped): such a change cannot be what makes a test pass."""
    import ast

    def dump(text: str) -> str:
        tree = ast.parse(text)
        for node in ast.walk(tree):
            body = getattr(node, "body", None)
            if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                    and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
                node.body = body[1:]
        return ast.dump(tree)

    try:
        return dump(a) == dump(b)
    except (SyntaxError, ValueError):
        return False


def source_changes(old_root: Path, new_root: Path) -> list[Change]:
    """Changed non-test ``.py`` modules present in both trees, smallest change first.

    Build and task scripts at the root (:data:`_ROOT_SCRIPTS`: ``setup.py``, ``noxfile.py``,
    ``hatch_build.py``, ...), version modules (``_version.py``,
    ``__version__.py``, ``__about__.py``) and modules under a top-level docs/doc/benchmarks/bench/examples/scripts/tools
    folder are not library code and are left out.

    Modules added or removed by N+1 are left out (a new module is not a small fix),
    and so are changes that only bump a version string (``changed_lines`` 0) or only
    touch comments, layout or docstrings.
    """
    old, new = _files(old_root), _files(new_root)
    found = []
    for rel in sorted(set(old) & set(new)):
        if not rel.endswith(".py") or is_test_file(rel) or rel in _ROOT_SCRIPTS \
                or rel.split("/")[0] in _NOT_SOURCE or rel.rsplit("/", 1)[-1] in _VERSION_FILES:
            continue
        a, b = text_or_none(old[rel]), text_or_none(new[rel])
        if a is None or b is None or a == b:
            continue
        gold, changed = _gold(a, b)
        if changed and not same_code(a, gold):
            found.append(Change(rel, a, gold, changed))
    return sorted(found, key=lambda c: (c.changed_lines, c.path))


def gold_patch(path: str, old: str, gold: str) -> str:
    """Unified diff ``a/PATH`` -> ``b/PATH`` of two texts (what ``git apply`` takes)."""
    return "".join(difflib.unified_diff(old.splitlines(keepends=True), gold.splitlines(keepends=True),
                                        f"a/{path}", f"b/{path}"))


def build_tree(old_root: Path, new_root: Path, dest: Path, *, old_tests: set[str] = frozenset(),
               deselect: set[str] = frozenset(), change: Change | None = None) -> None:
    """Write N's source with N+1's test files into ``dest`` (created; must not exist).

    Test files (:func:`evals.inject.is_test_path`, data under test folders included)
    come from N+1, except the paths in ``old_tests``, which keep N's version (or are
    absent when N has none). ``deselect`` node ids are left out of collection by a hook
    appended to the root ``conftest.py`` (see :func:`_deselect_hook`). ``change``, when
    given, is applied (its gold text written).
    """
    old, new = _files(old_root), _files(new_root)
    dest.mkdir(parents=True)
    for rel, src in old.items():
        if not is_test_file(rel) or rel in old_tests:
            _copy(src, dest / rel)
    for rel, src in new.items():
        if is_test_file(rel) and rel not in old_tests:
            _copy(src, dest / rel)
    if deselect:
        conftest = dest / "conftest.py"
        before = conftest.read_text("utf-8") + "\n\n" if conftest.is_file() else ""
        conftest.write_text(before + _deselect_hook(deselect), "utf-8")
    if change is not None:
        (dest / change.path).write_text(change.gold, "utf-8")


def _deselect_hook(ids: set[str]) -> str:
    """Root-conftest code that deselects the node ids in ``ids`` (pytest reports them as
    deselected) and does not collect the file paths (ids without ``::``)."""
    files = sorted(i for i in ids if "::" not in i)
    return (
        "# Added by evals.release_pairs: these tests fail with and without this task's fix\n"
        "# (another module's change or the environment), so the task leaves them out.\n"
        f"_LOOPWRIGHT_DESELECT = {sorted(i for i in ids if '::' in i)!r}\n"
        + (f"collect_ignore = globals().get('collect_ignore', []) + {files!r}\n" if files else "")
        + "\n\n"
        "def pytest_collection_modifyitems(config, items):\n"
        "    drop = [i for i in items if i.nodeid in _LOOPWRIGHT_DESELECT]\n"
        "    if drop:\n"
        "        config.hook.pytest_deselected(items=drop)\n"
        "        items[:] = [i for i in items if i.nodeid not in _LOOPWRIGHT_DESELECT]\n")


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, dst)


# -- pairs ---------------------------------------------------------------------------------
def pair_python(old_root: Path, new_root: Path, cache: Path | None, extra: list[str] | tuple = ()) -> Path:
    """The interpreter of the pair's shared venv: both releases' requirements and ``extra``
    (the undeclared test requirements a task records, :func:`evals.release_env.test_requirements`),
    see :func:`ensure_venv`.

    Raises:
        PrepareError: the venv could not be built.
    """
    return ensure_venv(sorted(set(requirements(old_root)) | set(requirements(new_root)) | set(extra)), cache)


def short_name(package: str) -> str:
    """``package`` (a name or a local archive path) as a task id prefix: lower case, dashes."""
    return re.sub(r"[^a-z0-9]+", "-", Path(package).name.lower()).strip("-")


def pair_trees(package: str, old: str, new: str, cache: Path | None) -> tuple[Path, Path]:
    """The unpacked source trees of releases ``old`` and ``new`` (:func:`source_tree`); local
    archives when ``old`` is a path (tests).

    Raises:
        PrepareError: a download or unpack failed.
    """
    if os.path.sep in old:  # local archives (tests): the versions are the paths
        return source_tree(old, "local", cache), source_tree(new, "local", cache)
    return source_tree(package, old, cache), source_tree(package, new, cache)


# -- tasks ----------------------------------------------------------------------------------
def materialize(spec: dict, out: str | Path, *, cache: Path | None = None) -> Path:
    """Build a ``release_pair`` task as a git repository at ``out`` (absent or empty).

    ``spec`` is ``{package, old, new, old_tests?: [paths], deselect?: [node ids],
    file?: str, test_requirements?: [names]}``: N's source with N+1's test files (never N+1's source; see
    :func:`build_tree`), one commit with a fixed author and
    date, and ``out/.venv`` pointing at the task's shared venv (see
    :func:`ensure_venv`; listed in ``.git/info/exclude``), so ``loopwright fix out``
    runs N+1's tests with their requirements and sees the failing ones.

    Raises:
        evals.sources.BadInput: ``spec`` lacks package/old/new, or ``out`` is not empty.
        PrepareError: download, unpack, venv or git failed.
    """
    if not all(isinstance(spec.get(k), str) for k in ("package", "old", "new")):
        raise BadInput(f"release_pair spec {spec!r}: needs string package, old and new")
    out = Path(out).resolve()
    if out.exists() and any(out.iterdir()):
        raise BadInput(f"{out} exists and is not empty; choose another folder or remove it")
    old_root, new_root = pair_trees(spec["package"], spec["old"], spec["new"], cache)
    if out.exists():
        out.rmdir()
    build_tree(old_root, new_root, out, old_tests=set(spec.get("old_tests") or ()),
               deselect=set(spec.get("deselect") or ()))
    run_git(out, "init", "-q", "-b", "main", "--template=")
    run_git(out, "add", "-A", "-f")
    run_git(out, "commit", "-q", "--no-verify", "-m",
         f"{short_name(spec['package'])} {spec['old']} source with {spec['new']}'s tests", date=BASE_DATE)
    python = pair_python(old_root, new_root, cache, spec.get("test_requirements") or ())
    (out / ".venv").symlink_to(python.parent.parent, target_is_directory=True)
    (out / ".git" / "info").mkdir(exist_ok=True)
    with open(out / ".git" / "info" / "exclude", "a") as fh:
        fh.write(".venv\n")
    return out
