"""Message operators on exception handlers (issue 21): an exception that escaped a ``try`` the
traceback passes through, and an exception a test expected that a handler swallowed.

- A failing test's exception E was raised inside the body of a ``try`` whose handlers catch
  other types (its frames pass through the ``try``): the handler is widened, either to the
  nearest builtin base it shares with E (``except io.UnsupportedOperation`` with an escaped
  ``OSError`` -> ``except OSError``; never ``Exception``: that is the unrelated case) or by E
  added to its tuple (``except (io.UnsupportedOperation, OSError)``). A handler sharing no
  base with E gets only the tuple, at a lower score, on the last handler.
- ``Failed: DID NOT RAISE E`` (``pytest.raises``): a handler catching E whose body the failing
  tests ran (a suspicious line) is narrowed (E's element dropped from its tuple, or an
  ``except E: raise`` put before a broader one) or removed (the ``try`` unwrapped when it was the
  only handler).

Exception classes are resolved without running the repository's code: builtins by name, a
class of the repository by its ``class`` statement's bases (followed through imports), a
module loopwright itself has already imported (``io``, ``json``) from ``sys.modules`` - never
imported on a message's word. Each function returns ``(score, mutant)`` pairs, score in (0, 1].
"""

from __future__ import annotations

import ast
import builtins
import re
import sys

from harness.core.tree_memo import below
from harness.generators.message_evidence import Evidence, Files, Parsed, absolute, make_mutant
from harness.generators.mutant import Mutant

#: builtin bases too broad to widen a handler to: they catch unrelated errors.
BROAD = frozenset({"Exception", "BaseException"})
#: exceptions that are the test's own verdict, not the code's error.
_VERDICTS = frozenset({"AssertionError", "Failed", "Timeout", "TestTimeout", "Skipped"})
_RAISE_NAMES = re.compile(r"<class '([\w.]+)'>|\b([A-Za-z_][\w.]*)\b")
Scored = tuple[float, Mutant]


def lineage(name: str, files: Files, parsed: Parsed | None = None, depth: int = 0) -> list[str]:
    """The classes an exception class is an instance of, nearest first: builtins by bare name
    (``OSError``), others as ``module.Class`` or ``path:Class`` (a class of the repository).
    ``name`` is as printed (``io.UnsupportedOperation``) or as written in ``parsed``'s code (an
    imported or local name, ``mod.Class`` through an ``import mod``). Empty when unknown."""
    if depth > 8 or not name:
        return []
    head, _, last = name.rpartition(".")
    if not head:
        found = getattr(builtins, name, None)
        if isinstance(found, type) and issubclass(found, BaseException):
            return _mro(found)
        return _local_lineage(name, files, parsed, depth)
    if parsed is not None:
        first, _, rest = head.partition(".")
        for module, alias in _imports(parsed.tree):
            if alias == first:
                head = module + ("." + rest if rest else "")
    path = files.module(head)
    other = files.parsed(path) if path else None
    if other is not None:
        return _local_lineage(last, files, other, depth)
    loaded = getattr(sys.modules.get(head), last, None)  # never imported here on a message's word
    return _mro(loaded) if isinstance(loaded, type) and issubclass(loaded, BaseException) else []


def _mro(cls: type) -> list[str]:
    return [klass.__name__ if klass.__module__ == "builtins" else f"{klass.__module__}.{klass.__qualname__}"
            for klass in cls.__mro__ if klass is not object]


def _local_lineage(name: str, files: Files, parsed: Parsed | None, depth: int) -> list[str]:
    """The lineage of a bare name bound in ``parsed``: its ``class`` statement or its import."""
    if parsed is None:
        return []
    for st in parsed.tree.body:
        if isinstance(st, ast.ClassDef) and st.name == name:
            out = [f"{parsed.path}:{name}"]
            for base in st.bases:
                out += [klass for klass in lineage(ast.unparse(base), files, parsed, depth + 1) if klass not in out]
            return out
        if isinstance(st, ast.ImportFrom):
            for alias in st.names:
                if (alias.asname or alias.name) == name:
                    return lineage(f"{absolute(parsed.path, st.module, st.level)}.{alias.name}", files, None, depth + 1)
    return []


def _imports(tree: ast.Module) -> list[tuple[str, str]]:
    """``import a.b as c`` -> (``a.b``, ``c``); ``import a.b`` -> (``a``, ``a``)."""
    out = []
    for st in tree.body:
        if isinstance(st, ast.Import):
            out += [(alias.name, alias.asname) if alias.asname else (alias.name.split(".")[0],) * 2
                    for alias in st.names]
    return out


def spelled(exc: str, exc_lineage: list[str], files: Files, parsed: Parsed) -> str | None:
    """How ``parsed``'s code can name the exception ``exc`` (printed name, lineage
    ``exc_lineage``): a builtin's name, a name the file binds to that class, or ``alias.Class``
    through one of its imports; None when it cannot."""
    last = exc.rsplit(".", 1)[-1]
    tries = [last] + [f"{alias}.{last}" for _, alias in _imports(parsed.tree)]
    tries += [f"{alias}{exc[len(module):exc.rfind('.')]}.{last}" for module, alias in _imports(parsed.tree)
              if exc.startswith(module + ".")]
    for text in tries:
        if exc_lineage and lineage(text, files, parsed)[:1] == exc_lineage[:1]:
            return text
    return None


def _types(handler: ast.ExceptHandler) -> list[ast.expr]:
    kind = handler.type
    return [] if kind is None else list(kind.elts) if isinstance(kind, ast.Tuple) else [kind]


def _catches(handler: ast.ExceptHandler, exc_lineage: list[str], files: Files, parsed: Parsed) -> list[ast.expr]:
    """The handler's types that catch an exception of ``exc_lineage`` (none for a bare
    ``except``: callers test ``handler.type is None`` themselves)."""
    out = []
    for kind in _types(handler):
        own = lineage(ast.unparse(kind), files, parsed)
        if own and own[0] in exc_lineage:
            out.append(kind)
    return out


# -- an exception that escaped a try ------------------------------------------------
def widen(files: Files, found: list[Evidence]) -> list[Scored]:
    """Candidates for a failing test's exception raised inside the body of a ``try`` of the
    repository that its frames pass through and whose handlers do not catch it (innermost
    such ``try`` per frame): the handler widened to a shared builtin base (score 1.0) or E added
    to its types (0.9; 0.5 on the last handler when none shares a base)."""
    out: list[Scored] = []
    for item in found:
        exc_lineage = lineage(item.exception, files) if item.exception not in _VERDICTS else []
        for path, line in reversed(item.frames) if exc_lineage else ():
            parsed = files.parsed(path) if files.editable(path) else None
            node = _try_around(parsed, line) if parsed is not None else None
            if parsed is None or node is None or any(
                    handler.type is None or _catches(handler, exc_lineage, files, parsed) for handler in node.handlers):
                continue
            out += _widened(files, parsed, node, item.exception, exc_lineage)
    return out


def _try_around(parsed: Parsed, line: int) -> ast.Try | None:
    """The innermost ``try`` with handlers, in the function holding ``line``, whose body
    (not its handlers, ``else`` or ``finally``) holds ``line``."""
    scope = parsed.function_at(line)
    best = None
    for node in below(parsed.tree, scope if scope is not None else parsed.tree):
        if (isinstance(node, ast.Try) and node.handlers and node.body[0].lineno <= line
                <= (node.body[-1].end_lineno or node.body[-1].lineno) and (best is None or node.lineno > best.lineno)
                and parsed.function_at(node.lineno) is scope):
            best = node
    return best


def _widened(files: Files, parsed: Parsed, node: ast.Try, exc: str, exc_lineage: list[str]) -> list[Scored]:
    out: list[Scored] = []
    name = spelled(exc, exc_lineage, files, parsed) or next(
        (klass for klass in exc_lineage if ":" not in klass and "." not in klass and klass not in BROAD), None)
    related = False
    for handler in node.handlers:
        kinds = _types(handler)
        shared = [next((klass for klass in lineage(ast.unparse(kind), files, parsed)
                        if klass in exc_lineage and ":" not in klass and "." not in klass), "") for kind in kinds]
        if not any(base and base not in BROAD for base in shared):
            continue
        related = True
        if len(kinds) == 1 and handler.type is not None:
            start, end = parsed.index.span(handler.type)
            got = make_mutant("except_base", parsed, [(start, end, shared[0])], handler.lineno,
                              f"`except {ast.unparse(handler.type)}` -> `except {shared[0]}`: the "
                              f"escaped {exc} is one")
            if got is not None:
                out.append((1.0, got))
        if name is not None:
            out += _added(parsed, handler, name, exc, 0.9)
    if not related and name is not None and node.handlers[-1].type is not None:
        out += _added(parsed, node.handlers[-1], name, exc, 0.5)
    return out


def _added(parsed: Parsed, handler: ast.ExceptHandler, name: str, exc: str, score: float) -> list[Scored]:
    """``name`` added to the handler's types (a tuple made of a single type)."""
    assert handler.type is not None
    start, end = parsed.index.span(handler.type)
    text = parsed.text[start:end]
    if isinstance(handler.type, ast.Tuple) and text.endswith(")"):
        edit = (end - 1, end - 1, f", {name}")
    else:
        edit = (start, end, f"({text}, {name})")
    got = make_mutant("except_widen", parsed, [edit], handler.lineno,
                      f"`except {ast.unparse(handler.type)}` also catches `{name}` (the escaped {exc})")
    return [(score, got)] if got is not None else []


# -- an exception a test expected, swallowed ---------------------------------------
def unswallow(files: Files, found: list[Evidence], located: dict[str, set[int]]) -> list[Scored]:
    """Candidates for ``DID NOT RAISE E``: a handler catching E whose body holds a line of
    ``located`` (path -> suspicious lines: the failing tests ran it) narrowed (1.0: E's type
    dropped from its tuple; 0.8: ``except E: raise`` before it) or removed (0.6)."""
    out: list[Scored] = []
    for item in found:
        if item.exception != "Failed" or "DID NOT RAISE" not in item.text:
            continue
        words = item.text.split("DID NOT RAISE", 1)[1]
        names = [name for hit in _RAISE_NAMES.finditer(words) if (name := hit.group(1) or hit.group(2))[:1].isupper()
                 or lineage(name, files)]  # `any of (A, B)`: not `any`, not `of`
        for path, lines in located.items():
            parsed = files.parsed(path) if files.editable(path) else None
            for node in ast.walk(parsed.tree) if parsed is not None else ():
                if not isinstance(node, ast.Try) or parsed is None:
                    continue
                for handler in node.handlers:
                    last = handler.end_lineno or handler.lineno
                    if any(handler.lineno < line <= last for line in lines):
                        for exc in names:
                            out += _narrowed(files, parsed, node, handler, exc, _expected(exc, files, parsed))
    return out


def _expected(exc: str, files: Files, parsed: Parsed) -> list[str]:
    """The lineage of an expected exception named by pytest (a bare class name when it is not a
    builtin: looked up in ``parsed``, then as printed)."""
    return lineage(exc, files, parsed) or lineage(exc, files)


def _narrowed(files: Files, parsed: Parsed, node: ast.Try, handler: ast.ExceptHandler, exc: str,
              exc_lineage: list[str]) -> list[Scored]:
    kinds = _types(handler)
    caught = _catches(handler, exc_lineage, files, parsed) if kinds else []
    if kinds and not caught:
        return []
    out: list[Scored] = []
    index = parsed.index
    if len(kinds) > 1:
        for kind in caught:
            position = kinds.index(kind)
            start = index.span(kinds[position - 1])[1] if position else index.span(kind)[0]
            end = index.span(kind)[1] if position else index.span(kinds[1])[0]
            got = make_mutant("except_narrow", parsed, [(start, end, "")], handler.lineno,
                              f"`{ast.unparse(kind)}` dropped from `except {ast.unparse(handler.type or kind)}`: "
                              f"the test expects {exc} to be raised")
            if got is not None:
                out.append((1.0, got))
    name = spelled(exc, exc_lineage, files, parsed) if exc_lineage else None
    if name is not None and not any(ast.unparse(kind) == name for kind in kinds) and handler.body:
        indent = parsed.line_indent(handler.lineno)
        inner = parsed.line_indent(handler.body[0].lineno)
        at = index.line_starts[handler.lineno - 1]
        got = make_mutant("except_reraise", parsed, [(at, at, f"{indent}except {name}:\n{inner}raise\n")],
                          handler.lineno, f"`except {name}: raise` before `except "
                          f"{ast.unparse(handler.type) if handler.type else ''}`: the test expects it raised")
        if got is not None:
            out.append((0.8, got))
    got = _dropped(parsed, node, handler, exc)
    return out + ([(0.6, got)] if got is not None else [])


def _dropped(parsed: Parsed, node: ast.Try, handler: ast.ExceptHandler, exc: str) -> Mutant | None:
    """The handler removed; the ``try`` unwrapped (body, then ``else``) when it was its only
    handler and there is no ``finally``."""
    index = parsed.index
    what = f"`except {ast.unparse(handler.type) if handler.type else ''}` removed: the test expects {exc} raised"
    if len(node.handlers) > 1 or node.finalbody:
        start, end = index.line_starts[handler.lineno - 1], index.line_end(handler.end_lineno or handler.lineno)
        return make_mutant("except_drop", parsed, [(start, end, "")], handler.lineno, what)
    kept = node.body + node.orelse
    shift = len(parsed.line_indent(node.body[0].lineno)) - len(parsed.line_indent(node.lineno))
    lines = []
    for line in range(node.body[0].lineno, (kept[-1].end_lineno or kept[-1].lineno) + 1):
        text = index.line_text(line)
        if node.orelse and node.orelse[0].lineno > line > (node.body[-1].end_lineno or 0):
            continue  # the handler and the `else:` line
        lines.append(text[shift:] if text[:shift].isspace() else text)
    start, end = index.line_starts[node.lineno - 1], index.line_end(node.end_lineno or node.lineno)
    body = "\n".join(lines) + "\n"
    if not parsed.text[:end].endswith("\n"):
        body = body[:-1]
    return make_mutant("except_drop", parsed, [(start, end, body)], handler.lineno, what + " (the `try` unwrapped)")
