"""One parse of one file for the mutation operators: offsets, node records, blocks, scopes.

:class:`Index` (``cx`` in the operator modules) is built once per
:func:`harness.generators.mutations.mutants_at` call: it walks the tree once, keeps a
:class:`NodeRecord` per node it walks (parent, field, enclosing function and statement, the
block holding a statement) in a dict beside the AST - nothing is set on the nodes - and notes
the statements and expressions of the asked lines and each scope's names, ``self.x``
attributes and returns (:class:`ScopeInfo`). Whether an edit still parses is
:mod:`harness.generators.parse_check`'s. Pure: no I/O.
"""

from __future__ import annotations

import ast
import re
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

NEWLINE = re.compile(r"\r\n|\r|\n")
_SKIP_FIELDS = frozenset({"annotation", "returns", "type_comment", "type_params"})
#: a function definition: the scope of its names.
FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef
FUNCTION_TYPES = (ast.FunctionDef, ast.AsyncFunctionDef)
_BOOLISH_NAME = re.compile(r"^_*(is|has|can|should|needs?|contains|exists|allow|check|valid)")
_T = TypeVar("_T")


class Positioned(Protocol):
    """A node with a source position (an expression, a statement, an argument, ...)."""

    lineno: int
    col_offset: int
    end_lineno: int | None
    end_col_offset: int | None


def last_line(node: Positioned) -> int:
    """1-based last line of ``node`` (every node of a parsed tree has one)."""
    return node.end_lineno if node.end_lineno is not None else node.lineno


def header_end(st: ast.stmt) -> int:
    """Last line of a statement's header: the test/iter/items/subject of a
    compound statement, the signature of a def/class; else its last line."""
    if isinstance(st, (ast.If, ast.While)):
        return last_line(st.test)
    if isinstance(st, (ast.For, ast.AsyncFor)):
        return last_line(st.iter)
    if isinstance(st, (ast.With, ast.AsyncWith)):
        return max(last_line(i.context_expr) for i in st.items)
    if isinstance(st, (*FUNCTION_TYPES, ast.ClassDef)):
        return max(st.lineno, st.body[0].lineno - 1)
    if isinstance(st, ast.Match):
        return last_line(st.subject)
    return st.lineno if hasattr(st, "finalbody") else last_line(st)


@dataclass(frozen=True, slots=True)
class NodeRecord:
    """Where one walked node sits in the tree.

    Attributes:
        parent: the node holding it (None for the module).
        field: the parent's field holding it (``"body"``, ``"test"``, ``"args"``; ``""`` for the module).
        function: the innermost function definition around it (for a ``def`` node: the one
            around that ``def``), None at module level.
        statement: the innermost statement around it (itself for a statement), None for the module.
        block: for a statement, the list of statements holding it (a body, an ``orelse``, ...); else None.
        position: its index in ``block`` (-1 when ``block`` is None).
    """

    parent: ast.AST | None
    field: str
    function: FunctionNode | None
    statement: ast.stmt | None
    block: list[ast.stmt] | None = None
    position: int = -1


@dataclass(slots=True)
class ScopeInfo:
    """What one scope (a function, or the module) uses, filled by the walk: Name nodes,
    ``self.x``/``cls.x`` attributes, return statements, whether it is a generator; and the
    answers of :meth:`Index.names_near`, :meth:`Index.roles` and :meth:`Index.boolish`, kept."""

    names: list[ast.Name] = field(default_factory=list)
    attrs: list[ast.Attribute] = field(default_factory=list)
    returns: list[ast.Return] = field(default_factory=list)
    generator: bool = False
    near: dict[tuple[int, bool], list[str]] = field(default_factory=dict)
    roles: dict[str, set[tuple[type, str]]] | None = None
    boolish: bool | None = None


class Index:
    """One parse of one file: character offsets, a :class:`NodeRecord` per walked node,
    statements and expressions by asked line, a :class:`ScopeInfo` per scope.

    Args:
        source: the file's text; tree: ``ast.parse(source)``; lines: the asked 1-based lines
            (out of range ones are ignored). Only the statements covering an asked line, and
            every statement of a function that has one, are walked.
    """

    def __init__(self, source: str, tree: ast.Module, lines: list[int], path: str = "",
                 read: Callable[[str], str | None] | None = None) -> None:
        self.text = source
        self.tree = tree
        self.path = path  # repo-relative POSIX path of the file ('' when unknown)
        self.read = read  # another file's text by repo-relative path (None: this file only)
        self.line_starts = [0] + [match.end() for match in NEWLINE.finditer(source)]
        self.line_count = len(self.line_starts)
        self.asked = sorted(n for n in set(lines) if 1 <= n <= self.line_count)
        self.asked_set = set(self.asked)
        self.stmts_by_line: dict[int, list[ast.stmt]] = {}
        self.exprs_by_line: dict[int, list[ast.expr]] = {}
        self.records: dict[ast.AST, NodeRecord] = {}
        self.scopes: dict[FunctionNode | None, ScopeInfo] = {}
        self._standalone: dict[ast.stmt, bool] = {}
        self._memo: dict[Callable[[Index], object], object] = {}
        self._walk(tree)

    # -- node records ----------------------------------------------------
    def record(self, node: ast.AST) -> NodeRecord:
        """The :class:`NodeRecord` of a walked node (KeyError for one the walk did not reach:
        inside an f-string, or a statement far from every asked line and every such function)."""
        return self.records[node]

    def walked(self, node: ast.AST) -> bool:
        """Did the walk reach ``node`` (so it has a record)?"""
        return node in self.records

    def parent(self, node: ast.AST) -> ast.AST | None:
        """The node holding ``node`` (None for the module)."""
        return self.records[node].parent

    def field(self, node: ast.AST) -> str:
        """The name of the parent's field holding ``node``."""
        return self.records[node].field

    def function(self, node: ast.AST) -> FunctionNode | None:
        """The innermost function around ``node`` (None at module level)."""
        return self.records[node].function

    def statement(self, node: ast.AST) -> ast.stmt | None:
        """The innermost statement around ``node`` (itself for a statement)."""
        return self.records[node].statement

    def block(self, st: ast.stmt) -> tuple[list[ast.stmt], int]:
        """(the statement list holding ``st``, its index there)."""
        got = self.records[st]
        assert got.block is not None, "a statement's record has its block"
        return got.block, got.position

    def memo(self, build: Callable[[Index], _T]) -> _T:
        """``build(self)``, computed once per index (facts of the whole file an operator
        module keeps: keyed by the function that builds them)."""
        if build not in self._memo:
            self._memo[build] = build(self)
        return self._memo[build]  # type: ignore[return-value]  # stored by this very key

    # -- positions -------------------------------------------------------
    def line_text(self, line: int) -> str:
        """Line ``line`` (1-based) without its line break."""
        start = self.line_starts[line - 1]
        end = self.line_starts[line] if line < self.line_count else len(self.text)
        return self.text[start:end].rstrip("\r\n")

    def line_end(self, line: int) -> int:
        """Offset just past line ``line``'s line break (or end of text)."""
        return self.line_starts[line] if line < self.line_count else len(self.text)

    def off(self, line: int, col: int) -> int:
        """Char offset of (1-based line, UTF-8 byte column)."""
        start = self.line_starts[line - 1]
        if col == 0:
            return start
        head = self.text[start : start + col]
        if head.isascii():
            return start + col
        return start + len(self.line_text(line).encode("utf-8")[:col].decode("utf-8", "replace"))

    def span(self, node: Positioned) -> tuple[int, int]:
        """(start, end) char offsets of ``node``'s text."""
        end_col = node.end_col_offset if node.end_col_offset is not None else node.col_offset
        return self.off(node.lineno, node.col_offset), self.off(last_line(node), end_col)

    def seg(self, node: Positioned) -> str:
        """``node``'s source text (without enclosing parentheses)."""
        start, end = self.span(node)
        return self.text[start:end]

    def first_line(self, st: ast.stmt) -> int:
        """First line of a statement, decorators included."""
        decos = getattr(st, "decorator_list", None)
        return min([st.lineno] + [deco.lineno for deco in decos]) if decos else st.lineno

    def _owns_lines(self, st: ast.stmt) -> bool:
        start, end = self.span(st)
        decos = getattr(st, "decorator_list", None)
        if decos:
            start = self.off(decos[0].lineno, decos[0].col_offset) - 1
        if self.text[self.line_starts[self.first_line(st) - 1] : start].strip():
            return False
        if isinstance(st, ast.If) and self.text.startswith("elif", start):
            return False
        rest = self.text[end : self.line_end(last_line(st))].strip()
        return not rest or rest.startswith("#")

    def standalone(self, st: ast.stmt) -> bool:
        """True when ``st`` owns its lines: only indentation before it, only
        a comment after it, and it is not an ``elif``."""
        got = self._standalone.get(st)
        if got is None:
            got = self._standalone[st] = self._owns_lines(st)
        return got

    def newline(self, line: int) -> str:
        """Line break used by ``line`` (``\\n`` when it has none)."""
        raw = self.text[self.line_starts[line - 1] : self.line_end(line)]
        return raw[len(raw.rstrip("\r\n")) :] or "\n"

    # -- statements ------------------------------------------------------
    @staticmethod
    def compound(st: ast.stmt) -> bool:
        """Has a body (if/for/while/with/try/def/class/match)."""
        return hasattr(st, "body") or hasattr(st, "cases")

    @staticmethod
    def docstring(st: ast.stmt) -> bool:
        """Is a bare string expression statement."""
        return (isinstance(st, ast.Expr) and isinstance(st.value, ast.Constant)
                and isinstance(st.value.value, str))

    def header_nodes(self, st: ast.stmt) -> list[ast.AST]:
        """The expressions a statement's header line(s) hold; the statement
        itself for a simple statement."""
        if isinstance(st, (ast.If, ast.While)):
            return [st.test]
        if isinstance(st, (ast.For, ast.AsyncFor)):
            return [st.iter]
        if isinstance(st, (ast.With, ast.AsyncWith)):
            return [i.context_expr for i in st.items]
        return [st.subject] if isinstance(st, ast.Match) else [] if self.compound(st) else [st]

    def in_loop(self, node: ast.AST) -> bool:
        """Is ``node`` inside a for/while loop of its own function?"""
        up = self.records[node].parent
        while up is not None and not isinstance(up, (*FUNCTION_TYPES, ast.ClassDef)):
            if isinstance(up, (ast.For, ast.AsyncFor, ast.While)):
                return True
            up = self.records[up].parent
        return False

    # -- scopes ----------------------------------------------------------
    def scope(self, fn: FunctionNode | None) -> ScopeInfo:
        """The :class:`ScopeInfo` of function ``fn`` (None: module level)."""
        got = self.scopes.get(fn)
        if got is None:
            got = self.scopes[fn] = ScopeInfo()
        return got

    @staticmethod
    def params(fn: FunctionNode | None) -> list[str]:
        """Parameter names of ``fn`` in order (without self/cls)."""
        if fn is None:
            return []
        args = fn.args
        every = args.posonlyargs + args.args + ([args.vararg] if args.vararg else []) + args.kwonlyargs
        every += [args.kwarg] if args.kwarg else []
        return [param.arg for param in every if param.arg not in ("self", "cls")]

    def _comprehension_target(self, name: ast.Name) -> bool:
        """Is this Store name a comprehension variable (local to the comprehension)?"""
        up = self.records[name].parent
        while isinstance(up, (ast.Tuple, ast.List, ast.Starred)):
            up = self.records[up].parent
        return isinstance(up, ast.comprehension)

    def names_near(self, fn: FunctionNode | None, line: int, attrs: bool = False) -> list[str]:
        """Names in scope at ``line`` of ``fn``: parameters and locals
        assigned before the line (plus ``self.x`` attributes used in ``fn``
        when ``attrs``), nearest usage first."""
        info = self.scope(fn)
        key = (line, attrs)
        if key in info.near:
            return info.near[key]
        params = self.params(fn)
        dist: dict[str, int] = {param: 10**6 + i for i, param in enumerate(params)}
        first_store: dict[str, int] = {}
        for name_node in info.names:
            if isinstance(name_node.ctx, ast.Store) and not self._comprehension_target(name_node):
                first_store[name_node.id] = min(first_store.get(name_node.id, name_node.lineno), name_node.lineno)
            distance = abs(name_node.lineno - line)
            if distance < dist.get(name_node.id, 10**9):
                dist[name_node.id] = distance
        if attrs:
            for attr in info.attrs:
                assert isinstance(attr.value, ast.Name)  # the walk keeps self.x / cls.x only
                dotted = f"{attr.value.id}.{attr.attr}"
                distance = abs(attr.lineno - line)
                if distance < dist.get(dotted, 10**9):
                    dist[dotted] = distance
        ok = [
            name_node for name_node in dist
            if name_node not in ("self", "cls", "_")
            and (name_node in params or "." in name_node or first_store.get(name_node, line) < line)
        ]
        ok.sort(key=lambda name_node: (dist[name_node], name_node))
        info.near[key] = ok
        return ok

    def roles(self, fn: FunctionNode | None) -> dict[str, set[tuple[type, str]]]:
        """name -> {(parent type, field)} of its uses in ``fn``."""
        info = self.scope(fn)
        if info.roles is None:
            roles: dict[str, set[tuple[type, str]]] = {}
            for name_node in info.names:
                rec = self.records[name_node]
                roles.setdefault(name_node.id, set()).add((type(rec.parent), rec.field))
            info.roles = roles
        return info.roles

    def boolish(self, fn: FunctionNode | None) -> bool:
        """Does function ``fn`` look like a predicate (name or returned values)?"""
        info = self.scope(fn)
        if info.boolish is None:
            info.boolish = bool(fn is not None and _BOOLISH_NAME.match(fn.name)) or any(
                self.is_bool(ret.value) for ret in info.returns if ret.value is not None)
        return info.boolish

    @staticmethod
    def is_bool(node: ast.AST) -> bool:
        """Is ``node`` evidently a bool (comparison, and/or, not, True/False)?"""
        return (isinstance(node, (ast.Compare, ast.BoolOp))
                or (isinstance(node, ast.Constant) and isinstance(node.value, bool))
                or (isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not)))

    # -- the one walk ----------------------------------------------------
    def _hit(self, first: int, last: int) -> bool:
        at = bisect_left(self.asked, first)
        return at < len(self.asked) and self.asked[at] <= last

    def _walk(self, tree: ast.Module) -> None:
        """Fill :attr:`records`, :attr:`scopes` and the by-line tables in one pass (a loop over
        an explicit stack: deep expressions do not hit the recursion limit)."""
        records = self.records
        records[tree] = NodeRecord(None, "", None, None)
        stack: list[tuple[ast.AST, ast.AST, str, FunctionNode | None, ast.stmt | None, bool,
                          list[ast.stmt] | None, int]]
        stack = [(top, tree, "body", None, None, False, tree.body, i) for i, top in reversed(list(enumerate(tree.body)))]
        want = self.asked_set
        while stack:
            node, parent, fname, fn, st, full, block, position = stack.pop()
            if isinstance(node, ast.stmt):
                records[node] = NodeRecord(parent, fname, fn, node, block, position)
                if not full and not self._hit(self.first_line(node), last_line(node)):
                    continue
                st = node
                hdr = header_end(node)
                for line in range(node.lineno, hdr + 1):
                    if line in want:
                        self.stmts_by_line.setdefault(line, []).append(node)
                if isinstance(node, ast.Return):
                    self.scope(fn).returns.append(node)
                if isinstance(node, FUNCTION_TYPES):
                    fn, full = node, True
                    self.scope(fn)
            else:
                records[node] = NodeRecord(parent, fname, fn, st)
                if isinstance(node, ast.expr):
                    if node.lineno in want:
                        self.exprs_by_line.setdefault(node.lineno, []).append(node)
                    if isinstance(node, ast.Name):
                        self.scope(fn).names.append(node)
                    elif isinstance(node, ast.Attribute):
                        if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                            self.scope(fn).attrs.append(node)
                    elif isinstance(node, (ast.Yield, ast.YieldFrom)):
                        self.scope(fn).generator = True
                    elif isinstance(node, ast.JoinedStr):
                        continue
            for name, value in ast.iter_fields(node):
                if name in _SKIP_FIELDS:
                    continue
                if isinstance(value, list):
                    for i in range(len(value) - 1, -1, -1):
                        child = value[i]
                        if isinstance(child, ast.AST):
                            stack.append((child, node, name, fn, st, full, value if isinstance(child, ast.stmt) else None,
                                          i if isinstance(child, ast.stmt) else -1))
                elif isinstance(value, ast.AST):
                    stack.append((value, node, name, fn, st, full, None, -1))
