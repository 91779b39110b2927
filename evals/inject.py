"""Seeded single-bug injection for benchmark tasks.

Deliberately independent of the repairer in :mod:`harness` (it imports nothing
from it), so the benchmark does not grade the repairer with its own operators.

A module is parsed with :mod:`ast`; every place where a classic one-token bug can
be planted becomes a :class:`Site` (a byte span on one line plus its replacement).
:func:`choose_sites` orders the sites that tests execute with ``random.Random(seed)``;
:func:`apply_site` splices one into the source text, so the diff is one line.

AST column offsets are UTF-8 byte offsets: all splicing is done on bytes.
"""

from __future__ import annotations

import ast
import random
import re
from dataclasses import asdict, dataclass
from pathlib import PurePosixPath

__all__ = ["InjectError", "Site", "apply_site", "choose_sites", "find_sites", "is_test_path"]

_CMP_SWAP = {
    ast.Lt: ("<", "<="), ast.LtE: ("<=", "<"), ast.Gt: (">", ">="), ast.GtE: (">=", ">"),
    ast.Eq: ("==", "!="), ast.NotEq: ("!=", "=="), ast.Is: ("is", "is not"),
    ast.IsNot: ("is not", "is"), ast.In: ("in", "not in"), ast.NotIn: ("not in", "in"),
}
_BIN_SWAP = {ast.Add: ("+", "-"), ast.Sub: ("-", "+")}
_BOOL_SWAP = {ast.And: ("and", "or"), ast.Or: ("or", "and")}
_TEST_DIRS = {"test", "tests", "testing"}


class InjectError(ValueError):
    """A module cannot be mutated: it does not parse, or a site does not match its text."""


@dataclass(frozen=True)
class Site:
    """One possible injected bug: replace ``line[col:end_col]`` (bytes) with ``new``.

    Attributes:
        path: the module's path as given to :func:`find_sites` (posix, repo-relative).
        line: 1-based line number.
        col: start byte offset in the line (UTF-8, like ``ast`` col offsets).
        end_col: end byte offset (exclusive).
        old: the text replaced (must equal the source bytes at the span).
        new: the replacement text.
        kind: operator family: ``compare``, ``arith``, ``augassign``, ``const``,
            ``slice``, ``boolop``, ``not``, ``minmax`` or ``return``.
        stmt_line: first line of the innermost enclosing statement (what coverage reports).
    """

    path: str
    line: int
    col: int
    end_col: int
    old: str
    new: str
    kind: str
    stmt_line: int

    @property
    def description(self) -> str:
        """Human text, e.g. ``compare: `<` -> `<=` at pkg/mod.py:12``."""
        return f"{self.kind}: `{self.old}` -> `{self.new}` at {self.path}:{self.line}"

    def key(self) -> tuple:
        """Total order used before shuffling, so the choice depends only on source and seed."""
        return (self.path, self.line, self.col, self.end_col, self.kind, self.new)

    def to_dict(self) -> dict:
        """Plain JSON-able dict (adds ``description``)."""
        return {**asdict(self), "description": self.description}


def is_test_path(path: str) -> bool:
    """True for test code: ``test_*.py``, ``*_test.py``, ``conftest.py`` or under ``tests/`` etc."""
    p = PurePosixPath(path)
    name = p.name
    if name == "conftest.py" or name.startswith("test_") or name.endswith("_test.py"):
        return True
    return any(part.lower() in _TEST_DIRS for part in p.parts[:-1])


class _Finder(ast.NodeVisitor):
    def __init__(self, path: str, lines: list[bytes]):
        self.path, self.lines, self.sites = path, lines, []
        self.stmt_line = 0
        self.slice_depth = 0

    # -- helpers -----------------------------------------------------------------------
    def _add(self, line: int, col: int, end: int, old: str, new: str, kind: str) -> None:
        if self.lines[line - 1][col:end].decode("utf-8", "replace") != old:
            return
        self.sites.append(Site(self.path, line, col, end, old, new, kind, self.stmt_line))

    def _between(self, left: ast.AST, right: ast.AST, op: str, new: str, kind: str) -> None:
        """Add a site for operator ``op`` written between two nodes on one line."""
        if left.end_lineno != right.lineno:
            return
        line = left.end_lineno
        seg = self.lines[line - 1][left.end_col_offset:right.col_offset].decode("utf-8", "replace")
        pattern = r"[\s()]*(" + r"\s+".join(map(re.escape, op.split())) + r")[\s()]*"
        m = re.fullmatch(pattern, seg)
        if m is None:  # a comment, a line continuation, or something unexpected: skip
            return
        start = left.end_col_offset + len(seg[:m.start(1)].encode())
        end = left.end_col_offset + len(seg[:m.end(1)].encode())
        self._add(line, start, end, m.group(1), new, kind)

    @staticmethod
    def _one_line(node: ast.AST) -> bool:
        return getattr(node, "lineno", None) is not None and node.lineno == node.end_lineno

    def _text(self, node: ast.AST) -> str:
        return self.lines[node.lineno - 1][node.col_offset:node.end_col_offset].decode("utf-8")

    # -- visitors ------------------------------------------------------------------------
    def visit(self, node: ast.AST) -> None:
        if not isinstance(node, ast.stmt):
            return super().visit(node)
        saved, self.stmt_line = self.stmt_line, node.lineno
        super().visit(node)
        self.stmt_line = saved

    def visit_Compare(self, node: ast.Compare) -> None:
        operands = [node.left, *node.comparators]
        for i, op in enumerate(node.ops):
            old, new = _CMP_SWAP[type(op)]
            self._between(operands[i], operands[i + 1], old, new, "compare")
        self.generic_visit(node)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        swap = _BIN_SWAP.get(type(node.op))
        strings = (ast.JoinedStr, ast.List, ast.Tuple, ast.ListComp)
        is_str = any(isinstance(x, strings) or (isinstance(x, ast.Constant) and
                     isinstance(x.value, (str, bytes))) for x in (node.left, node.right))
        if swap and not is_str:
            self._between(node.left, node.right, swap[0], swap[1], "arith")
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        swap = _BIN_SWAP.get(type(node.op))
        value = node.value
        if swap and not (isinstance(value, ast.Constant) and isinstance(value.value, str)):
            self._between(node.target, node.value, swap[0] + "=", swap[1] + "=", "augassign")
        self.generic_visit(node)

    def visit_BoolOp(self, node: ast.BoolOp) -> None:
        old, new = _BOOL_SWAP[type(node.op)]
        for left, right in zip(node.values, node.values[1:]):
            self._between(left, right, old, new, "boolop")
        self.generic_visit(node)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> None:
        if isinstance(node.op, ast.Not) and node.lineno == node.operand.lineno:
            seg = self.lines[node.lineno - 1][node.col_offset:node.operand.col_offset]
            self._add(node.lineno, node.col_offset, node.operand.col_offset,
                      seg.decode("utf-8", "replace"), "", "not")
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        v = node.value
        if type(v) is int and self._one_line(node) and not self.slice_depth:
            old = self._text(node)
            for delta in (1, -1):
                if v + delta >= 0:
                    self._add(node.lineno, node.col_offset, node.end_col_offset, old,
                              str(v + delta), "const")

    def visit_Slice(self, node: ast.Slice) -> None:
        for bound in (node.lower, node.upper):
            if bound is None or not self._one_line(bound):
                continue
            old = self._text(bound)
            if isinstance(bound, ast.Constant) and type(bound.value) is int:
                news = [str(bound.value + 1)] + ([str(bound.value - 1)] if bound.value else [])
            elif isinstance(bound, (ast.Name, ast.Attribute, ast.Call, ast.Subscript)):
                news = [f"{old} + 1", f"{old} - 1"]
            else:
                news = [f"({old}) + 1", f"({old}) - 1"]
            for new in news:
                self._add(bound.lineno, bound.col_offset, bound.end_col_offset, old, new, "slice")
        self.slice_depth += 1  # constants inside a slice bound are handled above
        self.generic_visit(node)
        self.slice_depth -= 1

    def visit_Call(self, node: ast.Call) -> None:
        f = node.func
        if isinstance(f, ast.Name) and f.id in ("min", "max") and self._one_line(f):
            self._add(f.lineno, f.col_offset, f.end_col_offset, f.id,
                      "max" if f.id == "min" else "min", "minmax")
        self.generic_visit(node)

    def visit_Return(self, node: ast.Return) -> None:
        v = node.value
        if isinstance(v, ast.Constant) and isinstance(v.value, bool) and self._one_line(v):
            self._add(v.lineno, v.col_offset, v.end_col_offset, str(v.value),
                      str(not v.value), "return")
        self.generic_visit(node)


def find_sites(source: str | bytes, path: str = "<module>") -> list[Site]:
    """List every injection site in one module, in a stable order (see :meth:`Site.key`).

    Args:
        source: the module text (str or UTF-8 bytes).
        path: the path recorded in each site (posix, repo-relative by convention).

    Returns:
        Sites whose span holds the expected text; :func:`apply_site` checks that the
        result parses (it nearly always does: every replacement is a like-for-like token).

    Raises:
        InjectError: the module does not parse.
    """
    data = source.encode("utf-8") if isinstance(source, str) else source
    try:
        tree = ast.parse(data, filename=path)
    except (SyntaxError, ValueError) as exc:
        raise InjectError(f"{path}: cannot parse: {exc}") from exc
    finder = _Finder(path, data.splitlines(keepends=True))
    finder.visit(tree)
    unique = {s.key(): s for s in finder.sites}
    return [unique[k] for k in sorted(unique)]


def apply_site(source: str | bytes, site: Site) -> bytes:
    """Splice one site into the module text; only line ``site.line`` changes.

    Args:
        source: the module text the site was found in.
        site: a site from :func:`find_sites` on that same text.

    Returns:
        The mutated module as UTF-8 bytes (line endings preserved).

    Raises:
        InjectError: the span does not hold ``site.old`` (the source changed), or the
            result does not parse.
    """
    data = source.encode("utf-8") if isinstance(source, str) else source
    lines = data.splitlines(keepends=True)
    if not 1 <= site.line <= len(lines):
        raise InjectError(f"{site.path}:{site.line}: line out of range")
    line = lines[site.line - 1]
    if line[site.col:site.end_col] != site.old.encode("utf-8"):
        raise InjectError(f"{site.path}:{site.line}: expected {site.old!r} at byte {site.col}")
    lines[site.line - 1] = line[:site.col] + site.new.encode("utf-8") + line[site.end_col:]
    out = b"".join(lines)
    try:
        ast.parse(out)
    except SyntaxError as exc:
        raise InjectError(f"{site.description}: result does not parse: {exc}") from exc
    return out


def choose_sites(modules: dict[str, bytes], executed: dict[str, set[int]] | None,
                 seed: int) -> list[Site]:
    """All usable sites across modules, in the order a seed tries them.

    Args:
        modules: repo-relative posix path -> module bytes (test modules are skipped).
        executed: path -> executed line numbers (from the library's own test run);
            a site is kept only if its enclosing statement's line was executed.
            ``None`` keeps every site.
        seed: the ``random.Random`` seed; the same inputs and seed give the same list.

    Returns:
        Sites shuffled by the seed; the first is the seed's preferred mutant and the
        rest are fallbacks when it leaves the tests green or makes them hang.
    """
    sites: list[Site] = []
    for path in sorted(modules):
        if is_test_path(path):
            continue
        try:
            found = find_sites(modules[path], path)
        except InjectError:
            continue
        lines = None if executed is None else executed.get(path, set())
        sites.extend(s for s in found if lines is None or s.stmt_line in lines or s.line in lines)
    random.Random(seed).shuffle(sites)  # uniform over sites: bug kinds in their natural mix
    return sites
