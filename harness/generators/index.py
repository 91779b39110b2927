"""One parse of one file for the mutation operators: offsets, parents, blocks, scopes.

:class:`Index` (``cx`` in the operator modules) is built once per
:func:`harness.generators.mutations.mutants_at` call: it walks the tree once, notes
the statements and expressions of the asked lines, each scope's names, ``self.x``
attributes and returns, and checks cheaply that an edit still parses (:meth:`Index.valid_many`).
Pure: no I/O.
"""

from __future__ import annotations

import ast
import re
from bisect import bisect_left
from dataclasses import dataclass, field

_NL = re.compile(r"\r\n|\r|\n")
_SKIP_FIELDS = frozenset({"annotation", "returns", "type_comment", "type_params"})
_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)
_BOOLISH_NAME = re.compile(r"^_*(is|has|can|should|needs?|contains|exists|allow|check|valid)")


def header_end(st: ast.stmt) -> int:
    """Last line of a statement's header: the test/iter/items/subject of a
    compound statement, the signature of a def/class; else its last line."""
    if isinstance(st, (ast.If, ast.While)):
        return st.test.end_lineno
    if isinstance(st, (ast.For, ast.AsyncFor)):
        return st.iter.end_lineno
    if isinstance(st, (ast.With, ast.AsyncWith)):
        return max(i.context_expr.end_lineno for i in st.items)
    if isinstance(st, (*_FUNCS, ast.ClassDef)):
        return max(st.lineno, st.body[0].lineno - 1)
    if hasattr(st, "subject"):  # match
        return st.subject.end_lineno
    return st.lineno if hasattr(st, "finalbody") else st.end_lineno


def _comprehension_target(n: ast.AST) -> bool:
    """Is this Store name a comprehension variable (local to the comprehension)?"""
    while isinstance(n._p, (ast.Tuple, ast.List, ast.Starred)):
        n = n._p
    return isinstance(n._p, ast.comprehension)


def _parses(chunks: list[str], nested: bool = True) -> bool:
    """Do all ``chunks`` parse? Indented ones are parsed at once as ``if 1:``
    blocks, each checked to start where expected (none swallowed the next)."""
    if not nested:
        try:
            return bool(ast.parse(chunks[0]))
        except (SyntaxError, ValueError):
            return False
    parts, expect, line = [], [], 1
    for ch in chunks:
        if not ch.endswith(("\n", "\r")):
            ch += "\n"
        expect.append(line)
        parts += ["if 1:\n", ch]
        line += 1 + len(_NL.findall(ch))
    try:
        tree = ast.parse("".join(parts))
    except (SyntaxError, ValueError):
        return False
    return [n.lineno for n in tree.body] == expect and not any(n.orelse for n in tree.body)



@dataclass
class _FnInfo:
    """What one scope (a function, or the module) uses: Name nodes, ``self.x``
    attributes, return statements, whether it is a generator."""

    names: list = field(default_factory=list)
    attrs: list = field(default_factory=list)
    returns: list = field(default_factory=list)
    gen: bool = False
    cache: dict = field(default_factory=dict)


class Index:
    """One parse of one file: character offsets, parents, statement blocks,
    scopes. Nodes get ``_p`` (parent), ``_f`` (field in parent), ``_fn``
    (enclosing function or None), ``_st`` (enclosing statement) and, for
    statements, ``_blk`` (the list holding it, index)."""

    def __init__(self, source: str, tree: ast.Module, lines: list[int]) -> None:
        self.text = source
        self.tree = tree
        self.starts = [0] + [m.end() for m in _NL.finditer(source)]
        self.nlines = len(self.starts)
        self.want = sorted(n for n in set(lines) if 1 <= n <= self.nlines)
        self.wantset = set(self.want)
        self.stmts_by_line: dict[int, list[ast.stmt]] = {}
        self.exprs_by_line: dict[int, list[ast.expr]] = {}
        self.infos: dict[ast.AST | None, _FnInfo] = {}
        self._walk(tree)

    # -- positions -------------------------------------------------------
    def line_text(self, line: int) -> str:
        """Line ``line`` (1-based) without its line break."""
        s = self.starts[line - 1]
        e = self.starts[line] if line < self.nlines else len(self.text)
        return self.text[s:e].rstrip("\r\n")

    def line_end(self, line: int) -> int:
        """Offset just past line ``line``'s line break (or end of text)."""
        return self.starts[line] if line < self.nlines else len(self.text)

    def off(self, line: int, col: int) -> int:
        """Char offset of (1-based line, UTF-8 byte column)."""
        s = self.starts[line - 1]
        if col == 0:
            return s
        lt = self.text[s : s + col]
        if lt.isascii():
            return s + col
        return s + len(self.line_text(line).encode("utf-8")[:col].decode("utf-8", "replace"))

    def span(self, node: ast.AST) -> tuple[int, int]:
        """(start, end) char offsets of ``node``'s text."""
        return self.off(node.lineno, node.col_offset), self.off(node.end_lineno, node.end_col_offset)

    def seg(self, node: ast.AST) -> str:
        """``node``'s source text (without enclosing parentheses)."""
        s, e = self.span(node)
        return self.text[s:e]

    def first_line(self, st: ast.stmt) -> int:
        """First line of a statement, decorators included."""
        decos = getattr(st, "decorator_list", None)
        return min([st.lineno] + [d.lineno for d in decos]) if decos else st.lineno

    def _standalone(self, st: ast.stmt) -> bool:
        s, e = self.span(st)
        if getattr(st, "decorator_list", None):
            s = self.off(st.decorator_list[0].lineno, st.decorator_list[0].col_offset) - 1
        if self.text[self.starts[self.first_line(st) - 1] : s].strip():
            return False
        if isinstance(st, ast.If) and self.text.startswith("elif", s):
            return False
        rest = self.text[e : self.line_end(st.end_lineno)].strip()
        return not rest or rest.startswith("#")

    def standalone(self, st: ast.stmt) -> bool:
        """True when ``st`` owns its lines: only indentation before it, only
        a comment after it, and it is not an ``elif``."""
        got = getattr(st, "_sa", None)
        if got is None:
            got = st._sa = self._standalone(st)
        return got

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
        return [st.subject] if hasattr(st, "subject") else [] if self.compound(st) else [st]

    @staticmethod
    def in_loop(st: ast.AST) -> bool:
        """Is ``st`` inside a for/while loop of its own function?"""
        p = st._p
        while p is not None and not isinstance(p, (*_FUNCS, ast.ClassDef)):
            if isinstance(p, (ast.For, ast.AsyncFor, ast.While)):
                return True
            p = p._p
        return False

    def newline(self, line: int) -> str:
        """Line break used by ``line`` (``\\n`` when it has none)."""
        raw = self.text[self.starts[line - 1] : self.line_end(line)]
        return raw[len(raw.rstrip("\r\n")) :] or "\n"

    # -- validation ------------------------------------------------------
    def splice(self, edits: tuple[tuple[int, int, str], ...], a: int, b: int) -> str:
        """Original text[a:b] with ``edits`` (sorted, inside [a, b]) applied."""
        parts, pos = [], a
        for s, e, t in edits:
            parts.append(self.text[pos:s])
            parts.append(t)
            pos = e
        parts.append(self.text[pos:b])
        return "".join(parts)

    def _chunk(self, edits: tuple[tuple[int, int, str], ...], node: ast.AST) -> tuple[str, bool] | None:
        """The smallest standalone statement around ``edits``, edited, and
        whether it is indented (nested); a compound statement edited only in
        its header gets ``pass`` for a body. None when nothing changes."""
        text = self.text
        if all(text[s:e] == t for s, e, t in edits):
            return None
        lo, hi = edits[0][0], max(e for _, e, _ in edits)
        st = node if isinstance(node, ast.stmt) else node._st
        while st is not None and not (isinstance(st, ast.stmt) and self.standalone(st)):
            st = st._p
        a, b, stub = 0, len(text), ""
        if st is not None and not isinstance(st, ast.Module):
            sa, sb = self.starts[self.first_line(st) - 1], self.line_end(st.end_lineno)
            if sa <= lo and hi <= sb:
                a, b = sa, sb
                body = getattr(st, "body", None)
                if body and not getattr(body[0], "decorator_list", None):
                    c = self.span(body[0])[0]
                    if hi <= c:
                        b, stub = c, "pass"
        chunk = self.splice(edits, a, b) + stub
        return chunk, a > 0 and chunk[:1] in (" ", "\t", "\f")

    def valid_many(self, items: list[tuple[object, tuple]]) -> list[bool]:
        """For each (candidate, edits): does the edited file still parse and
        differ? Parses each edit's chunk (see :meth:`_chunk`), which decides
        it for a file that parsed before; the indented chunks of a batch are
        parsed together, each as an ``if 1:`` block, and one by one only when
        the batch fails."""
        res = [False] * len(items)
        idx, pieces = [], []
        for k, (c, edits) in enumerate(items):
            got = self._chunk(edits, c.node)
            if got is not None and got[1]:
                idx.append(k)
                pieces.append(got[0])
            elif got is not None:
                res[k] = _parses([got[0]], nested=False)
        batch_ok = bool(pieces) and _parses(pieces)
        for k, chunk in zip(idx, pieces):
            res[k] = batch_ok or _parses([chunk])
        return res

    def canonical(self, lo: int, hi: int, mid: str) -> tuple[int, int, str]:
        """Key of the text ``text[:lo] + mid + text[hi:]`` that is equal for
        equal texts: (common prefix length, common suffix length, middle)."""
        t, n_t = self.text, len(self.text)
        n_new = n_t - (hi - lo) + len(mid)

        def ch(i: int) -> str:
            return mid[i - lo] if i - lo < len(mid) else t[hi + i - lo - len(mid)]

        lim = min(n_t, n_new)
        p = lo
        while p < lim and ch(p) == t[p]:
            p += 1
        s = min(n_t - hi, lim - p)
        while s < lim - p and ch(n_new - 1 - s) == t[n_t - 1 - s]:
            s += 1
        return p, s, "".join(ch(i) for i in range(p, n_new - s))

    # -- scopes ----------------------------------------------------------
    def info(self, fn: ast.AST | None) -> _FnInfo:
        """The :class:`_FnInfo` of function ``fn`` (None: module level)."""
        got = self.infos.get(fn)
        if got is None:
            got = self.infos[fn] = _FnInfo()
        return got

    def params(self, fn: ast.AST | None) -> list[str]:
        """Parameter names of ``fn`` in order (without self/cls)."""
        if fn is None:
            return []
        a = fn.args
        every = a.posonlyargs + a.args + ([a.vararg] if a.vararg else []) + a.kwonlyargs
        every += [a.kwarg] if a.kwarg else []
        return [p.arg for p in every if p.arg not in ("self", "cls")]

    def names_near(self, fn: ast.AST | None, line: int, attrs: bool = False) -> list[str]:
        """Names in scope at ``line`` of ``fn``: parameters and locals
        assigned before the line (plus ``self.x`` attributes used in ``fn``
        when ``attrs``), nearest usage first."""
        info = self.info(fn)
        key = (line, attrs)
        if key in info.cache:
            return info.cache[key]
        params = self.params(fn)
        dist: dict[str, int] = {p: 10**6 + i for i, p in enumerate(params)}
        first_store: dict[str, int] = {}
        for n in info.names:
            if isinstance(n.ctx, ast.Store) and not _comprehension_target(n):
                first_store[n.id] = min(first_store.get(n.id, n.lineno), n.lineno)
            d = abs(n.lineno - line)
            if d < dist.get(n.id, 10**9):
                dist[n.id] = d
        if attrs:
            for a in info.attrs:
                t = f"{a.value.id}.{a.attr}"
                d = abs(a.lineno - line)
                if d < dist.get(t, 10**9):
                    dist[t] = d
        ok = [
            n for n in dist
            if n not in ("self", "cls", "_")
            and (n in params or "." in n or first_store.get(n, line) < line)
        ]
        ok.sort(key=lambda n: (dist[n], n))
        info.cache[key] = ok
        return ok

    def roles(self, fn: ast.AST | None) -> dict[str, set]:
        """name -> {(parent type, field)} of its uses in ``fn``."""
        info = self.info(fn)
        if "roles" not in info.cache:
            roles: dict[str, set] = {}
            for n in info.names:
                roles.setdefault(n.id, set()).add((type(n._p), n._f))
            info.cache["roles"] = roles
        return info.cache["roles"]

    def boolish(self, fn: ast.AST | None) -> bool:
        """Does function ``fn`` look like a predicate (name or returned values)?"""
        info = self.info(fn)
        if "boolish" not in info.cache:
            info.cache["boolish"] = bool(fn is not None and _BOOLISH_NAME.match(fn.name)) or any(
                self.is_bool(r.value) for r in info.returns if r.value is not None)
        return info.cache["boolish"]

    @staticmethod
    def is_bool(v: ast.AST) -> bool:
        """Is ``v`` evidently a bool (comparison, and/or, not, True/False)?"""
        return (isinstance(v, (ast.Compare, ast.BoolOp))
                or (isinstance(v, ast.Constant) and isinstance(v.value, bool))
                or (isinstance(v, ast.UnaryOp) and isinstance(v.op, ast.Not)))

    # -- the one walk ----------------------------------------------------
    def _hit(self, a: int, b: int) -> bool:
        i = bisect_left(self.want, a)
        return i < len(self.want) and self.want[i] <= b

    def _walk(self, tree: ast.Module) -> None:
        tree._p, tree._f, tree._fn, tree._st = None, "", None, None
        for i, s in enumerate(tree.body):
            s._blk = (tree.body, i)
        stack: list[tuple] = [(s, tree, "body", None, None, False) for s in reversed(tree.body)]
        want = self.wantset
        while stack:
            node, parent, field, fn, st, full = stack.pop()
            node._p, node._f, node._fn = parent, field, fn
            if isinstance(node, ast.stmt):
                if not full and not self._hit(self.first_line(node), node.end_lineno):
                    continue
                st = node
                hdr = header_end(node)
                for line in range(node.lineno, hdr + 1):
                    if line in want:
                        self.stmts_by_line.setdefault(line, []).append(node)
                if isinstance(node, ast.Return):
                    self.info(fn).returns.append(node)
                if isinstance(node, _FUNCS):
                    fn, full = node, True
                    self.info(fn)
            elif isinstance(node, ast.expr):
                if node.lineno in want:
                    self.exprs_by_line.setdefault(node.lineno, []).append(node)
                if isinstance(node, ast.Name):
                    self.info(fn).names.append(node)
                elif isinstance(node, ast.Attribute):
                    if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                        self.info(fn).attrs.append(node)
                elif isinstance(node, (ast.Yield, ast.YieldFrom)):
                    self.info(fn).gen = True
                elif isinstance(node, ast.JoinedStr):
                    node._st = st
                    continue
            node._st = st
            for name, value in ast.iter_fields(node):
                if name in _SKIP_FIELDS:
                    continue
                if isinstance(value, list):
                    for i in range(len(value) - 1, -1, -1):
                        c = value[i]
                        if isinstance(c, ast.AST):
                            if isinstance(c, ast.stmt):
                                c._blk = (value, i)
                            stack.append((c, node, name, fn, st, full))
                elif isinstance(value, ast.AST):
                    stack.append((value, node, name, fn, st, full))
