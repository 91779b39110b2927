"""LSS 1.0 component models: the pydantic objects a loop declaration is made of.

Each class mirrors one object of the canonical LSS 1.0 JSON Schema (strict objects
reject unknown keys; enums, patterns and minimums are enforced); the top-level
:class:`loops.spec.LoopSpec` composes them. loopwright's own settings live in
``extensions.loopwright`` (:class:`loops.extension.LoopwrightExtension`).
"""

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)


def _unique(items: list) -> list:
    dupes = sorted({str(x) for x in items if items.count(x) > 1})
    if dupes:
        raise ValueError(f"duplicate items {', '.join(dupes)} (list each once)")
    return items


def _whole(value: Any) -> Any:
    """JSON Schema integers include whole floats (``3.0``); bools stay rejected."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _pattern(regex: str, max_length: int | None = None, min_length: int = 1) -> Any:
    return Annotated[str, StringConstraints(pattern=regex, min_length=min_length,
                                            max_length=max_length)]


Text = Annotated[str, StringConstraints(min_length=1)]
Id = _pattern(r"^[a-z][a-z0-9_-]*$", 64)
IdOrStar = _pattern(r"^([a-z][a-z0-9_-]*|\*)$", 64)
WorkerRef = _pattern(r"^workers\.[a-z][a-z0-9_-]*$")
PosInt = Annotated[int, BeforeValidator(_whole), Field(ge=1)]
NonNegInt = Annotated[int, BeforeValidator(_whole), Field(ge=0)]
NonNeg = Annotated[float, Field(ge=0)]
UniqueTexts = Annotated[list[Text], AfterValidator(_unique)]
Targets = Annotated[list[IdOrStar], Field(min_length=1), AfterValidator(_unique)]
Action = Literal["halt", "escalate_human", "retry_iteration"]
FieldType = Literal["string", "number", "boolean", "enum", "array", "object"]
LoopName = _pattern(r"^[a-z][a-z0-9-]*$", 64, min_length=3)
SemVer = _pattern(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z-]+"
                  r"(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$")


class _Strict(BaseModel):
    """An LSS object with ``additionalProperties: false``."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True, allow_inf_nan=False)


class InputField(_Strict):
    """One per-invocation input: ``type`` (``enum`` requires ``values``), description, bounds."""

    type: FieldType
    description: Text
    required: bool = False
    max_length: PosInt | None = None
    min_length: NonNegInt | None = None
    pattern: str | None = None
    values: Annotated[list[bool | int | float | str], Field(min_length=1)] | None = None
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    items: FieldType | None = None

    @model_validator(mode="after")
    def _enum_values(self):
        if self.type == "enum" and self.values is None:
            raise ValueError("type 'enum' requires 'values' (list the allowed values)")
        return self


class Inputs(_Strict):
    """``inputs``: ``schema`` maps input names to :class:`InputField`; optional examples."""

    schema_: Annotated[dict[str, InputField], Field(min_length=1)] = Field(alias="schema")
    examples: list[dict[str, Any]] | None = None


class Retention(_Strict):
    """How long memory is kept: ``value`` (>= 1) ``unit``s."""

    unit: Literal["iteration", "hour", "day"]
    value: Annotated[float, Field(ge=1)]


class WritePolicy(_Strict):
    """Who may write memory, in what schema, how many entries."""

    allowed_writers: Annotated[list[Text], Field(min_length=1)] | None = None
    schema_: Text | None = Field(None, alias="schema")
    max_entries: PosInt | None = None


class Memory(_Strict):
    """``memory``: ephemeral, session or persistent (persistent requires a ``backend``)."""

    type: Literal["ephemeral", "session", "persistent"]
    backend: Literal["redis", "postgres", "vector", "composite"] | None = None
    retention: Retention | None = None
    write_policy: WritePolicy | None = None
    read_policy: dict[str, list[Text]] | None = None
    redaction: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _backend(self):
        if self.type == "persistent" and self.backend is None:
            raise ValueError("type 'persistent' requires 'backend' "
                             "(set redis, postgres, vector or composite, or use type 'session')")
        return self


class ModelRef(_Strict):
    """A model: ``provider`` (e.g. openai, anthropic, loopwright) and ``name``; sampling knobs."""

    provider: Text
    name: Text
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    max_tokens: PosInt | None = None
    top_p: Annotated[float, Field(ge=0, le=1)] | None = None


class WorkerInput(_Strict):
    """A worker input binding: ``from: inputs.X | memory.X | workers.ID``."""

    from_: _pattern(r"^(inputs\.[a-zA-Z_][a-zA-Z0-9_.]*|memory\.[a-zA-Z_][a-zA-Z0-9_.]*"
                    r"|workers\.[a-z][a-z0-9_-]*)$") = Field(alias="from")


class WorkerOutput(_Strict):
    """What a worker produces: a name and a format."""

    name: Text
    format: Literal["text", "json", "markdown", "code", "binary"]
    schema_ref: Text | None = None


class Worker(_Strict):
    """A worker (for loopwright: the generator role) and its model, inputs and budgets."""

    id: Id
    role: Text
    model: ModelRef
    depends_on: Annotated[list[Id], AfterValidator(_unique)] = []
    inputs: Annotated[list[WorkerInput], Field(min_length=1)]
    outputs: WorkerOutput
    tools: UniqueTexts | None = None
    timeout_seconds: PosInt | None = None
    retries: NonNegInt | None = None
    cost_budget_usd: NonNeg | None = None


class _EvaluatorBase(_Strict):
    id: Id
    runs_after: Targets
    aggregation: Literal["min", "weighted_avg", "veto"] | None = None


class DeterministicEvaluator(_EvaluatorBase):
    """A program judges the output; ``implementation`` names it (e.g. a dotted class path)."""

    type: Literal["deterministic"]
    implementation: Text


class RubricDimension(_Strict):
    """One rubric dimension: weight in (0, 1], scale ``[low, high]``, criteria."""

    name: Text
    weight: Annotated[float, Field(gt=0, le=1)]
    scale: Annotated[list[float], Field(min_length=2, max_length=2)]
    criteria: Text


class Rubric(_Strict):
    """Rubric dimensions and the pass threshold in [0, 1]."""

    dimensions: Annotated[list[RubricDimension], Field(min_length=1)]
    pass_threshold: Annotated[float, Field(ge=0, le=1)]


class LlmRubricEvaluator(_EvaluatorBase):
    """A model grades the output against a rubric."""

    type: Literal["llm_rubric"]
    rubric: Rubric
    model: ModelRef


class HumanEvaluator(_EvaluatorBase):
    """A person reviews the output within ``timeout_seconds``."""

    type: Literal["human"]
    timeout_seconds: PosInt
    queue: Text | None = None
    instructions: Text | None = None


Evaluator = Annotated[DeterministicEvaluator | LlmRubricEvaluator | HumanEvaluator,
                      Field(discriminator="type")]
FeedbackFieldName = Literal["failure_codes", "dimension_scores", "remediation_hints", "passed",
                            "score", "raw_output", "summary"]


class FeedbackChannel(_Strict):
    """Routes an evaluator's (or worker's) output to a worker or the optimizer."""

    id: _pattern(r"^[a-z][a-z0-9_-]*$")
    source: _pattern(r"^(evaluators|workers)\.[a-z][a-z0-9_-]*$")
    destination: _pattern(r"^(workers\.[a-z][a-z0-9_-]*|optimization_strategy(\.prompt_refinement"
                          r"|\.parameter_search|\.memory_update|\.structural|\.manual)?)$")
    format: Literal["structured", "template", "human_queue"]
    fields: Annotated[list[FeedbackFieldName], Field(min_length=1), AfterValidator(_unique)] | None = None
    max_tokens: PosInt | None = None
    when: Text | None = None
    template_ref: Text | None = None


class OptimizationConfig(BaseModel):
    """Optimizer settings (open object: extra keys allowed)."""

    model_config = ConfigDict(extra="allow", strict=True)
    refinement_target: WorkerRef | None = None
    secondary_targets: Annotated[list[WorkerRef], AfterValidator(_unique)] | None = None
    preserve_sections: UniqueTexts | None = None
    human_gate_on: dict[str, Any] | None = None
    search_space: dict[str, Any] | None = None


class Rollback(_Strict):
    """When to roll an optimization step back."""

    on_metric_drop: Annotated[float, Field(ge=0, le=1)] | None = None
    on_safety_failure: bool | None = None


class OptimizationStrategy(_Strict):
    """How the loop improves across iterations (for loopwright: lessons)."""

    type: Literal["prompt_refinement", "parameter_search", "memory_update", "structural", "manual"]
    max_steps: PosInt
    config: OptimizationConfig | None = None
    rollback: Rollback | None = None


class SuccessCondition(_Strict):
    """Success when ``metric operator value`` holds ``consecutive`` times."""

    metric: Text
    operator: Literal["gte", "lte", "eq", "gt", "lt"]
    value: float
    consecutive: PosInt = 1


class FailureCondition(_Strict):
    """A failure rule; ``max_iterations`` requires ``value``; ``timeout`` value is seconds."""

    type: Literal["safety_violation", "max_iterations", "evaluator_error", "cost_exceeded",
                  "human_rejected", "timeout"]
    action: Action | None = None
    value: Annotated[float, Field(ge=1)] | None = None
    consecutive: PosInt | None = None

    @model_validator(mode="after")
    def _value(self):
        if self.type == "max_iterations" and self.value is None:
            raise ValueError("type 'max_iterations' requires 'value' (the iteration cap)")
        top = _FAILURE_MAX.get(self.type)
        if top and self.value is not None and self.value > top[0]:
            raise ValueError(f"value {self.value:g} is out of range for '{self.type}': "
                             f"1 to {top[0]:g} {top[1]} (use a smaller value)")
        return self


#: Largest sensible ``value`` of a failure rule, and its unit.
_FAILURE_MAX = {"max_iterations": (100_000, "iterations"), "timeout": (30 * 86_400, "seconds")}


class StallCondition(_Strict):
    """Stalled when ``metric`` improves less than ``min_improvement`` over the window."""

    metric: Text
    window_iterations: PosInt
    min_improvement: NonNeg
    action: Action


class TerminationConditions(_Strict):
    """Success, failure and stall rules; at least one list must be non-empty."""

    success: list[SuccessCondition] = []
    failure: list[FailureCondition] = []
    stall: list[StallCondition] = []

    @model_validator(mode="after")
    def _bounded(self):
        if not (self.success or self.failure or self.stall):
            raise ValueError("no termination rule (declare at least one success, failure or "
                             "stall condition)")
        return self


class Metric(_Strict):
    """A measured quantity and where it comes from (evaluators.ID, workers.ID, telemetry.X)."""

    name: _pattern(r"^[a-z][a-z0-9_]*$")
    primary: bool = False
    definition: Text
    source: _pattern(r"^(evaluators\.[a-z][a-z0-9_-]*|workers\.[a-z][a-z0-9_-]*"
                     r"|telemetry\.[a-z][a-z0-9_.-]*)$")
    unit: Literal["ratio", "count", "usd", "seconds", "tokens", "percent"]
    target: float | None = None
    regression_threshold: NonNeg | None = None


class SafetyConstraint(_Strict):
    """A hard invariant checked at ``scope``; ``action`` when violated."""

    id: _pattern(r"^[a-z][a-z0-9_-]*$")
    type: Literal["injection_detect", "secret_scan", "pii_detect", "egress_monitor",
                  "tool_allowlist", "schema_enforce", "human_gate", "tenant_isolation",
                  "output_bounds", "rate_limit"]
    scope: Literal["pre_worker", "post_worker", "pre_output", "pre_memory_write", "pre_evaluator"]
    applies_to: Targets | None = None
    action: Literal["halt", "quarantine", "escalate_human", "warn", "strip"]
    severity: _pattern(r"^S[0-3]$") | None = None
    on_error: Literal["halt", "warn", "quarantine"] | None = None
    config: dict[str, Any] | None = None
    rule: Text | None = None


class CostApproach(_Strict):
    """What to do at ``threshold_percent`` of a budget."""

    threshold_percent: Annotated[float, Field(ge=1, le=100)]
    action: Literal["warn", "throttle", "halt"]


class CostExceed(_Strict):
    """What to do when a budget is exceeded."""

    action: Literal["halt", "warn", "throttle"]


class CostLimits(_Strict):
    """Budgets in USD (per iteration, cumulative) and a soft token cap."""

    per_iteration_usd: NonNeg
    cumulative_usd: NonNeg
    token_soft_cap: PosInt | None = None
    on_approach: CostApproach | None = None
    on_exceed: CostExceed
    price_table_ref: Text | None = None
