"""The failing test's own template (a string's, a dict display's) as the donor of the code's
(issue 21): ``template_from_test``.

A test often builds the value it expects with the template the code should use::

    # the test                                       # the code (the bug)
    log.assert_called_once_with(                     sec = sec_format % get_name(state.fn)
        level,                                       logger.log(level,
        f"Finished '{get_name(state.fn)}' "              f"Finished '{sec}' "
        f"after {sec_format % state.seconds}(s)")        f"after {state.seconds}(s)")

Both templates (f-strings, ``"...".format(...)`` calls or ``"..." % ...``, in any pairing, or
two dict displays with the same string keys: :mod:`.string_templates`) have the same literal
text around their fields, and the fields differ. The test's names for the function's parameters are read off its calls of the
function (``repr(p)`` makes ``p`` the ``self`` of ``__repr__``: :func:`call_names`) and
renamed. When every name a test field then reads is bound where the code's template is (a
parameter or local of an enclosing function, a name of the module, a builtin), none is the
test method's own ``self``, and both fields format alike (``{x!r}`` and ``%r``), the test's
fields are written into the code's template: first all of them at once, then each alone (the
test may also differ where the code is right); a local the code's field was the only reader
of is deleted with it. The failing test is the only oracle of the fix, and here it spells
the fix out; a copy that only fools the test is judged like every other candidate: the full
suite and :mod:`harness.core.overfit`.

Pure: files are read through :class:`.message_evidence.Files`; no test is run here.
"""

from __future__ import annotations

import ast
import builtins
import copy
import difflib
import re
from dataclasses import dataclass

from harness.generators.edit_text import module_names, param_names
from harness.generators.index import FUNCTION_TYPES, FunctionNode
from harness.generators.literal_hints import function_of_test
from harness.generators.message_evidence import Evidence, Files, Parsed, make_mutant
from harness.generators.mutant import Mutant
from harness.generators.string_templates import Template, templates_in

#: the literal text (characters) a template needs around its fields to be matched at all.
MIN_TEXT = 6
#: how alike two templates' literal text must be (difflib's ratio, 0-1).
MIN_RATIO = 0.8
#: field groups tried per (test template, code template) pair: all fields, then each alone.
MAX_PER_PAIR = 3
_BUILTINS = frozenset(dir(builtins))
#: a string literal's prefix and opening quote.
_OPENING = re.compile(r"[A-Za-z]*(['\"])")

Scored = tuple[float, Mutant]


#: a template and the file it is in.
Placed = tuple[Template, Parsed]
#: builtins whose call ``f(x)`` runs the method of ``x`` named by the key.
DUNDER_CALLS = {"__repr__": "repr", "__str__": "str", "__len__": "len", "__format__": "format", "__bytes__": "bytes"}


@dataclass(frozen=True)
class ExpectedTemplate:
    """A failing test's template: ``placed`` (the template and the test file), ``fn`` the test
    function, ``self_name`` its ``self`` ('' for a plain function)."""

    placed: Placed
    fn: FunctionNode
    self_name: str


def template_edits(files: Files, found: list[Evidence], spots: dict[str, dict[int, float]]) -> list[Scored]:
    """Candidates that write a failing test's template fields into the same template in the
    functions holding ``spots`` (path -> {line: suspiciousness}); score: how alike the two
    templates' literal text is (in (0, 1]), times 0.8 for a single field of several."""
    tests = _test_templates(files, found)
    if not tests:
        return []
    out: list[Scored] = []
    for path, lines in spots.items():
        parsed = files.parsed(path)
        if parsed is None or not files.editable(path):
            continue
        names: dict[tuple[int, int], dict[str, str]] = {}  # (test function, code function) -> call_names
        for code in _code_templates(parsed, set(lines)):
            code_fn, bound = parsed.function_at(code.node.lineno), _bound_at(parsed, code.node)
            for test in tests:
                if code_fn is not None and (id(test.fn), id(code_fn)) not in names:
                    names[id(test.fn), id(code_fn)] = call_names(test.fn, code_fn)
                out += _pair((code, parsed), test, names.get((id(test.fn), id(code_fn)), {}), bound)
    return out


def _test_templates(files: Files, found: list[Evidence]) -> list[ExpectedTemplate]:
    """The templates of each failing test function, each test function once."""
    out: list[ExpectedTemplate] = []
    seen: set[tuple[str, int]] = set()
    for item in found:
        parsed = files.parsed(item.test_path)
        fn = function_of_test(parsed.tree, item.test_id.split("::")[1:]) if parsed is not None else None
        if fn is None or parsed is None or (item.test_path, fn.lineno) in seen:
            continue
        seen.add((item.test_path, fn.lineno))
        self_name = fn.args.args[0].arg if "::" in item.test_id.split("::", 1)[1] and fn.args.args else ""
        out += [ExpectedTemplate((t, parsed), fn, self_name) for t in _matchable(fn)]
    return out


def _code_templates(parsed: Parsed, lines: set[int]) -> list[Template]:
    """The templates of the functions holding ``lines``."""
    functions = {id(fn): fn for fn in (parsed.function_at(line) for line in lines) if fn is not None}
    return [t for fn in functions.values() for t in _matchable(fn)]


def _matchable(root: ast.AST) -> list[Template]:
    """The templates under ``root`` with at least :data:`MIN_TEXT` characters of literal text."""
    return [t for t in templates_in(root) if sum(map(len, t.text)) >= MIN_TEXT]


def call_names(test_fn: FunctionNode, code_fn: FunctionNode) -> dict[str, str]:
    """The test's names for ``code_fn``'s parameters, read off the test's calls of it:
    ``p.area(r)`` or ``repr(p)`` (``__repr__``, :data:`DUNDER_CALLS`) maps ``p`` to the
    method's ``self`` and ``r`` to its next parameter; ``notice(job=backup)`` maps ``backup`` to
    ``job``. Only plain names are mapped, each to the first parameter it is passed as."""
    params = [a.arg for a in (*code_fn.args.posonlyargs, *code_fn.args.args)]
    method = params[:1] in (["self"], ["cls"])
    out: dict[str, str] = {}
    for call in ast.walk(test_fn):
        if not isinstance(call, ast.Call):
            continue
        func, args = call.func, list(call.args)
        if method and isinstance(func, ast.Attribute) and func.attr == code_fn.name:
            pairs = list(zip([func.value, *args], params))
        elif method and isinstance(func, ast.Name) and func.id == DUNDER_CALLS.get(code_fn.name) and len(args) == 1:
            pairs = [(args[0], params[0])]
        elif not method and isinstance(func, ast.Name) and func.id == code_fn.name:
            pairs = list(zip(args, params))
        else:
            continue
        pairs += [(k.value, k.arg) for k in call.keywords if k.arg in params]
        for node, param in pairs:
            if isinstance(node, ast.Name) and node.id != param:
                out.setdefault(node.id, param)
    return out


def _renamed(expr: ast.expr, names: dict[str, str]) -> ast.expr:
    """``expr`` with the names of ``names`` renamed (a copy; ``expr`` itself when none is read)."""
    if not any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(expr)):
        return expr
    renamed = copy.deepcopy(expr)
    for node in ast.walk(renamed):
        if isinstance(node, ast.Name) and node.id in names:
            node.id = names[node.id]
    return renamed


def _pair(placed: Placed, test: ExpectedTemplate, names: dict[str, str], bound: set[str]) -> list[Scored]:
    """The candidates of one (code, test) pair of templates with as many fields and alike
    text; the test's names for the code's parameters (:func:`call_names`) renamed; ``bound``:
    the names bound where the code's template is (:func:`_bound_at`)."""
    (code, parsed), (theirs_template, test_parsed) = placed, test.placed
    if len(code.fields) != len(theirs_template.fields):
        return []
    ratio = difflib.SequenceMatcher(None, code.literal, theirs_template.literal, autojunk=False).ratio()
    if ratio < MIN_RATIO:
        return []
    opening = _OPENING.match(parsed.text, parsed.index.span(code.node)[0])
    quote = opening.group(1) if opening else '"'
    theirs_exprs = [_renamed(f.expr, names) for f in theirs_template.fields]
    edits: list[tuple[int, int, str, int]] = []  # (start, end, new text, field position)
    for at, (mine, theirs, expr) in enumerate(zip(code.fields, theirs_template.fields, theirs_exprs)):
        if ast.dump(mine.expr) == ast.dump(expr) or mine.form != theirs.form \
                or not _resolves(expr, bound, test.self_name):
            continue
        span = _source(parsed, mine.expr)
        text = _source(test_parsed, theirs.expr) if expr is theirs.expr else (0, 0, ast.unparse(expr))
        if span is None or text is None:
            continue
        written = mine.written(text[2], expr)
        if mine.where == "inside" and quote in written:
            written = ast.unparse(expr)  # '...' strings
        if mine.where != "inside" or (quote not in written and "\\" not in written):
            edits.append((span[0], span[1], written, at))
    groups = [edits] + ([[edit] for edit in edits] if len(edits) > 1 else [])
    out: list[Scored] = []
    for group in groups[:MAX_PER_PAIR]:
        fields = ", ".join(f"{{{text}}}" for _, _, text, _ in group)
        what = f"the template's field(s) as the failing test builds them: {fields}"
        dead = _dead_assignments(parsed, code, [code.fields[at].expr for *_, at in group])
        for extra, weight in ([(dead, 1.0)] if dead else []) + [([], 0.9 if dead else 1.0)]:
            mutant = make_mutant("template_from_test", parsed, [edit[:3] for edit in group] + extra,
                                 code.node.lineno, what + (", the assignment it no longer reads deleted" if extra else ""))
            if mutant is not None and _writes(mutant, parsed, code, theirs_exprs, {at for *_, at in group}):
                out.append((ratio * weight * (1.0 if group is edits else 0.8), mutant))
    return out


def _dead_assignments(parsed: Parsed, code: Template, replaced: list[ast.expr]) -> list[tuple[int, int, str]]:
    """Edits deleting ``x = ...`` for each replaced field that was a plain name ``x`` read
    nowhere else in its function and assigned there once, by a statement alone on its lines
    in a block it does not empty: the value the test builds in the field replaces it."""
    fn = parsed.function_at(code.node.lineno)
    if fn is None:
        return []
    out = []
    for field in replaced:
        if not isinstance(field, ast.Name):
            continue
        uses = [n for n in ast.walk(fn) if isinstance(n, ast.Name) and n.id == field.id]
        stores = [st for st in ast.walk(fn) if isinstance(st, ast.Assign) and len(st.targets) == 1
                  and isinstance(st.targets[0], ast.Name) and st.targets[0].id == field.id]
        if len(uses) != 2 or len(stores) != 1 or not _alone(parsed, fn, stores[0]):
            continue
        st = stores[0]
        out.append((parsed.index.off(st.lineno, 0), parsed.index.line_end(st.end_lineno or st.lineno), ""))
    return out


def _alone(parsed: Parsed, fn: FunctionNode, st: ast.stmt) -> bool:
    """Is ``st`` alone on its lines, in a block of ``fn`` that keeps another statement?"""
    block = next((body for node in ast.walk(fn) for name in ("body", "orelse", "finalbody")
                  if st in (body := getattr(node, name, None) or [])), None)
    lines = range(st.lineno, (st.end_lineno or st.lineno) + 1)
    text = "\n".join(parsed.index.line_text(n) for n in lines).strip()
    return block is not None and len(block) > 1 and text == parsed.index.seg(st)


def _source(parsed: Parsed, node: ast.expr) -> tuple[int, int, str] | None:
    """``(start, end, text)`` of a field's expression in its file, or None when the positions
    the parser gave do not hold that expression (older Pythons' f-string positions)."""
    start, end = parsed.index.span(node)
    text = parsed.text[start:end]
    try:
        same = ast.dump(ast.parse(text.strip(), mode="eval").body) == ast.dump(node)
    except (SyntaxError, ValueError):
        return None
    return (start, end, text) if same and "\n" not in text else None


def _writes(mutant: Mutant, parsed: Parsed, code: Template, theirs: list[ast.expr], at: set[int]) -> bool:
    """Does the new text hold the template meant (the code's literal text with the test's
    field expressions ``theirs`` at positions ``at``) once more than the old text did? A quote of a field that
    closed the string early, or an escape, would not."""
    try:
        tree = ast.parse(mutant.new_source)
    except (SyntaxError, ValueError):
        return False
    want = [ast.dump(theirs[i] if i in at else field.expr) for i, field in enumerate(code.fields)]

    def holding(root: ast.AST) -> int:
        return sum(t.literal == code.literal and t.dumps() == want for t in templates_in(root))
    return holding(tree) > holding(parsed.tree)


def _bound_at(parsed: Parsed, node: ast.AST) -> set[str]:
    """Names bound where ``node`` is: the module's names, the builtins, and the parameters and
    locals (assigned, imported, defined) of every function around it."""
    names = set(module_names(parsed.tree)) | _BUILTINS
    line = getattr(node, "lineno", 0)
    for fn in parsed.functions():
        if fn.lineno <= line <= (fn.end_lineno or fn.lineno):
            names |= _locals(fn)
    return names


def _locals(fn: FunctionNode) -> set[str]:
    """A function's parameters and the names its body binds."""
    names = set(param_names(fn.args))
    for node in ast.walk(fn):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, FUNCTION_TYPES) and node is not fn:
            names.add(node.name)
    return names


def _resolves(expr: ast.expr, bound: set[str], self_name: str) -> bool:
    """Is every name ``expr`` reads (its own comprehension and lambda variables aside) in
    ``bound``, and none the test's ``self``?"""
    own = {n.id for n in ast.walk(expr) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    own |= {a.arg for n in ast.walk(expr) if isinstance(n, ast.Lambda) for a in n.args.args}
    read = {n.id for n in ast.walk(expr) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)} - own
    return bool(read) and self_name not in read and read <= bound
