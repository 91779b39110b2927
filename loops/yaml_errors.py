"""Where a YAML document went wrong: a bounded safe loader, and pydantic errors mapped onto lines.

A hostile file fails fast (:class:`BoundedLoader`); a validation error of a model read from
YAML becomes ``FILE:LINE: field.path: what (what to do)`` (:func:`format_error`), with the
line found by walking the composed YAML nodes (:func:`locate`). Used by the loop declaration
loader (:mod:`loops.spec`), review-comment files and eval suite files.
"""

import types
from typing import Annotated, Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel

_HINTS = {
    "missing": "add it",
    "extra_forbidden": "remove it or fix its spelling",
    "string_type": "write a string; quote it in YAML",
    "string_pattern_mismatch": "match the pattern",
    "literal_error": "use one of the listed values",
    "union_tag_invalid": "use one of the listed types",
    "union_tag_not_found": "add 'type'",
    "model_type": "write a mapping of fields here",
    "dict_type": "write a mapping here",
    "list_type": "write a list here",
    "too_short": "add more",
    "too_long": "shorten it",
    "greater_than": "use a larger value",
    "greater_than_equal": "use a larger value",
    "less_than": "use a smaller value",
    "less_than_equal": "use a smaller value",
    "int_type": "write a whole number",
    "float_type": "write a number",
    "bool_type": "write true or false",
    "finite_number": "write a finite number, not .inf or .nan",
}
_FIELD_HINTS = {
    "loop_name": "kebab-case: lowercase letters, digits and '-', starting with a letter, 3-64 chars",
    "version": "semantic version such as 1.0.0, quoted if YAML would read it as a number",
    "id": "lowercase letters, digits, '_' and '-', starting with a letter",
}


class BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader with limits, so a hostile file fails fast with a clear error.

    Nesting deeper than :attr:`MAX_DEPTH` (PyYAML composes recursively: 50,000 levels
    end in RecursionError) and documents whose nodes, counting every alias expansion,
    exceed :attr:`MAX_NODES` (the "billion laughs" attack: nested aliases that expand
    exponentially) raise ``yaml.composer.ComposerError`` at the offending line.
    """

    MAX_DEPTH = 100
    MAX_NODES = 100_000

    def __init__(self, stream) -> None:
        super().__init__(stream)
        self._depth = 0
        self._total = 0  # nodes composed plus nodes that aliases stand for
        self._sizes: dict[str, int] = {}  # anchor -> nodes below it, expansions included

    def compose_node(self, parent, index):  # noqa: D102 - PyYAML's hook
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            self._grow(self._sizes.get(event.anchor, 1), event)
            return super().compose_node(parent, index)
        self._depth += 1
        if self._depth > self.MAX_DEPTH:
            raise yaml.composer.ComposerError(None, None, f"nested deeper than {self.MAX_DEPTH} levels; "
                                              "a loop declaration needs a few", event.start_mark)
        before = self._total
        self._grow(1, event)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if event.anchor is not None:
            self._sizes[event.anchor] = self._total - before
        return node

    def _grow(self, n: int, event) -> None:
        self._total += n
        if self._total > self.MAX_NODES:
            raise yaml.composer.ComposerError(None, None, f"more than {self.MAX_NODES} values once "
                                              "aliases (*name) are expanded; write the values out",
                                              event.start_mark)




def duplicate_keys(file: str, node: yaml.Node, loc: tuple) -> list[str]:
    """``FILE:LINE: path: duplicate key (...)`` for every key written twice in a mapping below ``node``."""
    out: list[str] = []
    if isinstance(node, yaml.MappingNode):
        seen: set = set()
        for key, value in node.value:
            if key.value in seen:
                out.append(f"{file}:{key.start_mark.line + 1}: {dotted(loc + (key.value,))}: "
                           "duplicate key (YAML keeps only the last; keep one)")
            seen.add(key.value)
            out += duplicate_keys(file, value, loc + (key.value,))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out += duplicate_keys(file, item, loc + (i,))
    return out


def locate(root: yaml.Node, loc: tuple) -> tuple[int, tuple]:
    """Line (1-based) and YAML path for a pydantic loc; a missing key stays on its parent."""
    node, line, path = root, root.start_mark.line + 1, ()
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            hit = [(k, v) for k, v in node.value if k.value == part]
            if hit:
                path, line, node = path + (part,), hit[-1][0].start_mark.line + 1, hit[-1][1]
                continue
            if part in [v.value for k, v in node.value if k.value == "type"]:
                continue  # a discriminated union's tag (evaluator type)
            return line, path + (part,)
        if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            path, node = path + (part,), node.value[part]
            line = node.start_mark.line + 1
            continue
        break  # a scalar: what is left are union member names
    return line, path


def dotted(path: tuple) -> str:
    """``a.b.0.c`` for a YAML path; ``(document)`` for the root."""
    return ".".join(map(str, path)) or "(document)"


def located(file: str, root: yaml.Node, loc: tuple, msg: str) -> str:
    """``FILE:LINE: path: msg`` for a pydantic ``loc`` below the YAML node ``root``."""
    line, path = locate(root, loc)
    return f"{file}:{line}: {dotted(path)}: {msg}"


def format_error(file: str, root: yaml.Node, err: dict, model: type[BaseModel]) -> str:
    """One pydantic error (an item of ``ValidationError.errors()``) of ``model`` read from the
    YAML node ``root``, as ``FILE:LINE: field.path: what (what to do)``."""
    kind, loc, msg = err["type"], tuple(err["loc"]), err["msg"].removeprefix("Value error, ")
    if kind.startswith("union_tag"):
        loc += ("type",)
    line, path = locate(root, loc)
    field = next((p for p in reversed(path) if isinstance(p, str)), "")
    value = err.get("input")
    if kind == "extra_forbidden":
        allowed = _allowed_keys(model, loc[:-1])
        msg, hint = f"unknown field '{loc[-1]}'", f"allowed: {', '.join(allowed)}"
    elif kind == "missing":
        hint = f"add '{loc[-1]}:' here"
    elif kind == "value_error" and msg.endswith(")"):
        hint = ""  # our own validators say what to do
    else:
        hint = (_FIELD_HINTS.get(field) if kind.startswith("string_") else None) or \
            _HINTS.get(kind, "see the LSS 1.0 schema for this field")
        if isinstance(value, (str, int, float, bool)):
            hint = f"got {value!r}; {hint}"
    return f"{file}:{line}: {dotted(path)}: {msg}" + (f" ({hint})" if hint else "")


def _allowed_keys(model: type[BaseModel], loc: tuple) -> list[str]:
    """Field names (as written in YAML) of the model found at ``loc`` below ``model``."""
    tp: Any = model
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            fields = {f.alias or n: f.annotation for n, f in tp.model_fields.items()}
            if part not in fields:
                return []
            tp = fields[part]
        elif get_origin(tp) is list and isinstance(part, int):
            tp = get_args(tp)[0]
        elif get_origin(tp) is dict:
            tp = get_args(tp)[1]
        elif get_origin(tp) in (Union, types.UnionType):
            tags = {get_args(m.model_fields["type"].annotation)[0]: m for m in get_args(tp)}
            tp = tags.get(part)
        else:
            return []
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [f.alias or n for n, f in tp.model_fields.items()]
    return []


def _unwrap(tp: Any) -> Any:
    while True:
        if get_origin(tp) is Annotated:
            tp = get_args(tp)[0]
        elif get_origin(tp) in (Union, types.UnionType) and type(None) in get_args(tp):
            rest = [a for a in get_args(tp) if a is not type(None)]
            if len(rest) != 1:
                return tp
            tp = rest[0]
        else:
            return tp
