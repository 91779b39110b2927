"""Templates read from the AST: an f-string, a ``"...".format(...)`` call, a ``"..." % ...``, and
a dict display with string keys.

Each is a :class:`Template`: the literal text between its fields and its fields, whatever the
spelling, so that ``f"took {t:.1f}s"``, ``"took {:.1f}s".format(t)`` and ``"took %.1fs" % t``
read alike, and ``{"name": u.name, "age": u.age}`` is the template ``name:{} age:{}``
(:mod:`.message_template` matches a failing test's templates with the code's).
Pure: reads nodes only.
"""

from __future__ import annotations

import ast
import re
import string
from dataclasses import dataclass

#: a ``%`` directive: ``%%``, or flags, width, precision and type (``%(key)s`` and ``*`` widths
#: are not read: such a template is not a :class:`Template`).
_DIRECTIVE = re.compile(r"%(?:%|(?P<spec>[-#0 +]*\d*(?:\.\d+)?)(?P<type>[sdiufrxXoeEgGca]))")
_ATOMS = (ast.Name, ast.Attribute, ast.Call, ast.Subscript, ast.Constant, ast.List, ast.Dict, ast.Set,
          ast.ListComp, ast.DictComp, ast.SetComp)


@dataclass(frozen=True)
class Field:
    """One field of a template.

    Attributes:
        expr: the expression formatted there.
        form: ``(conversion, format spec)`` as an f-string would write it: ``("r", "")`` for
            ``{x!r}``/``%r``, ``("", ".1f")`` for ``{x:.1f}``/``%.1f``, ``("", "")`` for
            ``{x}``/``%s``.
        where: ``"inside"`` (an f-string's field: written inside the string literal),
            ``"argument"`` (a ``.format`` argument or an element of a ``%`` tuple) or
            ``"operand"`` (the single right operand of ``%``: parenthesized when not an atom).
    """

    expr: ast.expr
    form: tuple[str, str]
    where: str

    def written(self, text: str, expr: ast.expr) -> str:
        """``text`` (the source of ``expr``) as it may stand in this field's place."""
        return f"({text})" if self.where == "operand" and not isinstance(expr, _ATOMS) else text


@dataclass(frozen=True)
class Template:
    """A template (a string's, or a dict display's): ``text``, the literal pieces (one more than there are fields, ``""``
    where fields touch); ``fields`` (:class:`Field`), in order; ``node``, the expression."""

    text: tuple[str, ...]
    fields: tuple[Field, ...]
    node: ast.expr

    @property
    def literal(self) -> str:
        """The literal text, pieces joined by a NUL (a field's place)."""
        return "\0".join(self.text)

    def dumps(self) -> list[str]:
        """``ast.dump`` of each field's expression (positions left out)."""
        return [ast.dump(field.expr) for field in self.fields]


def templates_in(root: ast.AST) -> list[Template]:
    """Every template under ``root`` (itself included), in walk order."""
    return [t for node in ast.walk(root) if (t := template_of(node)) is not None]


def template_of(node: ast.AST) -> Template | None:
    """``node`` as a :class:`Template`, or None when it is none of the four kinds, has no
    field, or uses what is not read here (``{0.attr}``, ``%(key)s``, ``*args``)."""
    if isinstance(node, ast.JoinedStr):
        return _fstring(node)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format" \
            and isinstance(node.func.value, ast.Constant) and isinstance(node.func.value.value, str):
        return _format_call(node, node.func.value.value)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod) and isinstance(node.left, ast.Constant) \
            and isinstance(node.left.value, str):
        return _percent(node, node.left.value)
    if isinstance(node, ast.Dict) and node.keys and all(
            isinstance(k, ast.Constant) and isinstance(k.value, str) for k in node.keys):
        return _dict_display(node)
    return None


def _dict_display(node: ast.Dict) -> Template | None:
    """A dict display with string keys read as a template: its keys, sorted, are the literal
    text (``"name:"`` before the field of key ``"name"``), its values the fields; the order the
    keys are written in does not matter."""
    items = sorted(zip((k.value for k in node.keys), node.values), key=lambda kv: kv[0])  # type: ignore[union-attr]
    if len({key for key, _ in items}) != len(items):
        return None
    return Template(tuple(f"{key}:" for key, _ in items) + ("",),
                    tuple(Field(value, ("", ""), "argument") for _, value in items), node)


def _fstring(node: ast.JoinedStr) -> Template | None:
    text, fields, piece = [], [], ""
    for part in node.values:
        if isinstance(part, ast.FormattedValue):
            spec = part.format_spec
            if spec is not None and not all(isinstance(v, ast.Constant) for v in spec.values):  # type: ignore[attr-defined]
                return None
            spec_text = "".join(str(v.value) for v in spec.values) if spec is not None else ""  # type: ignore[attr-defined]
            text.append(piece)
            fields.append(Field(part.value, (chr(part.conversion) if part.conversion > 0 else "", spec_text), "inside"))
            piece = ""
        elif isinstance(part, ast.Constant):
            piece += str(part.value)
    text.append(piece)
    return Template(tuple(text), tuple(fields), node) if fields else None


def _format_call(node: ast.Call, template: str) -> Template | None:
    if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
        return None
    keywords = {k.arg: k.value for k in node.keywords}
    text, fields, auto = [], [], 0
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError:
        return None
    piece = ""
    for literal, name, spec, conversion in parsed:
        piece += literal
        if name is None:
            continue
        if name == "":
            index, auto = auto, auto + 1
            expr = node.args[index] if index < len(node.args) else None
        elif name.isdigit():
            expr = node.args[int(name)] if int(name) < len(node.args) else None
        else:
            expr = keywords.get(name)
        if expr is None or "{" in (spec or ""):
            return None
        text.append(piece)
        fields.append(Field(expr, (conversion or "", spec or ""), "argument"))
        piece = ""
    text.append(piece)
    return Template(tuple(text), tuple(fields), node) if fields else None


def _percent(node: ast.BinOp, template: str) -> Template | None:
    right = node.right
    single = not isinstance(right, ast.Tuple)
    values = [right] if single else list(right.elts)  # type: ignore[attr-defined]
    if isinstance(right, ast.Dict) or any(isinstance(v, ast.Starred) for v in values):
        return None
    text, forms, position, piece = [], [], 0, ""
    for match in _DIRECTIVE.finditer(template):
        between = template[position:match.start()]
        if "%" in between:  # a directive not read here (``%(key)s``, ``%*d``)
            return None
        piece += between
        position = match.end()
        if match.group(0) == "%%":
            piece += "%"
            continue
        kind, spec = match.group("type"), match.group("spec")
        text.append(piece)
        piece = ""
        if kind in "rsa":
            forms.append(("" if kind == "s" else kind, spec))
        else:
            forms.append(("", spec + ("d" if kind in "iu" else kind)))
    rest = template[position:]
    if "%" in rest or len(forms) != len(values) or not forms:
        return None
    text.append(piece + rest)
    where = "operand" if single else "argument"
    return Template(tuple(text), tuple(Field(v, f, where) for v, f in zip(values, forms)), node)
