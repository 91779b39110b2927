"""LSS 1.0 loop declarations: the top-level model, a loader with line-numbered errors, built-ins.

A loop declaration is a YAML document in the Loop Specification Standard 1.0
(LSS 1.0): thirteen required top-level fields (``loop_name`` … ``cost_limits``),
optional ``extensions`` and any ``x_*`` or other top-level keys. :class:`LoopSpec`
composes the component models of :mod:`loops.lss` (which mirror the canonical
LSS 1.0 JSON Schema: strict objects reject unknown keys, enums, patterns and
minimums are enforced) and adds the reference checks the LSS narrative
recommends (ids referenced by ``runs_after``, feedback channels, metrics and
termination conditions exist; ``depends_on`` is acyclic).

loopwright's own settings live in ``extensions.loopwright`` (see
:class:`loops.lss.LoopwrightExtension`).
"""

import dataclasses
import types
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from loops.lss import (
    CostLimits,
    Evaluator,
    Extensions,
    FeedbackChannel,
    Inputs,
    LoopName,
    LoopwrightExtension,
    Memory,
    Metric,
    OptimizationStrategy,
    SafetyConstraint,
    SemVer,
    TerminationConditions,
    Worker,
)


class SpecError(ValueError):
    """An invalid or unreadable loop declaration.

    ``errors`` lists every problem found, each as
    ``"FILE:LINE: field.path: what is wrong (what to do)"``; ``str(err)`` joins them
    with newlines.
    """

    def __init__(self, errors: list[str]):
        self.errors = list(errors)
        super().__init__("\n".join(self.errors))


@dataclass(frozen=True)
class Limits:
    """The run budgets a loop declares (``None`` = no limit from the declaration).

    ``max_wall_seconds`` is in seconds, ``max_cost_usd`` in USD; ``no_progress`` is the
    number of iterations without fewer failures before stalling; ``evaluator_error``
    the number of consecutive evaluator errors tolerated.
    """

    max_iterations: int | None
    max_wall_seconds: float | None
    no_progress: int | None
    max_cost_usd: float | None
    max_tokens: int | None
    evaluator_error: int | None

    def override(self, **kwargs: Any) -> "Limits":
        """Return a copy where each non-``None`` keyword replaces its field (CLI flags).

        Raises TypeError for a keyword that is not a field.
        """
        return dataclasses.replace(self, **{k: v for k, v in kwargs.items() if v is not None})


class LoopSpec(BaseModel):
    """A validated LSS 1.0 loop declaration.

    Unknown top-level keys (``x_*`` or others) are kept in ``model_extra``.
    ``source`` is the file it was loaded from (not part of the LSS document).
    Constructing one directly runs the reference checks too (raising pydantic's
    ValidationError); :func:`load_spec` reports everything with file and line.
    """

    model_config = ConfigDict(extra="allow", strict=True, populate_by_name=True)
    loop_name: LoopName
    version: SemVer
    objective: Annotated[str, StringConstraints(min_length=10)]
    inputs: Inputs
    memory: Memory
    workers: Annotated[list[Worker], Field(min_length=1)]
    evaluators: Annotated[list[Evaluator], Field(min_length=1)]
    feedback_channels: Annotated[list[FeedbackChannel], Field(min_length=1)]
    optimization_strategy: OptimizationStrategy
    termination_conditions: TerminationConditions
    metrics: Annotated[list[Metric], Field(min_length=1)]
    safety_constraints: list[SafetyConstraint]
    cost_limits: CostLimits
    extensions: Extensions = Extensions()
    _source: Path | None = PrivateAttr(None)

    @property
    def source(self) -> Path | None:
        """The file this declaration was loaded from, or ``None``."""
        return self._source

    @model_validator(mode="after")
    def _references(self, info: ValidationInfo):
        if (info.context or {}).get("references", True):
            problems = _reference_problems(self)
            if problems:
                raise ValueError("; ".join(f"{'.'.join(map(str, p))}: {m}" for p, m in problems))
        return self

    def limits(self) -> Limits:
        """The declared budgets; several failure rules of one type: the smallest wins."""
        def least(kind: str, attr: str) -> float | None:
            got = [getattr(c, attr) for c in self.termination_conditions.failure if c.type == kind]
            got = [g for g in got if g is not None]
            return min(got) if got else None

        iterations, errors = least("max_iterations", "value"), least("evaluator_error", "consecutive")
        wall, stall = least("timeout", "value"), self.termination_conditions.stall
        return Limits(
            max_iterations=None if iterations is None else int(iterations),
            max_wall_seconds=None if wall is None else float(wall),
            no_progress=stall[0].window_iterations if stall else None,
            max_cost_usd=float(self.cost_limits.cumulative_usd),
            max_tokens=self.cost_limits.token_soft_cap,
            evaluator_error=None if errors is None else int(errors))

    @property
    def generator(self) -> str:
        """The first worker's model as a generator name: ``templates`` or ``provider:name``."""
        model = self.workers[0].model
        if (model.provider, model.name) == ("loopwright", "templates"):
            return "templates"
        return f"{model.provider}:{model.name}"

    @property
    def loopwright(self) -> dict:
        """``extensions.loopwright`` with defaults filled in (see :class:`LoopwrightExtension`)."""
        return (self.extensions.loopwright or LoopwrightExtension()).model_dump()

    def evaluator_ids(self) -> list[str]:
        """Ids of the deterministic evaluators, in declaration order (e.g. ``["tests"]``)."""
        return [e.id for e in self.evaluators if e.type == "deterministic"]

    def to_document(self) -> dict:
        """The LSS 1.0 document as plain JSON-able data (keys as written, defaults omitted)."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


def _reference_problems(spec: LoopSpec) -> list[tuple[tuple, str]]:
    """Reference integrity (LSS 1.0 narrative): (location, message) per dangling id or cycle."""
    out: list[tuple[tuple, str]] = []
    ids = {"workers": [w.id for w in spec.workers], "evaluators": [e.id for e in spec.evaluators]}
    metrics = [m.name for m in spec.metrics]

    def need(loc: tuple, ref: str, kind: str, pool: list[str], star: bool = False) -> None:
        if not (star and ref == "*") and ref not in pool:
            out.append((loc, f"{kind} '{ref}' does not exist (declared: {', '.join(pool)})"))

    def dotted(loc: tuple, ref: str) -> None:
        room, _, name = ref.partition(".")
        if room in ids:
            need(loc, name, room[:-1], ids[room])

    for key, names in (("workers", ids["workers"]), ("evaluators", ids["evaluators"]),
                       ("feedback_channels", [f.id for f in spec.feedback_channels]),
                       ("metrics", metrics),
                       ("safety_constraints", [s.id for s in spec.safety_constraints])):
        for i, name in enumerate(names):
            if name in names[:i]:
                out.append(((key, i), f"duplicate '{name}' (give each entry its own id/name)"))
    for i, w in enumerate(spec.workers):
        for j, dep in enumerate(w.depends_on):
            need(("workers", i, "depends_on", j), dep, "worker", ids["workers"])
        for j, ref in enumerate(w.inputs):
            dotted(("workers", i, "inputs", j, "from"), ref.from_)
    for i, e in enumerate(spec.evaluators):
        for j, ref in enumerate(e.runs_after):
            need(("evaluators", i, "runs_after", j), ref, "worker", ids["workers"], star=True)
    for i, ch in enumerate(spec.feedback_channels):
        dotted(("feedback_channels", i, "source"), ch.source)
        dotted(("feedback_channels", i, "destination"), ch.destination)
    for i, m in enumerate(spec.metrics):
        dotted(("metrics", i, "source"), m.source)
    for kind in ("success", "stall"):
        for i, cond in enumerate(getattr(spec.termination_conditions, kind)):
            need(("termination_conditions", kind, i, "metric"), cond.metric, "metric", metrics)
    for i, s in enumerate(spec.safety_constraints):
        for j, ref in enumerate(s.applies_to or []):
            need(("safety_constraints", i, "applies_to", j), ref, "worker", ids["workers"], True)
    lw = spec.extensions.loopwright
    for name in (lw.evaluators if lw else {}):
        need(("extensions", "loopwright", "evaluators", name), name, "evaluator", ids["evaluators"])
    deps = {w.id: w.depends_on for w in spec.workers}
    for i, w in enumerate(spec.workers):
        seen, todo = set(), list(w.depends_on)
        while todo:
            dep = todo.pop()
            if dep == w.id:
                msg = f"worker '{w.id}' depends on itself through depends_on (remove the cycle)"
                out.append((("workers", i, "depends_on"), msg))
                break
            if dep not in seen:
                seen.add(dep)
                todo.extend(deps.get(dep, []))
    return out


# --- loading: YAML nodes keep line numbers; pydantic error locs are mapped onto them ---

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


def load_spec(path: "str | Path") -> LoopSpec:
    """Load and validate an LSS 1.0 YAML declaration.

    Raises SpecError listing every problem as ``FILE:LINE: field.path: what (what to do)``:
    unreadable file, YAML syntax errors, duplicate keys, schema violations and
    dangling references.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError([f"{path}:1: (file): cannot read it: {exc} (check the path)"]) from None
    loader = None
    try:
        loader = BoundedLoader(text)  # the reader rejects control characters right away
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.context_mark:
            what = f"{exc.context} (from line {exc.context_mark.line + 1}): {what}"
        line = mark.line + 1 if mark else 1
        raise SpecError([f"{path}:{line}: (yaml): {what} (fix the YAML syntax)"]) from None
    except yaml.YAMLError as exc:
        raise SpecError([f"{path}:1: (yaml): {exc} (fix the YAML syntax)"]) from None
    finally:
        if loader is not None:
            loader.dispose()
    if not isinstance(node, yaml.MappingNode) or not isinstance(data, dict):
        kind = "an empty document" if data is None else type(data).__name__
        msg = f"expected a mapping of LSS 1.0 fields, got {kind}"
        raise SpecError([f"{path}:1: (document): {msg} (start with 'loop_name:', 'version:', ...)"])
    errors = _duplicate_keys(str(path), node, ())
    spec = None
    try:
        spec = LoopSpec.model_validate(data, context={"references": False})
    except ValidationError as exc:
        errors += [_format(str(path), node, e) for e in exc.errors()]
    if spec is not None:
        errors += [_message(str(path), node, loc, msg) for loc, msg in _reference_problems(spec)]
    if errors:
        raise SpecError(errors)
    spec._source = path
    return spec


def builtin_names() -> list[str]:
    """Names of the loops shipped in this package (``loops/*.yaml``), sorted."""
    return sorted(r.name[:-5] for r in resources.files(__package__).iterdir()
                  if r.name.endswith(".yaml"))


def builtin_spec(name: str) -> LoopSpec:
    """Load the built-in loop ``name`` (e.g. ``fix-failing-tests``); SpecError if unknown/invalid."""
    if name not in builtin_names():
        available = ", ".join(builtin_names())
        raise SpecError([f"{name}: no built-in loop by this name (available: {available})"])
    with resources.as_file(resources.files(__package__) / f"{name}.yaml") as path:
        return load_spec(path)


def _duplicate_keys(file: str, node: yaml.Node, loc: tuple) -> list[str]:
    out: list[str] = []
    if isinstance(node, yaml.MappingNode):
        seen: set = set()
        for key, value in node.value:
            if key.value in seen:
                out.append(f"{file}:{key.start_mark.line + 1}: {_dotted(loc + (key.value,))}: "
                           "duplicate key (YAML keeps only the last; keep one)")
            seen.add(key.value)
            out += _duplicate_keys(file, value, loc + (key.value,))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out += _duplicate_keys(file, item, loc + (i,))
    return out


def _locate(root: yaml.Node, loc: tuple) -> tuple[int, tuple]:
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


def _dotted(path: tuple) -> str:
    return ".".join(map(str, path)) or "(document)"


def _message(file: str, root: yaml.Node, loc: tuple, msg: str) -> str:
    line, path = _locate(root, loc)
    return f"{file}:{line}: {_dotted(path)}: {msg}"


def _format(file: str, root: yaml.Node, err: dict) -> str:
    kind, loc, msg = err["type"], tuple(err["loc"]), err["msg"].removeprefix("Value error, ")
    if kind.startswith("union_tag"):
        loc += ("type",)
    line, path = _locate(root, loc)
    field = next((p for p in reversed(path) if isinstance(p, str)), "")
    value = err.get("input")
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
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
    return f"{file}:{line}: {_dotted(path)}: {msg}" + (f" ({hint})" if hint else "")


def _allowed_keys(loc: tuple) -> list[str]:
    """Field names (as written in YAML) of the model found at ``loc`` below LoopSpec."""
    tp: Any = LoopSpec
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
