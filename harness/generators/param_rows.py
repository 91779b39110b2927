"""The ``parametrize`` row a failing test's id names, read from its test file (issue 21).

A parametrized test's data often sits in a module-level table of the test file
(``SINGULAR_TO_PLURAL = [("potato", "potatoes"), ..., ("human", "humans")]``) that the
decorator names: ``@pytest.mark.parametrize(("singular", "plural"), SINGULAR_TO_PLURAL)``.
The failing id ``test_pluralize_singular[human-humans]`` says which row failed; its values
are the input and expected output a data edit should write. Only that row is read, not
the whole table: the others pass.

The row is found by rebuilding pytest's id of each row of each ``parametrize`` decorator
(pytest's ``IdMaker``: a str or bytes value ascii-escaped, a number, bool or None as
``str()``, any other value ``argname`` + row index; the values joined by ``-``; an explicit
``pytest.param(..., id=...)`` wins; a repeated id gets a ``0``, ``1``, ... suffix) and
comparing it with the id's parameter part. Pure: reads only the AST it is given.
"""

from __future__ import annotations

import ast
import re

_TRANSLATE = {i: f"\\x{i:02x}" for i in (*range(32), *range(127, 256))}


def _escaped(value: str | bytes) -> str:
    """pytest's ``ascii_escaped`` of a parameter value."""
    text = value.decode("ascii", "backslashreplace") if isinstance(value, bytes) else \
        value.encode("unicode_escape").decode("ascii")
    return text.translate(_TRANSLATE)


def _value_id(node: ast.expr, argname: str, index: int) -> str:
    """pytest's id of one parameter value written as ``node`` (a literal; anything else gets
    the ``argname`` + row index fallback)."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant) \
            and isinstance(node.operand.value, (int, float, complex)):
        return f"-{node.operand.value}"
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, (str, bytes)):
            return _escaped(value)
        if value is None or isinstance(value, (bool, int, float, complex)):
            return str(value)
    if isinstance(node, ast.Name):
        return f"{argname}{index}" if node.id[:1].islower() else node.id
    return f"{argname}{index}"


def _argnames(node: ast.expr) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [n.strip() for n in node.value.split(",") if n.strip()]
    if isinstance(node, (ast.Tuple, ast.List)):
        return [e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    return []


def _module_value(tree: ast.Module, name: str) -> ast.expr | None:
    """The last module-level ``name = <display>`` (or annotated) assignment's value."""
    found = None
    for st in tree.body:
        if isinstance(st, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in st.targets):
            found = st.value
        elif isinstance(st, ast.AnnAssign) and isinstance(st.target, ast.Name) and st.target.id == name:
            found = st.value
    return found


def _row(node: ast.expr, width: int) -> tuple[list[ast.expr], str | None]:
    """A row's value nodes and its explicit id (``pytest.param(..., id="x")``)."""
    explicit = None
    if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "param":
        for kw in node.keywords:
            if kw.arg == "id" and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str):
                explicit = kw.value.value
        values = list(node.args)
    elif width > 1 and isinstance(node, (ast.Tuple, ast.List)):
        values = list(node.elts)
    else:
        values = [node]
    return values, explicit


def _decorator_rows(tree: ast.Module, deco: ast.expr) -> list[tuple[str, list[ast.expr]]]:
    """``(id, value nodes)`` of each row of one ``parametrize`` decorator; empty for any other."""
    if not (isinstance(deco, ast.Call) and getattr(deco.func, "attr", getattr(deco.func, "id", "")) == "parametrize"):
        return []
    given = {kw.arg: kw.value for kw in deco.keywords}
    names_node = deco.args[0] if deco.args else given.get("argnames")
    values_node = deco.args[1] if len(deco.args) > 1 else given.get("argvalues")
    if names_node is None or values_node is None or "ids" in given:
        return []
    names = _argnames(names_node)
    if isinstance(values_node, ast.Name):
        values_node = _module_value(tree, values_node.id)
    if not names or not isinstance(values_node, (ast.List, ast.Tuple)):
        return []
    rows = []
    for index, node in enumerate(values_node.elts):
        values, explicit = _row(node, len(names))
        if len(values) != len(names):
            continue
        rows.append((explicit or "-".join(_value_id(v, n, index) for v, n in zip(values, names)), values))
    counts: dict[str, int] = {}
    for row_id, _ in rows:
        counts[row_id] = counts.get(row_id, 0) + 1
    seen: dict[str, int] = {}
    out = []
    for row_id, values in rows:  # pytest makes repeated ids unique with a 0, 1, ... suffix
        if counts[row_id] > 1:
            seen[row_id] = seen.get(row_id, -1) + 1
            row_id = f"{row_id}{seen[row_id]}"
        out.append((row_id, values))
    return out


def failing_row(tree: ast.Module, fn: ast.FunctionDef | ast.AsyncFunctionDef, test_id: str) -> list[ast.expr]:
    """The value nodes of the ``parametrize`` row(s) the pytest node id ``test_id`` names.

    Args:
        tree: the test file's module (for a table the decorator names).
        fn: the test function (its decorators are read).
        test_id: ``path::[Class::]test_x[params]``.

    Returns:
        The matched rows' value nodes, decorator by decorator (pytest joins stacked
        decorators' ids with ``-``: each decorator's row must be one ``-``-separated run of
        the id); empty when the id has no parameters or no row matches.
    """
    m = re.search(r"\[(.*)\]$", test_id)
    if m is None:
        return []
    param_id = m.group(1)
    parts = param_id.split("-")
    out: list[ast.expr] = []
    tables = [rows for rows in (_decorator_rows(tree, deco) for deco in fn.decorator_list) if rows]
    for rows in tables:
        exact = [values for row_id, values in rows if row_id == param_id]
        if exact:
            out += exact[0]
            continue
        for row_id, values in rows if len(tables) > 1 else []:
            width = row_id.count("-") + 1
            if any("-".join(parts[i:i + width]) == row_id for i in range(len(parts) - width + 1)):
                out += values
                break
    return out


def sibling_strings(tree: ast.Module, fn: ast.FunctionDef | ast.AsyncFunctionDef, test_id: str) -> list[str]:
    """The string values the other rows of the ``parametrize`` table the pytest node id
    ``test_id`` names exactly (one decorator's row) have in the columns where that row holds a
    string: ``["area", "br", ...]`` beside the failing ``test_void[wbr]``. Empty when the id
    names no single row."""
    m = re.search(r"\[(.*)\]$", test_id)
    if m is None:
        return []
    for rows in (_decorator_rows(tree, deco) for deco in fn.decorator_list):
        mine = [values for row_id, values in rows if row_id == m.group(1)]
        if len(mine) != 1:
            continue
        columns = [i for i, v in enumerate(mine[0]) if isinstance(v, ast.Constant) and isinstance(v.value, str)]
        return [v.value for row_id, values in rows if row_id != m.group(1) for i in columns
                if isinstance(v := values[i], ast.Constant) and isinstance(v.value, str)]
    return []
