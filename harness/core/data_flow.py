"""Data dependence for fault localization: the module-level bindings suspicious lines read.

Spectrum-based scores put a module-level line (a pattern, a table, a constant) near the
bottom of the ranking: it runs at import, so every test runs it and its Ochiai score is
``sqrt(F / (F + P))``. When the bug is in that data, the lines the failing tests point at
are the ones *reading* it (``RE_HEADER.match(line)``). So a binding a suspicious line reads
by name - in its own module, or imported with ``from M import NAME`` / used as ``m.NAME``
from a module of the repository - gets a share of that line's score, and a binding that
binding reads a share of its share (``CHUNK_RE = re.compile(chunk_header)``, the grammar
string in another module): a two-step, static stand-in for the dynamic data slice of the
failing statement (Agrawal and Horgan, "Dynamic Program Slicing", PLDI 1990).

Pure over the files it reads: paths outside the root and symbolic links are not followed.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

#: share of a reading line's score its binding gets (below the reader: the reader stays first).
DATA_WEIGHT = 0.5
#: the most suspicious lines whose reads are followed.
TOP_READERS = 30
#: steps followed from a reading line: its bindings, then the bindings those read
#: (``CHUNK_RE = re.compile(chunk_header)`` and ``chunk_header`` in the grammar module),
#: each step with :data:`DATA_WEIGHT` of the one before.
HOPS = 2

Key = tuple[str, int]
Parse = Callable[[Path], "ast.Module | None"]
StatementAt = Callable[[Path, int], "ast.stmt | None"]


def data_scores(root: Path, scores: dict[Key, float], parse: Parse, statement_at: StatementAt) -> dict[Key, float]:
    """Scores for the module-level bindings the most suspicious lines read.

    Args:
        root: the worktree (repo-relative paths in ``scores`` are under it).
        scores: (repo-relative path, line) -> suspiciousness, as ranked so far.
        parse: a path -> its module's syntax tree (None when it does not parse).
        statement_at: (path, line) -> the smallest simple statement spanning the line.

    Returns:
        (repo-relative path, first line of the binding statement) -> ``DATA_WEIGHT`` x the
        best score of a line among the :data:`TOP_READERS` that reads it, and
        ``DATA_WEIGHT`` x that for a binding such a binding reads (:data:`HOPS` steps). Only plain
        assignments at module level (``NAME = ...``, ``NAME: T = ...``) count: a function's
        or class's own lines have their own spectrum.
    """
    readers = sorted(((k, s) for k, s in scores.items() if s > 0), key=lambda kv: -kv[1])[:TOP_READERS]
    out: dict[Key, float] = {}
    tables: dict[str, _Module] = {}
    for _ in range(HOPS):  # a binding read by a binding: `_re = re.compile(PATTERN)`, PATTERN elsewhere
        found: dict[Key, float] = {}
        for (rel, line), score in readers:
            stmt = statement_at(root / rel, line)
            if stmt is None:
                continue
            here = tables.get(rel) or tables.setdefault(rel, _Module(root, rel, parse))
            for target in here.reads(stmt):
                if max(out.get(target, 0.0), found.get(target, 0.0)) < DATA_WEIGHT * score:
                    found[target] = DATA_WEIGHT * score
        out.update(found)
        readers = list(found.items())
    return out


class _Module:
    """One module's top-level names: its own bindings and what its imports bring in."""

    def __init__(self, root: Path, rel: str, parse: Parse):
        self.root, self.rel, self.parse = root, rel, parse
        self.bound: dict[str, int] = {}  # name -> line of its module-level assignment
        self.imported: dict[str, tuple[str, str]] = {}  # local name -> (module file, name there)
        self.modules: dict[str, str] = {}  # local name of an imported module -> its file
        tree = self._tree(rel)
        for node in tree.body if tree is not None else ():
            if isinstance(node, (ast.Assign, ast.AnnAssign)):
                for t in node.targets if isinstance(node, ast.Assign) else [node.target]:
                    for n in ast.walk(t):
                        if isinstance(n, ast.Name):
                            self.bound.setdefault(n.id, node.lineno)
            elif isinstance(node, ast.ImportFrom):
                base = self._resolve(node.module or "", node.level)
                for a in node.names:
                    sub = self._resolve(f"{node.module}.{a.name}" if node.module else a.name, node.level)
                    if sub:  # `from pkg import constants`: a module
                        self.modules[a.asname or a.name] = sub
                    elif base:
                        self.imported[a.asname or a.name] = (base, a.name)
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.asname and (found := self._resolve(a.name, 0)):
                        self.modules[a.asname] = found

    def reads(self, stmt: ast.stmt) -> list[Key]:
        """The module-level bindings (path, line) ``stmt`` reads by name or as ``module.NAME``."""
        found: list[Key] = []
        for n in ast.walk(stmt):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load):
                if n.id in self.bound:
                    found.append((self.rel, self.bound[n.id]))
                elif n.id in self.imported:
                    found += self._binding(*self.imported[n.id])
            elif isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id in self.modules:
                found += self._binding(self.modules[n.value.id], n.attr)
        return found

    def _binding(self, rel: str, name: str) -> list[Key]:
        tree = self._tree(rel)
        for node in tree.body if tree is not None else ():
            if isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if any(isinstance(n, ast.Name) and n.id == name for t in targets for n in ast.walk(t)):
                    return [(rel, node.lineno)]
        return []

    def _tree(self, rel: str) -> ast.Module | None:
        path = self.root / rel
        return None if path.is_symlink() else self.parse(path)

    def _resolve(self, dotted: str, level: int) -> str:
        """The repo-relative file of module ``dotted`` (``level`` dots up from this module's
        package when relative), or "" when it is not a regular file of the repository."""
        parts = [p for p in dotted.split(".") if p]
        if level:
            bases = [Path(self.rel).parents[level - 1]] if level <= len(Path(self.rel).parents) else []
        else:
            bases = [Path("."), Path("src")]
        for base in bases:
            for cand in (base.joinpath(*parts).with_suffix(".py") if parts else None,
                         base.joinpath(*parts, "__init__.py")):
                if cand is None or ".." in cand.parts:
                    continue
                full = self.root / cand
                if full.is_file() and not full.is_symlink() and not any(p.is_symlink() for p in full.parents
                                                                        if self.root in p.parents):
                    return cand.as_posix()
        return ""
