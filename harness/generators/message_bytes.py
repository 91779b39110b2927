"""Message operator for ``str`` and ``bytes`` mixed up (issue 21): Python 3 refuses to combine
them, and its ``TypeError`` says which one the operation wanted.

``a bytes-like object is required, not 'str'``, ``can't concat str to bytes``, ``startswith
first arg must be bytes or a tuple of bytes, not str``, ``sequence item 0: expected a
bytes-like object, str found``, ``cannot use a string pattern on a bytes-like object`` want
``bytes``; ``can only concatenate str (not "bytes") to str``, ``must be str or a tuple of
str, not bytes``, ``expected str instance, bytes found``, ``write() argument must be str, not
bytes``, ``Object of type bytes is not JSON serializable``, ``cannot use a bytes pattern on a
string-like object`` want ``str``. At the innermost repository frame of such a failure:

- ``bytes_literal``: a string literal of the failing statement given the wanted kind
  (``"\\r\\n"`` -> ``b"\\r\\n"``; ASCII only), also a module- or function-level constant the
  statement reads (``SEP = "\\r\\n"`` ... ``data.split(SEP)``): the literal is where such a bug
  is most often written;
- ``bytes_convert``: an operand of the statement's ``+`` or a name it reads converted
  (``str(n).encode()``, ``name.decode()``, UTF-8 as Python's default): the value came in as
  the other kind.

:func:`bytes_edits` returns ``(score, mutant)`` pairs, score in (0, 1]. Pure: files are read
through :class:`.message_evidence.Files`.
"""

from __future__ import annotations

import ast
import builtins
import re

from harness.generators.message_evidence import Evidence, Files, Parsed, make_mutant
from harness.generators.mutant import Mutant

Scored = tuple[float, Mutant]
_WANTS_BYTES = re.compile(
    r"bytes-like object is required, not 'str'|can't concat str to bytes|must be bytes or a tuple of bytes, not str"
    r"|expected a bytes-like object, str found|string pattern on a bytes-like object"
    r"|argument should be integer or bytes-like object, not 'str'")
_WANTS_STR = re.compile(
    r"can only concatenate str \(not \"bytes\"\) to str|must be str or a tuple of str, not bytes"
    r"|expected str instance, bytes found|argument must be str, not bytes|Object of type bytes is not JSON"
    r"|bytes pattern on a string-like object|string argument expected, got 'bytes'")
_BUILTINS = frozenset(dir(builtins))
#: values converted per failing statement (:func:`_atoms`' order).
MAX_CONVERSIONS = 4


def wanted(item: Evidence) -> type | None:
    """``bytes`` or ``str``: the kind a failing test's ``TypeError`` asks for (None: neither)."""
    if item.exception != "TypeError":
        return None
    return bytes if _WANTS_BYTES.search(item.text) else str if _WANTS_STR.search(item.text) else None


def _statement(parsed: Parsed, line: int) -> ast.stmt | None:
    """The innermost statement holding ``line`` (not a definition's whole body)."""
    best = None
    for node in ast.walk(parsed.tree):
        if isinstance(node, ast.stmt) and node.lineno <= line <= (node.end_lineno or node.lineno) \
                and not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if best is None or node.lineno >= best.lineno and (node.end_lineno or 0) <= (best.end_lineno or 0):
                best = node
    return best


def _retyped(text: str, node: ast.Constant, kind: type) -> str | None:
    """The literal's source ``text`` as the other kind (``"a"`` <-> ``b"a"``), or None when it
    cannot be (non-ASCII text, an implicit concatenation, an f-string)."""
    found = re.match(r"([rRbBuU]{0,2})(['\"])", text)
    if found is None:
        return None
    prefix = found.group(1)
    if kind is bytes:
        if "u" in prefix.lower() or not isinstance(node.value, str) or not node.value.isascii():
            return None
        new = "b" + text
    else:
        new = prefix.replace("b", "").replace("B", "") + text[found.end(1):]
    try:
        value = ast.literal_eval(new)
    except (SyntaxError, ValueError):
        return None  # an implicit concatenation of two literals, or an escape only one kind has
    old = node.value
    same = value == old.encode("ascii") if isinstance(old, str) else isinstance(old, bytes) and value == old.decode("latin-1")
    return new if isinstance(value, kind) and same else None


def _literal_edit(parsed: Parsed, node: ast.Constant, kind: type, line: int) -> Mutant | None:
    index = parsed.index
    start = index.off(node.lineno, node.col_offset)
    end = index.off(node.end_lineno or node.lineno, node.end_col_offset or 0)
    new = _retyped(parsed.text[start:end], node, kind)
    if new is None:
        return None
    return make_mutant("bytes_literal", parsed, [(start, end, new)], line,
                       f"`{parsed.text[start:end][:40]}` -> `{new[:40]}` (the failure wants {kind.__name__})")


def _constants(tree: ast.AST, kind: type) -> list[ast.Constant]:
    """String literals of the other kind in ``tree``, in source order, f-strings left out."""
    other = str if kind is bytes else bytes
    inside = {id(v) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for v in ast.walk(node)}
    found = [node for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, other)
             and id(node) not in inside]
    return sorted(found, key=lambda n: (n.lineno, n.col_offset))


def _origins(parsed: Parsed, statement: ast.stmt, names: list[str]) -> list[ast.Constant]:
    """The literals assigned once to the names the statement reads (``SEP = "\\r\\n"``): in the
    enclosing function when it binds the name, else at module level."""
    fn = parsed.function_at(statement.lineno)
    params = {a.arg for a in ast.walk(fn.args) if isinstance(a, ast.arg)} if fn is not None else set()
    scopes: list[list[ast.AST]] = ([list(ast.walk(fn))] if fn is not None else []) + [list(parsed.tree.body)]
    out: list[ast.Constant] = []
    for name in names:
        if name in params:
            continue
        for nodes in scopes:
            bound = [st for st in nodes if isinstance(st, ast.Assign)
                     and any(isinstance(t, ast.Name) and t.id == name for t in st.targets)]
            if bound:
                if len(bound) == 1 and isinstance(bound[0].value, ast.Constant) and bound[0] is not statement:
                    out.append(bound[0].value)
                break
    return out


def _atoms(statement: ast.stmt, parsed: Parsed) -> list[ast.expr]:
    """Values of the statement that may be of the wrong kind, most likely first: the operands of
    its ``+`` chains (``b"LEN " + str(n)``), then the names it reads (not a callee, a builtin,
    an imported module, ``self``); literals left out (:func:`_literal_edit` retypes them)."""
    imported = {alias.asname or alias.name.split(".")[0] for node in ast.walk(parsed.tree)
                if isinstance(node, (ast.Import, ast.ImportFrom)) for alias in node.names}
    operands = [side for node in ast.walk(statement) if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add)
                for side in (node.left, node.right)
                if not (isinstance(side, ast.BinOp) and isinstance(side.op, ast.Add)) and not isinstance(side, ast.Constant)]
    callees = {id(node.func) for node in ast.walk(statement) if isinstance(node, ast.Call)}
    names = [node for node in ast.walk(statement) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
             and id(node) not in callees and node.id not in _BUILTINS and node.id not in imported
             and node.id not in ("self", "cls")]
    atoms: list[ast.expr] = [node for node in operands if isinstance(node, (ast.Name, ast.Call, ast.Attribute, ast.Subscript))]
    return list({id(node): node for node in atoms + names}.values())  # the first place of each kept


_MAKES_STR = frozenset({"str", "repr", "format", "chr", "hex", "oct", "bin", "decode", "join", "format_map"})
_MAKES_BYTES = frozenset({"bytes", "bytearray", "encode", "to_bytes", "pack"})


def kind_of(node: ast.expr) -> type | None:
    """``str`` or ``bytes`` when the expression's own form says which (``str(n)``,
    ``x.decode()``, an f-string; ``bytes(...)``, ``x.encode()``), else None."""
    if isinstance(node, ast.JoinedStr):
        return str
    if isinstance(node, ast.Call):
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        if name in _MAKES_STR and not (name == "join" and isinstance(func, ast.Attribute) and isinstance(
                func.value, ast.Constant) and isinstance(func.value.value, bytes)):
            return str
        if name in _MAKES_BYTES:
            return bytes
    return None


def _convert(parsed: Parsed, node: ast.expr, kind: type, line: int) -> Mutant | None:
    """``value`` -> ``value.encode()`` (or ``.decode()``) for one value of the statement."""
    method = "encode" if kind is bytes else "decode"
    end = parsed.index.off(node.end_lineno or node.lineno, node.end_col_offset or 0)
    start = parsed.index.off(node.lineno, node.col_offset)
    text = parsed.text[start:end]
    return make_mutant("bytes_convert", parsed, [(end, end, f".{method}()")], line,
                       f"`{text[:40]}` -> `{text[:40]}.{method}()` (the failure wants {kind.__name__})")


def bytes_edits(files: Files, found: list[Evidence]) -> list[Scored]:
    """The literal and conversion candidates for the failing tests' ``str``/``bytes``
    ``TypeError``s, at the innermost frame of each (when its file is editable)."""
    out: list[Scored] = []
    seen: set[tuple[str, int]] = set()
    for item in found:
        kind = wanted(item)
        if kind is None or not item.frames or item.frames[-1] in seen:
            continue
        seen.add(item.frames[-1])
        path, line = item.frames[-1]
        parsed = files.parsed(path)
        statement = _statement(parsed, line) if parsed is not None and files.editable(path) else None
        if parsed is None or statement is None:
            continue
        atoms = _atoms(statement, parsed)
        names = list(dict.fromkeys(node.id for node in atoms if isinstance(node, ast.Name)))
        for node in _constants(statement, kind):
            if (mutant := _literal_edit(parsed, node, kind, line)) is not None:
                out.append((1.0, mutant))
        for origin in _origins(parsed, statement, names):
            if isinstance(origin.value, str if kind is bytes else bytes) and (
                    mutant := _literal_edit(parsed, origin, kind, line)) is not None:
                out.append((0.8, mutant))
        other = str if kind is bytes else bytes
        atoms = [node for node in atoms if kind_of(node) is not kind]  # already the wanted kind
        atoms.sort(key=lambda node: kind_of(node) is not other)  # surely the other kind first
        for atom in atoms[:MAX_CONVERSIONS]:
            if (mutant := _convert(parsed, atom, kind, line)) is not None:
                out.append((0.9 if kind_of(atom) is other else 0.5, mutant))
    return out
