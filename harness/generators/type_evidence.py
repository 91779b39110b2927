"""What the failing tests say about classes, for :mod:`.type_ops` (issue 21): the classes a
failing test expects raised (``pytest.raises(F)``, ``pytest.raises((F, G))``,
``self.assertRaises(F)`` in its source, ``DID NOT RAISE <class 'F'>`` and ``F not raised`` in its
message), and the class names its code, messages and test id write. Test files are read the
way :mod:`.message_evidence` reads repository files (:class:`Files`, parsed once); the test
function is found by its pytest node id, with the helpers of its test file its frames pass
through. Pure: nothing runs.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from typing import NamedTuple

from harness.generators.message_evidence import Evidence, Files, Parsed

#: the methods that expect an exception class as their first argument.
_EXPECTING = frozenset({"raises", "assertRaises", "assertRaisesRegex", "assertRaisesRegexp"})
_CLASS = re.compile(r"<class '([\w.]+)'>")
_NOT_RAISED = re.compile(r"([\w.]+) not raised")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: a type named as one in a message: quoted (``'float' object``, ``<class 'float'>``) or after
#: the words Python's own type errors use (``must be str, not float``, ``expected str, got float``).
_TYPE_NAMED = re.compile(r"'([A-Za-z_]\w*)'|\b(?:not|got|type|expected|instance of) ([A-Za-z_]\w*)\b")
#: a failing test's functions: test id -> (its parsed test file, a function of it) pairs.
FailingFunctions = dict[str, list[tuple[Parsed, ast.AST]]]


class Said(NamedTuple):
    """What the failing tests say about classes: ``names`` written in their code or messages
    (exact identifiers), ``words`` of their test ids, lower case (``exprlist``, ``compound``),
    ``told``: the type names their messages write as types (``'float'``, ``<class 'float'>``,
    ``not float``, ``got float``): a builtin type a test's code calls is no evidence (``dict``,
    ``list`` are everywhere in tests), nor a word of prose (unittest's ``Items in the second
    set``); a type a message names as one is.
    """

    names: frozenset[str]
    words: frozenset[str]
    told: frozenset[str] = frozenset()

    def weight(self, name: str) -> float:
        """1.0 when ``name``'s last part is written by a test, 0.8 when it is a word of a test
        id (any case), 0 when neither."""
        return 1.0 if name.rsplit(".", 1)[-1] in self.names else 0.8 if self.in_test_id(name) else 0.0

    def in_test_id(self, name: str) -> bool:
        """Whether ``name``'s last part is a word of a failing test's id (any case)."""
        return name.rsplit(".", 1)[-1].lower() in self.words


def failing_functions(files: Files, found: list[Evidence]) -> FailingFunctions:
    """Each failing test's function (by its node id) and the functions of its test file its
    frames pass through (helpers), with the parsed test file."""
    out: FailingFunctions = {}
    for item in found:
        parsed = files.parsed(item.test_path)
        if parsed is None:
            continue
        names = [re.sub(r"\[.*$", "", part) for part in item.test_id.split("::")[1:]]
        body: list[ast.stmt] = parsed.tree.body
        fns: list[ast.AST] = []
        for name in names:
            node = next((st for st in body if getattr(st, "name", None) == name), None)
            if node is None:
                break
            body = getattr(node, "body", [])
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                fns.append(node)
        fns += [fn for path, line in item.frames if path == item.test_path
                and (fn := parsed.function_at(line)) is not None and fn not in fns]
        out[item.test_id] = [(parsed, fn) for fn in fns]
    return out


def expected_classes(tests: FailingFunctions, item: Evidence) -> list[tuple[str, Parsed, float]]:
    """The classes ``item``'s test expects raised, as written in its test file, with that file
    and a weight: 1.0 for a ``pytest.raises``/``assertRaises`` whose ``with`` body holds one
    of the test's frames (the call that raised), 0.8 for any other in the test."""
    out: dict[str, tuple[str, Parsed, float]] = {}
    lines = {line for path, line in item.frames if path == item.test_path}
    for parsed, fn in tests.get(item.test_id, []):
        bodies = {id(w.items[0].context_expr): w for w in ast.walk(fn) if isinstance(w, ast.With | ast.AsyncWith)}
        for call in ast.walk(fn):
            if not (isinstance(call, ast.Call) and call.args and _callee(call) in _EXPECTING):
                continue
            first = call.args[0]
            kinds = first.elts if isinstance(first, ast.Tuple) else [first]
            block = bodies.get(id(call))
            held = block is not None and any(block.body[0].lineno <= n <= (block.end_lineno or 0) for n in lines)
            for kind in kinds:
                if isinstance(kind, ast.Name | ast.Attribute):
                    text = ast.unparse(kind)
                    weight = 1.0 if held else 0.8
                    if text not in out or out[text][2] < weight:
                        out[text] = (text, parsed, weight)
    return list(out.values())


def _callee(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def said_by(found: list[Evidence], tests: FailingFunctions, failing: Mapping[str, object]) -> Said:
    """The identifiers the failing tests' code and messages write, and their test ids' words."""
    names: set[str] = set()
    words: set[str] = set()
    told: set[str] = set()
    for item in found:
        names.update(_WORD.findall(f"{item.exception} {item.text}"))
        told.update(name for hit in _TYPE_NAMED.finditer(item.text) for name in hit.groups() if name)
        for _, fn in tests.get(item.test_id, []):
            names.update(node.id if isinstance(node, ast.Name) else node.attr for node in ast.walk(fn)
                         if isinstance(node, ast.Name | ast.Attribute))
    for test_id in failing:
        for part in test_id.split("::")[1:]:
            words.update(word.lower() for word in re.split(r"[^A-Za-z0-9]+|_", part) if len(word) > 2)
    return Said(frozenset(names), frozenset(words) - {"test"}, frozenset(told))


def not_raised(item: Evidence) -> list[str]:
    """The classes a test expected and did not get: pytest's ``Failed: DID NOT RAISE <class
    'F'>`` (or ``any of (<class 'F'>, ...)``), unittest's ``AssertionError: F not raised``."""
    if item.exception == "Failed" and "DID NOT RAISE" in item.text:
        return [name.removeprefix("builtins.") for name in _CLASS.findall(item.text.split("DID NOT RAISE", 1)[1])]
    if item.exception == "AssertionError" and (hit := _NOT_RAISED.match(item.text)):
        return [hit.group(1)]
    return []


def expected_messages(tests: FailingFunctions, item: Evidence, name: str) -> list[str]:
    """The patterns ``item``'s test matches the message of an expected ``name`` (a class as
    written in its test file) against: ``pytest.raises(name, match=P)``, ``assertRaisesRegex(name,
    P)`` (``expected_regex=P``), and the string ``S`` of an ``assert S in str(info.value)`` (or
    ``...exception``) after ``with pytest.raises(name) as info``. Regex patterns, as written (a
    plain ``S`` is ``re.escape``'d); empty when the test checks no message."""
    out: list[str] = []
    for _, fn in tests.get(item.test_id, []):
        held: set[str] = set()  # `as` names of the `with` blocks expecting `name`
        for node in ast.walk(fn):
            if isinstance(node, ast.With | ast.AsyncWith):
                for part in node.items:
                    call = part.context_expr
                    if isinstance(call, ast.Call) and _expects(call, name) and isinstance(part.optional_vars, ast.Name):
                        held.add(part.optional_vars.id)
            if isinstance(node, ast.Call) and _expects(node, name):
                given = [kw.value for kw in node.keywords if kw.arg in ("match", "expected_regex")]
                given += node.args[1:2] if _callee(node).startswith("assertRaisesRegex") else []
                out += [arg.value for arg in given if isinstance(arg, ast.Constant) and isinstance(arg.value, str)]
        for node in ast.walk(fn) if held else ():
            if (isinstance(node, ast.Compare) and isinstance(node.ops[0], ast.In) and isinstance(node.left, ast.Constant)
                    and isinstance(node.left.value, str) and set(_WORD.findall(ast.unparse(node.comparators[0]))) & held):
                out.append(re.escape(node.left.value))
    return list(dict.fromkeys(out))


def _expects(call: ast.Call, name: str) -> bool:
    """``call`` is a ``raises``/``assertRaises*`` call whose first argument names ``name``."""
    if not (call.args and _callee(call) in _EXPECTING):
        return False
    first = call.args[0]
    return name in [ast.unparse(kind) for kind in (first.elts if isinstance(first, ast.Tuple) else [first])]
