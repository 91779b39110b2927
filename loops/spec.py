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
:class:`loops.extension.LoopwrightExtension`).
"""

import dataclasses
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

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

from loops.extension import Extensions, LoopwrightExtension
from loops.lss import (
    CostLimits,
    Evaluator,
    FeedbackChannel,
    Inputs,
    LoopName,
    Memory,
    Metric,
    OptimizationStrategy,
    SafetyConstraint,
    SemVer,
    TerminationConditions,
    Worker,
)
from loops.yaml_errors import BoundedLoader, duplicate_keys, format_error, located


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
    """A run's budgets: the numbers of the stop rules (``None`` disables a rule).

    The one budget type from the loop declaration (:meth:`LoopSpec.limits`) through the
    run configuration (``RunConfig.limits``, flags applied by :meth:`override`) to the stop
    rules (:mod:`harness.core.stop`). The defaults are a run's without a loop declaration.

    Attributes:
        max_iterations: generator calls (iterations); LSS failure ``max_iterations``.
        max_wall_seconds: seconds since the run started; LSS failure ``timeout``.
        no_progress: iterations in a row without one more test fixed; LSS ``stall``
            ``window_iterations`` (with ``min_improvement`` 1).
        max_cost_usd: USD spent on model calls; LSS ``cost_limits.cumulative_usd``.
        max_tokens: model tokens (input + output); LSS ``cost_limits.token_soft_cap``.
        evaluator_error: evaluations in a row where an evaluator could not run; LSS
            failure ``evaluator_error`` (``consecutive``).
        repeated_patch: proposals in a row holding only patches already tried (LSS has no
            such condition: loopwright's own rule, the same number for every loop).
        human_rejected: patches in a row the developer rejects before the run stops (the
            ``do`` prompt); LSS failure ``human_rejected`` (``consecutive``).
    """

    max_iterations: int | None = 30
    max_wall_seconds: float | None = 600.0
    no_progress: int | None = 8
    max_cost_usd: float | None = None
    max_tokens: int | None = None
    evaluator_error: int | None = 3
    repeated_patch: int | None = 2
    human_rejected: int | None = None

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
        """The declared budgets; several failure rules of one type: the smallest wins. A
        condition the loop does not declare is ``None`` (no limit); ``repeated_patch``, which
        LSS cannot declare, keeps :class:`Limits`' default."""
        def least(kind: str, attr: str) -> float | None:
            got = [getattr(c, attr) for c in self.termination_conditions.failure if c.type == kind]
            got = [g for g in got if g is not None]
            return min(got) if got else None

        iterations, errors = least("max_iterations", "value"), least("evaluator_error", "consecutive")
        rejected = least("human_rejected", "consecutive")
        wall, stall = least("timeout", "value"), self.termination_conditions.stall
        return Limits(
            max_iterations=None if iterations is None else int(iterations),
            max_wall_seconds=None if wall is None else float(wall),
            no_progress=stall[0].window_iterations if stall else None,
            max_cost_usd=float(self.cost_limits.cumulative_usd),
            max_tokens=self.cost_limits.token_soft_cap,
            evaluator_error=None if errors is None else int(errors),
            repeated_patch=Limits.repeated_patch,
            human_rejected=None if rejected is None else int(rejected))

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
    errors = duplicate_keys(str(path), node, ())
    spec = None
    try:
        spec = LoopSpec.model_validate(data, context={"references": False})
    except ValidationError as exc:
        errors += [format_error(str(path), node, e, LoopSpec) for e in exc.errors()]
    if spec is not None:
        errors += [located(str(path), node, loc, msg) for loc, msg in _reference_problems(spec)]
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
