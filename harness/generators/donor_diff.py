"""The tree comparison behind :mod:`.donor_ops`: a file's comparable expressions by type
(:func:`pool_of`), and :func:`compare`, which walks a target and a donor together and records
their differences the way SimFix's code differencing does (Jiang et al., ISSTA 2018): a local
variable the donor names where the target names another is a renaming (mapped, cost
:data:`RENAME`), a node of another type is a replacement or, when the donor holds the target's
own shape inside it, a wrapper; one element more or fewer in an argument, element or operand
list is an insertion or a deletion; keywords align by name. Sizes count nodes, operators and
contexts not counted.
"""

from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass, field

from harness.generators.forward_ops import module_files
from harness.generators.index import FUNCTION_TYPES, Index
from harness.core.tree_memo import nodes

#: the expression types compared.
TARGETS = (ast.Call, ast.Compare, ast.BoolOp, ast.BinOp, ast.Subscript, ast.IfExp)
#: targets smaller or larger than this (in nodes, operators and contexts not counted) are not compared.
MIN_SIZE, MAX_SIZE = 3, 60
#: least similarity of a donor; least Jaccard overlap of identifiers to compare at all.
MIN_SIM, MIN_OVERLAP = 0.5, 0.35
#: cost of one renamed variable.
RENAME = 0.5
#: the most differences a donor may have.
MAX_DIFFS = 2
NOISE = (ast.expr_context, ast.operator, ast.boolop, ast.cmpop, ast.unaryop)
_LISTS = {"args", "elts", "values"}  # list fields an element may be added to or dropped from
BUILTINS = frozenset(dir(builtins))


@dataclass
class Node:
    """A pool entry: the node, its size, its function, its file's index."""

    node: ast.expr
    size: int
    fn: ast.AST | None
    src: Index  # the index of the file it is in


@dataclass
class Line:
    """A one-line simple statement of a function body: the node, its block and index in it,
    its function, its file's index."""

    node: ast.stmt
    block: list[ast.stmt]
    index: int
    fn: ast.AST
    src: Index


#: the statements :class:`Line` holds.
LINES = (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr, ast.Return)


@dataclass
class Pool:
    """The file's comparable nodes by type, its module-level names, and per-node caches."""

    by_type: dict[type, list[Node]] = field(default_factory=dict)
    module: frozenset[str] = frozenset()
    tree: ast.AST | None = None  # the target file's
    lines: dict[type, list[Line]] = field(default_factory=dict)
    shapes: dict[ast.AST, str] = field(default_factory=dict)
    sizes: dict[ast.AST, int] = field(default_factory=dict)
    scopes: dict[ast.AST | None, frozenset[str]] = field(default_factory=dict)
    words: dict[ast.AST, frozenset[str]] = field(default_factory=dict)


def size_of(pool: Pool, node: ast.AST) -> int:
    got = pool.sizes.get(node)
    if got is None:
        got = pool.sizes[node] = 1 + sum(size_of(pool, kid) for kid in ast.iter_child_nodes(node)
                                         if not isinstance(kid, NOISE))
    return got


def shape_of(pool: Pool, node: ast.AST) -> str:
    """``node``'s tree with every variable name blanked (equal shapes align)."""
    got = pool.shapes.get(node)
    if got is None:
        if isinstance(node, ast.Name):
            got = "N" if node.id not in pool.module and node.id not in BUILTINS else node.id
        else:
            parts = [type(node).__name__]
            for name, value in ast.iter_fields(node):
                if name == "ctx":
                    continue
                if isinstance(value, list):
                    parts.append("[" + ",".join(shape_of(pool, v) if isinstance(v, ast.AST) else repr(v) for v in value) + "]")
                elif isinstance(value, ast.AST):
                    parts.append(shape_of(pool, value))
                else:
                    parts.append(repr(value))
            got = "(" + " ".join(parts) + ")"
        pool.shapes[node] = got
    return got


def _token(n: ast.AST) -> str | None:
    if isinstance(n, ast.Name):
        return n.id
    if isinstance(n, ast.Attribute):
        return "." + n.attr
    if isinstance(n, ast.keyword):
        return f"{n.arg}=" if n.arg else None
    if isinstance(n, ast.Constant):
        return repr(n.value)[:40]
    return None if isinstance(n, NOISE) else type(n).__name__


def words_of(pool: Pool, node: ast.AST) -> frozenset[str]:
    """The identifiers, attribute names, keywords, constants and node types in ``node``
    (built bottom-up, cached per node)."""
    got = pool.words.get(node)
    if got is None:
        parts = [words_of(pool, kid) for kid in ast.iter_child_nodes(node) if not isinstance(kid, NOISE)]
        own = _token(node)
        got = frozenset().union(*parts, () if own is None else (own,))
        pool.words[node] = got
    return got


def _index_module_names(cx: Index) -> frozenset[str]:
    return _module_names(cx.tree)


def _module_names(tree: ast.Module) -> frozenset[str]:
    got: set[str] = set()
    for st in tree.body:
        if isinstance(st, (ast.Import, ast.ImportFrom)):
            got.update((a.asname or a.name).split(".")[0] for a in st.names)
        elif isinstance(st, (*FUNCTION_TYPES, ast.ClassDef)):
            got.add(st.name)
        elif isinstance(st, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            for target in st.targets if isinstance(st, ast.Assign) else [st.target]:
                got.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    return frozenset(got)


def _collect(pool: Pool, src: Index, seen: set[str]) -> None:
    """Add ``src``'s comparable nodes to ``pool`` (each text once across the pool)."""
    stack: list[tuple[ast.AST, ast.AST | None]] = [(src.tree, None)]
    while stack:
        node, fn = stack.pop()
        if isinstance(node, FUNCTION_TYPES):
            fn = node
        if isinstance(node, TARGETS):
            size = size_of(pool, node)
            text = src.seg(node)
            if MIN_SIZE <= size <= 2 * MAX_SIZE and text not in seen:  # code written twice: one donor
                seen.add(text)
                pool.by_type.setdefault(type(node), []).append(Node(node, size, fn, src))
        if isinstance(node, ast.JoinedStr):  # no reliable positions inside before Python 3.12
            continue
        if fn is not None:
            for name in ("body", "orelse", "finalbody"):
                block = getattr(node, name, None)
                if isinstance(block, list):
                    for i, st in enumerate(block):
                        if isinstance(st, LINES) and st.lineno == st.end_lineno:
                            pool.lines.setdefault(type(st), []).append(Line(st, block, i, fn, src))
        stack.extend((kid, fn) for kid in ast.iter_child_nodes(node))


#: other modules' indexes by text: the last few (a search asks the same file many times).
_OTHER: dict[str, Index | None] = {}
#: imported modules of the repository searched for donors; the longest read (characters).
MAX_MODULES, MAX_MODULE_CHARS = 4, 200_000


def _other(path: str, text: str) -> Index | None:
    if text not in _OTHER:
        if len(_OTHER) >= 8:
            _OTHER.pop(next(iter(_OTHER)))
        try:
            _OTHER[text] = Index(text, ast.parse(text), [], path)
        except (SyntaxError, ValueError):
            _OTHER[text] = None
    return _OTHER[text]


def imported_modules(cx: Index) -> list[Index]:
    """The repository modules ``cx``'s file imports (``from .m import x``, ``from . import m``,
    ``import pkg.m``), read through ``cx.read``: up to :data:`MAX_MODULES`, in import order."""
    if cx.read is None or not cx.path:
        return []
    dotted: list[str] = []
    for node in nodes(cx.tree):
        if isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            dotted.append(base)
            dotted += [base + ("" if base.endswith(".") else ".") + a.name for a in node.names]
        elif isinstance(node, ast.Import):
            dotted += [a.name for a in node.names]
    got: list[Index] = []
    for name in dict.fromkeys(dotted):
        for path in module_files(cx.path, name):
            text = cx.read(path) if path != cx.path else None
            if text is not None and len(text) <= MAX_MODULE_CHARS:
                other = _other(path, text)
                if other is not None and all(o is not other for o in got):
                    got.append(other)
                break
        if len(got) >= MAX_MODULES:
            break
    return got


def pool_of(cx: Index) -> Pool:
    """Every comparable node of the file, then of the repository modules it imports
    (:func:`imported_modules`), by type, with its function (built once per index)."""
    pool = Pool(module=_module_names(cx.tree), tree=cx.tree)
    seen: set[str] = set()
    for src in [cx, *imported_modules(cx)]:
        _collect(pool, src, seen)
    return pool


@dataclass
class Diff:
    """The comparison of a target with one donor: donor name -> target name, differences, cost."""

    pool: Pool
    src: Index  # the donor's file
    names: dict[str, str] = field(default_factory=dict)
    diffs: list[tuple] = field(default_factory=list)
    cost: float = 0.0
    limit: float = float("inf")  # the comparison stops once its cost is past this


def _local(d: Diff, name: str) -> bool:
    """Is ``name`` a variable a renaming may map (not a module-level name of either file)?"""
    return name not in d.pool.module and name not in BUILTINS and name not in ("self", "cls") and (
        d.src.tree is d.pool.tree or name not in d.src.memo(_index_module_names))


def _same(d: Diff, t: ast.AST, n: ast.AST) -> bool:
    """Is donor node ``n`` the target's ``t`` (the same shape; a name only as itself)?"""
    if isinstance(t, ast.Name):
        return isinstance(n, ast.Name) and d.names.get(n.id, n.id) == t.id
    return shape_of(d.pool, n) == shape_of(d.pool, t)


def _nested(d: Diff, t: ast.AST, o: ast.AST) -> bool:
    """Is one of ``t`` and ``o`` the other with a wrapper or a chain link more? (then the
    difference is that wrapper, not a field-by-field one)"""
    mine, theirs = shape_of(d.pool, t), shape_of(d.pool, o)
    if mine == theirs:
        return False
    if any(n is not o and _same(d, t, n) for n in ast.walk(o)):
        return True
    inner = next((n for n in ast.walk(t) if n is not t and shape_of(d.pool, n) == theirs), None)
    if inner is None:
        return False
    d.diffs.append(("unwrap", t, inner))
    d.cost += size_of(d.pool, t) - size_of(d.pool, inner)
    return True


def _replace(d: Diff, t: ast.AST, o: ast.AST) -> None:
    """``t`` written as donor ``o``; a wrap when ``o`` holds a node of ``t``'s shape."""
    inner = next((n for n in ast.walk(o) if n is not o and _same(d, t, n)), None)
    if inner is not None:
        d.diffs.append(("wrap", t, o, inner))
        d.cost += size_of(d.pool, o) - size_of(d.pool, inner)
    else:
        d.diffs.append(("replace", t, o))
        d.cost += size_of(d.pool, t) + size_of(d.pool, o)


def _scalars_differ(t: ast.AST, o: ast.AST) -> bool:
    for name, value in ast.iter_fields(t):
        other = getattr(o, name, None)
        if name == "ctx" or isinstance(value, ast.AST) and not isinstance(value, NOISE) and isinstance(other, ast.AST):
            continue
        if isinstance(value, ast.AST):
            if type(value) is not type(other):
                return True
        elif isinstance(value, list):
            if any(isinstance(v, NOISE) for v in [*value, *(other or [])]) and \
                    [type(v) for v in value] != [type(v) for v in other or []]:
                return True
        elif value != other or type(value) is not type(other):
            return True
    return False


def compare(d: Diff, t: ast.AST, o: ast.AST) -> None:
    """Walk ``t`` and donor ``o`` together, recording their differences in ``d`` (until the
    cost passes ``d.limit`` or there are more than :data:`MAX_DIFFS`)."""
    if d.cost > d.limit or len(d.diffs) > MAX_DIFFS:
        return
    if type(t) is not type(o) or isinstance(t, ast.JoinedStr):
        if isinstance(t, ast.JoinedStr) and shape_of(d.pool, t) == shape_of(d.pool, o) and ast.dump(t) == ast.dump(o):
            return
        _replace(d, t, o)
        return
    if isinstance(t, ast.Name):
        assert isinstance(o, ast.Name)
        if t.id != o.id and not (_local(d, t.id) and _local(d, o.id)):
            _replace(d, t, o)
        elif d.names.get(o.id, t.id) == t.id and (o.id in d.names or t.id not in d.names.values()):
            d.cost += RENAME if t.id != o.id else 0
            d.names[o.id] = t.id
        else:
            _replace(d, t, o)
        return
    if isinstance(t, ast.Attribute) and isinstance(o, ast.Attribute) and t.attr != o.attr:
        d.diffs.append(("attr", t, o))
        d.cost += 2
        compare(d, t.value, o.value)
        return
    if isinstance(t, ast.keyword) and isinstance(o, ast.keyword) and t.arg != o.arg:
        _replace(d, t, o)
        return
    lists = [(name, value, getattr(o, name)) for name, value in ast.iter_fields(t)
             if isinstance(value, list) and name != "keywords" and not any(isinstance(v, NOISE) for v in value)]
    gaps = [_gap(d, name, mine, theirs) for name, mine, theirs in lists]
    if _scalars_differ(t, o) or -1 in gaps or _nested(d, t, o):
        if not (d.diffs and d.diffs[-1][0] == "unwrap" and d.diffs[-1][1] is t):
            _replace(d, t, o)
        return
    extra = dict(zip((name for name, _, _ in lists), gaps))
    for name, value in ast.iter_fields(t):
        other = getattr(o, name)
        if name == "keywords":
            _keywords(d, t, value, other)
        elif name in extra:
            _elements(d, t, name, value, other, extra[name])
        elif isinstance(value, ast.AST) and not isinstance(value, NOISE):
            compare(d, value, other)


def _gap(d: Diff, name: str, mine: list, theirs: list) -> int | None:
    """How two element lists align: None when pairwise, the index of the one element the
    longer list has more (the others of the same shapes, in order), -1 when neither."""
    if len(mine) == len(theirs):
        return None
    if name not in _LISTS or abs(len(mine) - len(theirs)) != 1:
        return -1
    longer, shorter = (theirs, mine) if len(theirs) > len(mine) else (mine, theirs)
    want = [shape_of(d.pool, n) for n in shorter]
    for i in range(len(longer) - 1, -1, -1):
        if [shape_of(d.pool, n) for n in longer[:i] + longer[i + 1:]] == want:
            return i
    return -1


def _elements(d: Diff, t: ast.AST, name: str, mine: list, theirs: list, gap: int | None) -> None:
    if gap is None:
        for a, b in zip(mine, theirs):
            compare(d, a, b)
        return
    if len(theirs) > len(mine):
        for a, b in zip(mine, theirs[:gap] + theirs[gap + 1:]):
            compare(d, a, b)
        d.diffs.append(("insert", t, name, gap, theirs[gap]))
        d.cost += size_of(d.pool, theirs[gap])
    else:
        for a, b in zip(mine[:gap] + mine[gap + 1:], theirs):
            compare(d, a, b)
        d.diffs.append(("delete", t, name, mine[gap]))
        d.cost += size_of(d.pool, mine[gap])


def _keywords(d: Diff, t: ast.AST, mine: list[ast.keyword], theirs: list[ast.keyword]) -> None:
    by_arg = {k.arg: k for k in theirs}
    for k in mine:
        if k.arg in by_arg:
            compare(d, k.value, by_arg[k.arg].value)
        else:
            d.diffs.append(("delete", t, "keywords", k))
            d.cost += size_of(d.pool, k)
    have = {k.arg for k in mine}
    for k in theirs:
        if k.arg not in have:
            d.diffs.append(("insert", t, "keywords", len(mine), k))
            d.cost += size_of(d.pool, k)
