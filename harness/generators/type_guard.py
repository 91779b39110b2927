"""A type guard raising the class the failing test expects (issue 21), for :mod:`.type_ops`.

Input validation is a common real fix: a failing test expects an exception class F
(``pytest.raises(F)``, ``with self.assertRaises(F)``, ``self.assertRaises(F, f, arg)``), but the
code under test fails with a ``TypeError`` or ``AttributeError`` from an operation on the bad
input instead (``argument of type 'NoneType' is not iterable``, ``'int' object has no attribute
'split'``, ``expected string or bytes-like object``) at a repository line
that is not a ``raise`` (a ``raise`` is :func:`.type_ops.retyped_raises`' case). The developer
adds a guard at the top of the function the test called, or of the innermost repository
function of the traceback::

    if not isinstance(value, str):
        raise F("value must be str")

The candidates (``type_guard``) are built from the evidence only:

- F: a class the test expects (:func:`.type_evidence.expected_classes`), not already a base of
  the escaped exception, that the guard's module can name (:func:`.message_except.spelled`);
- the functions: the outermost repository frame the bad value reaches (the entry) and the
  innermost one;
- the parameters: those the failing line reads (the operand of the failing operation first:
  ``p`` of ``p.split()``, of ``x in p``, of ``len(p)``; a local assigned from a parameter
  counts as that parameter), followed outwards through the arguments of each call on the
  traceback to the parameters of the calling function;
- the condition: ``p is None`` for ``'NoneType'``; ``not isinstance(p, S)`` for a type S the
  message asks for (``must be str``, ``expected string``, a ``str`` method in ``has no
  attribute``) or the functions' code expects (a method only S has called on ``p``);
  ``isinstance(p, T)`` for the builtin type T the message names (``'int' object``);
- the message: the test's own ``match=`` / ``assertRaisesRegex`` pattern when a plain text
  made from it matches it, else a plain sentence naming the parameter.

At most :data:`MAX_PER_FAILURE` per failure and :data:`MAX_GUARDS` in all, scored by
:data:`GUARD_PRIOR` (tried before every mutant, after the exact retypes). Pure: files are
read through the :class:`.message_evidence.Files` given; nothing runs.
"""

from __future__ import annotations

import ast
import re

from harness.generators.index import FunctionNode
from harness.generators.message_evidence import Evidence, Files, Parsed, make_mutant
from harness.generators.message_except import lineage, spelled
from harness.generators.mutant import Mutant
from harness.generators.type_evidence import FailingFunctions, expected_classes, expected_messages

#: prior of a guard, in (0, 1]: below the weakest exact retype (0.95 x 0.8 x 0.9: the raise is there already).
GUARD_PRIOR = 0.65
#: score factors: the innermost function against the entry, each next parameter, each next
#: condition of one parameter.
INNER_FACTOR = 0.9
PARAM_FACTOR = 0.85
CONDITION_FACTOR = 0.9
#: a guard where the function already tests the parameter's type (an ``isinstance(p, ...)``, a
#: ``p is None``) is not tried before the mutants but at a mutant's rank (its score times this:
#: about a ``convert_param`` on the most suspicious line): the failure more likely flows through
#: that check being wrong.
CHECKED_FACTOR = 0.25
#: operator methods get no guard: a wrong operand's type gives ``NotImplemented`` and the
#: interpreter raises the TypeError (the injected bench's semantic-version s1 dropped the ``not``
#: of ``__ge__``'s ``if not isinstance(other, self.__class__): return NotImplemented``; a guard
#: raising TypeError for a str passed every test, a wrong fix the tests could not see).
_OPERATOR_METHOD = re.compile(r"__[ri]?(?:eq|ne|lt|le|gt|ge|add|sub|mul|matmul|truediv|floordiv|mod|divmod|pow|"
                              r"lshift|rshift|and|or|xor)__")
#: candidates per failure and in all; parameters per function; conditions per parameter.
MAX_PER_FAILURE = 4
MAX_GUARDS = 6
MAX_PARAMS = 2
MAX_CONDITIONS = 2
#: exceptions that are the test's own verdict, not a crash on a bad input.
_VERDICTS = frozenset({"AssertionError", "Failed", "Timeout", "TestTimeout", "Skipped"})
#: the crashes a type guard prevents: an operation the bad input's type does not have (a
#: ``ValueError`` of ``int("abc")`` is a value's, a ``KeyError`` a lookup's: no guard of a type).
_CRASHES = frozenset({"TypeError", "AttributeError"})
#: builtin types a guard may test for, in the order a method name is resolved to its type.
_BUILTIN: dict[str, type] = {"str": str, "list": list, "dict": dict, "set": set, "bytes": bytes,
                             "tuple": tuple, "int": int, "float": float, "bool": bool}
_TYPES = tuple(_BUILTIN)
_TYPE_WORDS = {"string": "str", "integer": "int", "NoneType": "NoneType", **{name: name for name in _TYPES}}
#: the bad input's type as messages name it: ``'int' object``, ``argument of type 'NoneType'``,
#: ``got 'int'``, ``(not "int")``, ``must be str, not int``.
_BAD = re.compile(r"'(\w+)' object|of type '(\w+)'|got '(\w+)'|\(not \"(\w+)\"\)|, not '?(\w+)'?")
#: the type a message asks for: ``must be str``, ``expected str``, ``expected string or
#: bytes-like``, ``can only concatenate str``.
_WANTED = re.compile(r"must be (?:an? )?(\w+)|expected (?:an? )?(\w+)|can only concatenate (\w+)")
_ATTRIBUTE = re.compile(r"has no attribute '(\w+)'")
#: ``re`` functions whose later arguments are the text searched.
_RE_CALLS = frozenset({"match", "search", "fullmatch", "sub", "subn", "split", "findall", "finditer"})


Guard = tuple[float, Mutant, bool]


def type_guards(files: Files, found: list[Evidence], tests: FailingFunctions) -> list[Guard]:
    """The guard candidates for the failures ``found`` (see the module docstring), as
    ``(score, mutant, first)`` with score in (0, 1], best first (``first`` ones before the
    others), one per new file text, at most :data:`MAX_GUARDS`. ``first``: tried before every
    mutant, else at a mutant's rank (:data:`CHECKED_FACTOR`). ``tests``: the failing tests'
    functions (:func:`.type_evidence.failing_functions`). Empty when no failing test expects a
    class its crash is not."""
    best: dict[tuple[str, tuple], Guard] = {}
    for item in found:
        for got in sorted(_for_failure(files, item, tests), key=_rank)[:MAX_PER_FAILURE]:
            key = (got[1].path, got[1].key)
            if key not in best or _rank(got) < _rank(best[key]):
                best[key] = got
    return sorted(best.values(), key=_rank)[:MAX_GUARDS]


def _rank(guard: Guard) -> tuple[bool, float]:
    return not guard[2], -guard[0]


def _for_failure(files: Files, item: Evidence, tests: FailingFunctions) -> list[Guard]:
    """The guards of one failure: every expected class at every site, every condition."""
    classes = expected_classes(tests, item) if item.exception not in _VERDICTS else []
    own = lineage(item.exception, files) if classes else []
    if not _CRASHES & set(own):
        return []
    expected = []
    for name, where, weight in classes:
        wanted = lineage(name, files, where) or lineage(name, files)
        if wanted and wanted[0] not in own:
            expected.append((name, wanted, weight, expected_messages(tests, item, name)))
    frames = [(path, line) for path, line in item.frames if files.editable(path)] if expected else []
    if not frames or _is_raise(files, *frames[-1]):
        return []
    chain = _chain(files, frames, item.text)
    if not chain:
        return []
    wants = _wanted_types(item.text, chain)
    bad = _bad_types(item.text)
    sites = [chain[0]] + ([chain[-1]] if chain[-1][1] is not chain[0][1] else [])
    out: list[Guard] = []
    for place, (parsed, fn, params) in enumerate(sites):
        for rank, param in enumerate(params[:MAX_PARAMS] if not _OPERATOR_METHOD.fullmatch(fn.name) else []):
            first = not _checks_type(fn, param)
            for turn, (test, said) in enumerate(_conditions(param, bad, wants)[:MAX_CONDITIONS]):
                for name, wanted, weight, patterns in expected:
                    spelling = spelled(name, wanted, files, parsed)
                    mutant = _guard(parsed, fn, test, spelling, _message(patterns, said)) if spelling else None
                    if mutant is not None:
                        score = GUARD_PRIOR * weight * INNER_FACTOR ** place * PARAM_FACTOR ** rank \
                            * CONDITION_FACTOR ** turn * (1.0 if first else CHECKED_FACTOR)
                        out.append((score, mutant, first))
    return out


def _checks_type(fn: FunctionNode, param: str) -> bool:
    """Whether ``fn`` already tests ``param``'s type: ``isinstance(param, ...)``, ``type(param)``,
    ``param is None`` / ``param is not None``."""
    for node in ast.walk(fn):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") in ("isinstance", "type") and node.args \
                and isinstance(node.args[0], ast.Name) and node.args[0].id == param:
            return True
        if isinstance(node, ast.Compare) and isinstance(node.left, ast.Name) and node.left.id == param and any(
                isinstance(op, ast.Is | ast.IsNot) for op in node.ops):
            return True
    return False


def _is_raise(files: Files, path: str, line: int) -> bool:
    """Whether the statement at ``path:line`` is a ``raise`` (then the class is retyped instead)."""
    parsed = files.parsed(path)
    st = _statement_at(parsed.tree, line) if parsed is not None else None
    return isinstance(st, ast.Raise)


def _statement_at(scope: ast.AST, line: int) -> ast.stmt | None:
    """The innermost statement of ``scope`` whose lines hold ``line`` (a compound statement
    only when ``line`` is in its header)."""
    best = None
    for node in ast.walk(scope):
        if isinstance(node, ast.stmt) and node.lineno <= line <= (node.end_lineno or node.lineno) \
                and (best is None or node.lineno >= best.lineno) and node is not scope:
            best = node
    return best


# -- which parameters carry the bad value ---------------------------------------------------
def _chain(files: Files, frames: list[tuple[str, int]], text: str) -> list[tuple[Parsed, FunctionNode, list[str]]]:
    """(file, function, parameters carrying the bad value) for each repository frame from the
    innermost outwards while the value is followed, returned outermost first; empty when the
    failing line reads no parameter."""
    out: list[tuple[Parsed, FunctionNode, list[str]]] = []
    inner: tuple[FunctionNode, list[str]] | None = None
    for path, line in reversed(frames):
        parsed = files.parsed(path)
        fn = parsed.function_at(line) if parsed is not None else None
        st = _statement_at(fn, line) if fn is not None else None
        if parsed is None or fn is None or st is None:
            break
        if inner is None:
            names = _operands(st, text) + _reads(_header(st))
        elif inner[0] is fn:
            names = inner[1]  # a recursion or a loop of the same function
        else:
            names = _passed(st, inner[0], inner[1])
        params = _to_params(fn, names, line)
        if not params:
            break
        out.append((parsed, fn, params))
        inner = (fn, params)
    return out[::-1]


def _header(st: ast.stmt) -> list[ast.AST]:
    """The expressions a statement's header holds (the statement itself for a simple one)."""
    if isinstance(st, ast.If | ast.While):
        return [st.test]
    if isinstance(st, ast.For | ast.AsyncFor):
        return [st.iter]
    if isinstance(st, ast.With | ast.AsyncWith):
        return [part.context_expr for part in st.items]
    if isinstance(st, ast.Return | ast.Expr | ast.Assign | ast.AugAssign | ast.AnnAssign | ast.Assert):
        return [st]
    return [] if hasattr(st, "body") else [st]


def _reads(nodes: list[ast.AST]) -> list[str]:
    """Names read as values in ``nodes`` (a called function's own name aside), in order, once."""
    called = {id(node.func) for root in nodes for node in ast.walk(root) if isinstance(node, ast.Call)}
    return list(dict.fromkeys(node.id for root in nodes for node in ast.walk(root)
                              if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and id(node) not in called))


def _operands(st: ast.stmt, text: str) -> list[str]:
    """The names the failing operation itself applies to, by the message's shape: the object of
    ``has no attribute 'm'`` (``p`` of ``p.m``), the container of ``not iterable`` (``x in p``,
    ``for _ in p``), the value of ``not subscriptable``, the argument of ``has no len()``."""
    nodes = _header(st)
    found: list[ast.AST] = []
    attribute = _ATTRIBUTE.search(text)
    for root in nodes:
        for node in ast.walk(root):
            if attribute and isinstance(node, ast.Attribute) and node.attr == attribute.group(1):
                found.append(node.value)
            elif "iterable" in text and isinstance(node, ast.Compare):
                found += [right for op, right in zip(node.ops, node.comparators) if isinstance(op, ast.In | ast.NotIn)]
            elif "subscriptable" in text and isinstance(node, ast.Subscript):
                found.append(node.value)
            elif "len()" in text and isinstance(node, ast.Call) and getattr(node.func, "id", "") == "len":
                found += node.args
    if "iterable" in text and isinstance(st, ast.For | ast.AsyncFor):
        found.append(st.iter)
    return _reads(found)


def _passed(st: ast.stmt, callee: FunctionNode, carried: list[str]) -> list[str]:
    """The names ``st`` passes as the ``carried`` parameters of ``callee`` (its calls of
    ``callee`` by name; any call of it when none is: a constructor, an alias)."""
    calls = [node for node in ast.walk(st) if isinstance(node, ast.Call)]
    named = [call for call in calls if _called_name(call) == callee.name]
    positional = [arg.arg for arg in callee.args.posonlyargs + callee.args.args]
    if positional[:1] in (["self"], ["cls"]):
        positional = positional[1:]
    out: list[ast.AST] = []
    for call in named or calls:
        keywords = {kw.arg: kw.value for kw in call.keywords if kw.arg}
        for name in carried:
            if name in keywords:
                out.append(keywords[name])
            elif name in positional and positional.index(name) < len(call.args) and not any(
                    isinstance(arg, ast.Starred) for arg in call.args[:positional.index(name) + 1]):
                out.append(call.args[positional.index(name)])
    return _reads(out)


def _called_name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _to_params(fn: FunctionNode, names: list[str], line: int) -> list[str]:
    """The parameters of ``fn`` among ``names``, a local assigned from parameters before
    ``line`` standing for them (one step back), in order, once."""
    args = fn.args
    params = [arg.arg for arg in args.posonlyargs + args.args + args.kwonlyargs if arg.arg not in ("self", "cls")]
    out: list[str] = []
    for name in names:
        if name in params:
            out.append(name)
            continue
        for node in ast.walk(fn):
            if isinstance(node, ast.Assign) and node.lineno < line and any(
                    isinstance(target, ast.Name) and target.id == name for target in node.targets):
                out += [read for read in _reads([node.value]) if read in params]
    return list(dict.fromkeys(out))


# -- which types ---------------------------------------------------------------------------------
def _bad_types(text: str) -> list[str]:
    """The builtin types (and ``NoneType``) the message names the bad value by, in order."""
    return list(dict.fromkeys(_TYPE_WORDS[word] for hit in _BAD.finditer(text)
                              for word in hit.groups() if word in _TYPE_WORDS))


def _wanted_types(text: str, chain: list[tuple[Parsed, FunctionNode, list[str]]]) -> list[str]:
    """The builtin types the value should have: those the message asks for (``must be str``,
    ``expected string or bytes-like object``, a method only one type has in ``has no
    attribute``), then those the chain's code asks for (methods of one type called on a
    carried parameter, the text argument of an ``re`` function, a parameter compared with a
    ``str``/``bytes`` literal or searched for one: ``p == "Z"``, ``"Z" in p``)."""
    got = [_TYPE_WORDS[word] for hit in _WANTED.finditer(text) for word in hit.groups() if word in _TYPE_WORDS]
    if attribute := _ATTRIBUTE.search(text):
        got.append(_owner(attribute.group(1)))
    for _, fn, params in chain:
        for node in ast.walk(fn):
            if isinstance(node, ast.Compare):
                got += _literal_kind(node, params)
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            if isinstance(node.func.value, ast.Name) and node.func.value.id in params:
                got.append(_owner(node.func.attr))
            elif node.func.attr in _RE_CALLS and getattr(node.func.value, "id", "") == "re" and any(
                    isinstance(arg, ast.Name) and arg.id in params for arg in node.args[1:]):
                got.append("str")
    return [name for name in dict.fromkeys(got) if name and name != "NoneType"]


def _literal_kind(node: ast.Compare, params: list[str]) -> list[str]:
    """``["str"]``/``["bytes"]`` when comparison ``node`` holds a parameter of ``params`` equal
    (``==``/``!=``) to a literal of that type, or a literal searched for in it (``in``/``not in``)."""
    out = []
    sides = [node.left, *node.comparators]
    for left, op, right in zip(sides, node.ops, sides[1:]):
        pairs = [(right, left)] if isinstance(op, (ast.In, ast.NotIn)) else \
            [(left, right), (right, left)] if isinstance(op, (ast.Eq, ast.NotEq)) else []
        out += [type(lit.value).__name__ for name, lit in pairs
                if isinstance(name, ast.Name) and name.id in params and isinstance(lit, ast.Constant)
                and isinstance(lit.value, (str, bytes))]
    return out


def _owner(method: str) -> str:
    """The builtin type a method name tells (``split`` -> ``str``, ``append`` -> ``list``,
    ``items`` -> ``dict``): the one type of :data:`_TYPES` that has it, or ``str`` when only
    ``str`` and ``bytes`` do; ``""`` when several others share it (``pop``, ``count``)."""
    owners = [name for name in _TYPES if hasattr(_BUILTIN[name], method) and name != "bool"]  # a bool is an int
    return owners[0] if owners == ["str", "bytes"] or len(owners) == 1 else ""


def _conditions(param: str, bad: list[str], wants: list[str]) -> list[tuple[str, str]]:
    """(condition, what the message says) for ``param``: ``is None`` for a ``NoneType``, ``not
    isinstance`` of the first type wanted, ``isinstance`` of a bad builtin type."""
    out: list[tuple[str, str]] = []
    if "NoneType" in bad:
        out.append((f"{param} is None", f"{param} must not be None"))
    if wants:
        out.append((f"not isinstance({param}, {wants[0]})", f"{param} must be {wants[0]}"))
    out += [(f"isinstance({param}, {kind})", f"{param} must not be {kind}") for kind in bad
            if kind != "NoneType" and kind not in wants[:1]]
    return out


# -- the edit ------------------------------------------------------------------------------------
def _message(patterns: list[str], plain: str) -> str:
    """The text the guard raises: one made from the test's pattern (anchors dropped, escapes
    undone) when it matches it, else ``plain``."""
    for pattern in patterns:
        text = re.sub(r"\\(.)", r"\1", pattern.removeprefix("^").removesuffix("$"))
        try:
            if re.search(pattern, text):
                return text
        except re.error:
            continue
    return plain


def _quoted(text: str) -> str:
    """``text`` as a Python string literal, in double quotes."""
    return '"' + text.encode("unicode_escape").decode("ascii").replace('"', '\\"') + '"'


def _guard(parsed: Parsed, fn: FunctionNode, test: str, exc: str, message: str) -> Mutant | None:
    """``if <test>: raise <exc>(<message>)`` inserted before the first statement of ``fn``
    after its docstring (and ``global``/``nonlocal`` declarations); None for a function with no such statement on a line of its own."""
    head = fn.body[0] if fn.body else None
    docstring = isinstance(head, ast.Expr) and isinstance(head.value, ast.Constant) and isinstance(head.value.value, str)
    body = fn.body[1:] if docstring else fn.body
    while body and isinstance(body[0], ast.Global | ast.Nonlocal):
        body = body[1:]  # a name must be declared before any use of it
    if not body or body[0].lineno == fn.lineno:
        return None
    first = min([body[0].lineno] + [deco.lineno for deco in getattr(body[0], "decorator_list", [])])
    index = parsed.index
    indent, outer = parsed.line_indent(first), parsed.line_indent(fn.lineno)
    step = indent[len(outer):] if indent.startswith(outer) and len(indent) > len(outer) else "    "
    if index.line_text(first)[:len(indent)] != indent or index.line_text(first).strip().startswith(("elif", "else")):
        return None
    nl = index.newline(first)
    text = f"{indent}if {test}:{nl}{indent}{step}raise {exc}({_quoted(message)}){nl}"
    at = index.line_starts[first - 1]
    return make_mutant("type_guard", parsed, [(at, at, text)], first,
                       f"insert `if {test}: raise {exc}(...)` at the entry of `{fn.name}`: the failing test expects {exc}")
