"""A repository map: files and their top-level symbols, ranked by relevance, within a token budget.

Shown to the model for instruction and review tasks, where no failing test points at
the code: it tells the model what exists and where, so it can ask to ``READ`` the
right files. Python files are outlined with :mod:`ast` (functions with their argument
names, classes with their methods, upper-case constants); other files are listed by
path. Files are ranked by simple token overlap between the query (the instruction or
review comment) and each file's path and symbol names::

    >>> m = build_repo_map(root, "add a --verbose flag to the CLI", budget_tokens=1000)
    >>> print(m.text)
    harness/cli.py:
      def main(argv)
      class App: run, stop
    ...

Scoring (per file, higher first): 3 per query word in the path, 1 per query word
among the symbol names' words, 0.5 per near match (a shared prefix of 5+ letters,
e.g. ``greeting``/``greet``), 3 per symbol named verbatim in the query, 10 when the
path itself appears in the query or is in ``boost``. Ties: non-test files first, then
shallower paths, then alphabetical.
"""

from __future__ import annotations

import ast
import fnmatch
import functools
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from harness.generators.replies import SECRET_PATTERNS
from harness.generators.tokens import estimate_tokens
from sandbox.gitcmd import listed_files

#: Directory names never listed (caches, virtual environments, build output, VCS).
SKIP_DIRS = frozenset({
    ".git", ".loopwright", ".venv", "venv", "env", "__pycache__", "node_modules", ".mypy_cache",
    ".pytest_cache", ".ruff_cache", ".tox", ".nox", "build", "dist", "site-packages", ".eggs",
})
#: File suffixes never listed (binary or generated).
SKIP_SUFFIXES = frozenset({
    ".pyc", ".pyo", ".so", ".dll", ".dylib", ".o", ".a", ".png", ".jpg", ".jpeg", ".gif", ".ico",
    ".pdf", ".zip", ".gz", ".tgz", ".bz2", ".xz", ".whl", ".egg", ".lock", ".bin", ".pkl", ".npy",
})
MAX_FILES = 5000  # files considered; more are counted as omitted
MAX_PARSE_BYTES = 400_000  # larger Python files are listed without symbols
MAX_METHODS = 12  # methods listed per class
MAX_CONSTANTS = 8  # upper-case constants listed per file
MAX_SYMBOLS = 40  # outline lines per file
_STOP = frozenset(
    "a an the and or but if then than to of in on at by for with from into onto as is are was were be been "
    "it its this that these those there here what which who how why when where do does did done not no "
    "can could should would will shall may might must please also just only so such some any all each "
    "every more less most new use using used make makes made instead like you your we our they them "
    "i me my he she his her us get set let".split()
)
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{2,}")


@dataclass(frozen=True)
class FileEntry:
    """One file of the map.

    Attributes:
        path: repo-relative POSIX path.
        symbols: outline lines, e.g. ``("def add(a, b)", "class Calc(Base): add, sub", "MAX_SIZE")``;
            empty for non-Python files.
        names: every symbol name (functions, classes, methods, constants), for matching.
        note: ``"does not parse"`` or ``"too large to outline"`` when the outline is missing.
    """

    path: str
    symbols: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    note: str = ""

    def render(self) -> str:
        """The entry as map text: the path, then the symbols indented by two spaces."""
        head = f"{self.path}:" if self.symbols else self.path
        if self.note:
            head += f"  ({self.note})"
        return "\n".join([head] + [f"  {s}" for s in self.symbols])


@dataclass
class RepoMap:
    """A rendered map.

    Attributes:
        text: the map, one entry per file, best first (empty if no file fits).
        files: the paths shown, in rank order.
        scores: ``{path: score}`` for every file considered (0.0: no overlap).
        omitted: files considered but left out to stay within the budget (or past ``MAX_FILES``).
    """

    text: str
    files: list[str]
    scores: dict[str, float]
    omitted: int


def words(text: str) -> set[str]:
    """Lower-case words of ``text``: identifiers split at ``_``, case changes and digits;
    English stop words and one-letter words dropped. ``"parseArgs(max_len)"`` ->
    ``{"parse", "args", "max", "len"}``."""
    out = {w.lower() for w in _WORD.findall(text)}
    return {w for w in out if len(w) > 1 and w not in _STOP}


def list_files(root: Path) -> list[str]:
    """Repo-relative paths of the files under ``root``, sorted.

    Uses ``git ls-files --cached --others --exclude-standard`` (so ``.gitignore`` is
    respected) and falls back to walking the tree when ``root`` is not a git checkout.
    Paths in :data:`SKIP_DIRS`, hidden directories (except ``.github``),
    :data:`SKIP_SUFFIXES` and files that may hold credentials
    (:data:`~harness.generators.replies.SECRET_PATTERNS`) are left out, as are listed
    files that no longer exist.
    """
    root = Path(root)
    listed = listed_files(root)  # through sandbox.gitcmd: the worktree's .git may be redirected
    paths: Iterable[str] = _walk(root) if listed is None else listed
    keep = {p for p in paths if _listed(p) and (root / p).is_file()}
    return sorted(keep)


def _walk(root: Path) -> Iterable[str]:
    for here, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and (not d.startswith(".") or d == ".github")]
        rel = Path(here).relative_to(root)
        for name in names:
            yield (rel / name).as_posix()


def _listed(path: str) -> bool:
    parts = path.split("/")
    if any(p in SKIP_DIRS or (p.startswith(".") and p != ".github") for p in parts[:-1]):
        return False
    if any(fnmatch.fnmatchcase(parts[-1], pat) for pat in SECRET_PATTERNS):
        return False
    return os.path.splitext(path)[1].lower() not in SKIP_SUFFIXES


def outline(root: Path, path: str) -> FileEntry:
    """The :class:`FileEntry` of ``root/path``; cached by modification time and size."""
    target = Path(root) / path
    if not path.endswith((".py", ".pyi")):
        return FileEntry(path)
    try:
        st = target.stat()
    except OSError:
        return FileEntry(path)
    return _outline(str(target), path, st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=8192)
def _outline(target: str, path: str, mtime_ns: int, size: int) -> FileEntry:
    if size > MAX_PARSE_BYTES:
        return FileEntry(path, note="too large to outline")
    try:
        tree = ast.parse(Path(target).read_bytes())
    except (OSError, SyntaxError, ValueError):
        return FileEntry(path, note="does not parse")
    symbols: list[str] = []
    names: list[str] = []
    constants: list[str] = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            symbols.append(_signature(node))
            names.append(node.name)
        elif isinstance(node, ast.ClassDef):
            methods = [
                n.name for n in node.body
                if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                and (not n.name.startswith("__") or n.name in ("__init__", "__call__"))
            ]
            bases = ", ".join(_name(b) for b in node.bases)
            line = f"class {node.name}({bases})" if bases else f"class {node.name}"
            if methods:
                more = ", ..." if len(methods) > MAX_METHODS else ""
                line += ": " + ", ".join(methods[:MAX_METHODS]) + more
            symbols.append(line)
            names += [node.name, *methods]
        else:
            constants += _constants(node)
    names += constants
    if len(constants) > MAX_CONSTANTS:
        constants = constants[:MAX_CONSTANTS] + [f"... ({len(constants) - MAX_CONSTANTS} more constants)"]
    symbols = constants + symbols
    if len(symbols) > MAX_SYMBOLS:
        symbols = symbols[:MAX_SYMBOLS] + [f"... ({len(symbols) - MAX_SYMBOLS} more)"]
    return FileEntry(path, tuple(symbols), tuple(names))


def _signature(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    a = node.args
    params = [p.arg for p in a.posonlyargs + a.args]
    if a.vararg:
        params.append("*" + a.vararg.arg)
    elif a.kwonlyargs:
        params.append("*")
    params += [p.arg for p in a.kwonlyargs]
    if a.kwarg:
        params.append("**" + a.kwarg.arg)
    prefix = "async def" if isinstance(node, ast.AsyncFunctionDef) else "def"
    return f"{prefix} {node.name}({', '.join(params)})"


def _name(node: ast.expr) -> str:
    try:
        text = ast.unparse(node)
    except Exception:  # an odd base expression is just left unnamed
        return "?"
    return text if len(text) <= 40 else text[:37] + "..."


def _constants(node: ast.stmt) -> list[str]:
    targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
    return [t.id for t in targets if isinstance(t, ast.Name) and t.id.isupper() and len(t.id) > 1]


def _near(a: str, b: str) -> bool:
    """Words sharing a prefix of 5+ letters covering 80% of the shorter one."""
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n >= 5 and n >= 0.8 * min(len(a), len(b))


def score(entry: FileEntry, query: str, boost: Iterable[str] = ()) -> float:
    """Relevance of ``entry`` to ``query`` (0.0: no overlap); see the module docstring."""
    qwords = words(query)
    idents = {m.lower() for m in _IDENT.findall(query)}
    path_words = words(entry.path.rsplit(".", 1)[0])
    name_words = set().union(*(words(n) for n in entry.names)) if entry.names else set()
    s = 3.0 * len(qwords & path_words) + 1.0 * len(qwords & (name_words - path_words))
    rest = qwords - path_words - name_words
    s += 0.5 * sum(1 for q in rest if any(_near(q, w) for w in path_words | name_words))
    s += 3.0 * sum(1 for n in set(entry.names) if n.lower() in idents)
    if entry.path in query or entry.path in set(boost):
        s += 10.0
    return s


def _is_test(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return name.startswith("test_") or name.endswith("_test.py") or "tests/" in path or name == "conftest.py"


def rank(entries: Iterable[FileEntry], query: str, boost: Iterable[str] = ()) -> list[tuple[FileEntry, float]]:
    """``(entry, score)`` pairs, most relevant first (ties: non-test, shallower, alphabetical)."""
    boost = tuple(boost)
    scored = [(e, score(e, query, boost)) for e in entries]
    scored.sort(key=lambda es: (-es[1], _is_test(es[0].path), es[0].path.count("/"), es[0].path))
    return scored


def build_repo_map(
    root: Path,
    query: str,
    budget_tokens: int,
    *,
    count: Callable[[str], int] = estimate_tokens,
    boost: Iterable[str] = (),
    files: list[str] | None = None,
) -> RepoMap:
    """The map of ``root`` ranked for ``query``, within ``budget_tokens``.

    Args:
        root: the repository (a worktree) to map.
        query: the instruction or review comment text.
        budget_tokens: tokens the map text may use (as counted by ``count``).
        count: text -> tokens; default ``estimate_tokens`` (bytes / 4, rounded up).
        boost: paths to put first (e.g. the file a review comment is on).
        files: the repo-relative paths to consider; default :func:`list_files`.

    Returns:
        A :class:`RepoMap`. Files are added best first while they fit: a file whose
        outline does not fit is listed by path alone if that fits; the rest are
        counted in ``omitted``. Never raises for unreadable or unparsable files.
    """
    paths = list_files(root) if files is None else list(files)
    omitted = max(0, len(paths) - MAX_FILES)
    ranked = rank((outline(root, p) for p in paths[:MAX_FILES]), query, boost)
    parts: list[str] = []
    shown: list[str] = []
    used = 0
    for entry, _ in ranked:
        for text in (entry.render(), entry.path) if entry.symbols else (entry.render(),):
            cost = count(text) + 1
            if used + cost <= budget_tokens:
                parts.append(text)
                shown.append(entry.path)
                used += cost
                break
        else:
            omitted += 1
    return RepoMap("\n".join(parts), shown, {e.path: s for e, s in ranked}, omitted)
