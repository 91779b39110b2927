"""LSS 1.0 loop declarations: built-in loops, limits, canonical-schema agreement, errors."""

import json
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from loops.spec import Limits, LoopSpec, SpecError, builtin_names, builtin_spec, load_spec

LSS_DIR = Path(__file__).resolve().parents[2] / "shared" / "reference" / "lss"
SCHEMA = LSS_DIR / "lss-1.0.schema.json"
LOOPS_DIR = Path(__file__).resolve().parents[1] / "loops"
needs_shared = pytest.mark.skipif(
    not SCHEMA.exists(), reason=f"LSS 1.0 reference not found at {LSS_DIR} "
    "(the shared/ directory beside the checkout is absent)")

# A small valid declaration; tests break one thing at a time.
VALID = """\
loop_name: tiny-loop
version: 0.1.0
objective: Make the failing tests pass within budget.
inputs:
  schema:
    repo:
      type: string
      description: repository path
memory:
  type: session
workers:
  - id: fixer
    role: propose a patch
    model:
      provider: openai
      name: gpt-4.1-mini
    inputs:
      - from: inputs.repo
    outputs:
      name: Patch
      format: code
evaluators:
  - id: tests
    type: deterministic
    runs_after: [fixer]
    implementation: harness.evaluators.pytest_runner.PytestEvaluator
feedback_channels:
  - id: tests-to-fixer
    source: evaluators.tests
    destination: workers.fixer
    format: structured
optimization_strategy:
  type: memory_update
  max_steps: 1
termination_conditions:
  success:
    - metric: failing_tests
      operator: lte
      value: 0
metrics:
  - name: failing_tests
    definition: tests failing
    source: evaluators.tests
    unit: count
safety_constraints: []
cost_limits:
  per_iteration_usd: 0.1
  cumulative_usd: 1
  on_exceed:
    action: halt
"""


def line_of(text: str, needle: str) -> int:
    """1-based line of the first line containing ``needle``."""
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def broken(tmp_path: Path, old: str, new: str, name: str = "loop.yaml") -> tuple[Path, str]:
    assert old in VALID, old
    text = VALID.replace(old, new, 1)
    path = tmp_path / name
    path.write_text(text)
    return path, text


def errors_of(path: Path) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert isinstance(info.value, ValueError)
    assert str(info.value) == "\n".join(info.value.errors)
    return info.value.errors


# --- built-in loops ---------------------------------------------------------------


def test_builtin_names():
    assert {"fix-failing-tests", "do-instruction"} <= set(builtin_names())
    assert builtin_names() == sorted(builtin_names())


def test_fix_loop_declaration():
    spec = builtin_spec("fix-failing-tests")
    assert spec.loop_name == "fix-failing-tests"
    assert spec.source is not None and spec.source.name == "fix-failing-tests.yaml"
    assert spec.generator == "templates"
    assert spec.evaluator_ids() == ["tests", "lint", "types"]
    assert spec.evaluators[0].implementation == "harness.evaluators.pytest_runner.PytestEvaluator"
    assert spec.limits() == Limits(max_iterations=30, max_wall_seconds=600.0, no_progress=8,
                                   max_cost_usd=1.0, max_tokens=200000, evaluator_error=3)
    lw = spec.loopwright
    assert lw["candidates_per_iteration"] == 64 and lw["max_diff_lines"] == 40
    assert lw["test_timeout"]["min_seconds"] == 2.0 and lw["test_timeout"]["factor"] == 10.0
    for glob in ("**/tests/**", "**/test_*.py", "**/conftest.py", "**/pyproject.toml", "**/*.lock"):
        assert glob in lw["protected_paths"]


def test_do_loop_declaration():
    spec = builtin_spec("do-instruction")
    assert spec.evaluator_ids() == ["tests", "lint", "types"]
    human = [e for e in spec.evaluators if e.type == "human"]
    assert len(human) == 1 and human[0].timeout_seconds >= 60
    assert spec.generator.split(":")[0] in ("anthropic", "openai")
    limits = spec.limits()
    assert limits.max_iterations and limits.max_wall_seconds and limits.max_cost_usd
    assert "**/tests/**" not in spec.loopwright["protected_paths"]  # it may write tests


def test_unknown_builtin_lists_available():
    with pytest.raises(SpecError) as info:
        builtin_spec("fix-everything")
    assert "fix-everything" in str(info.value)
    for name in builtin_names():
        assert name in str(info.value)


def test_limits_override_replaces_only_given_values():
    limits = builtin_spec("fix-failing-tests").limits()
    changed = limits.override(max_iterations=5, max_wall_seconds=None, max_cost_usd=0.0)
    assert changed.max_iterations == 5 and changed.max_cost_usd == 0.0
    assert changed.max_wall_seconds == 600.0 and changed.no_progress == 8
    assert limits.max_iterations == 30  # frozen: the original is untouched
    with pytest.raises(TypeError):
        limits.override(max_iteration=5)


def test_defaults_without_extensions_and_extra_top_level_keys(tmp_path):
    path, _ = broken(tmp_path, "safety_constraints: []", "safety_constraints: []\n"
                     "x_team: core\nnotes: anything goes at the top level")
    spec = load_spec(path)
    assert spec.model_extra == {"x_team": "core", "notes": "anything goes at the top level"}
    assert spec.generator == "openai:gpt-4.1-mini"
    assert spec.loopwright["protected_paths"] == [] and spec.loopwright["max_diff_lines"] == 40
    assert spec.limits() == Limits(None, None, None, 1.0, None, None)
    assert spec.to_document() == {**yaml.safe_load(path.read_text())}


# --- agreement with the canonical LSS 1.0 schema -------------------------------------

DOCUMENTS = [LOOPS_DIR / "fix-failing-tests.yaml", LOOPS_DIR / "do-instruction.yaml",
             LOOPS_DIR / "review-comments.yaml",
             LSS_DIR / "minimal-loop.yaml"]


@needs_shared
@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.name)
def test_canonical_schema_and_our_models_agree(path):
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(json.loads(SCHEMA.read_text()))
    document = yaml.safe_load(path.read_text())
    assert [e.message for e in validator.iter_errors(document)] == []
    spec = load_spec(path)
    assert [e.message for e in validator.iter_errors(spec.to_document())] == []


@needs_shared
def test_reference_minimal_loop_limits():
    spec = load_spec(LSS_DIR / "minimal-loop.yaml")
    assert spec.generator == "openai:gpt-4.1-mini"
    assert spec.evaluator_ids() == ["length_check"]
    assert spec.limits() == Limits(max_iterations=8, max_wall_seconds=None, no_progress=3,
                                   max_cost_usd=0.5, max_tokens=8000, evaluator_error=2)


# --- malformed declarations: file, line and field path ----------------------------


def test_missing_required_field_points_at_parent(tmp_path):
    path, text = broken(tmp_path, "      provider: openai\n", "")
    [err] = errors_of(path)
    assert err.startswith(f"{path}:{line_of(text, 'model:')}: workers.0.model.provider: ")
    assert "required" in err and "add 'provider:'" in err


def test_missing_top_level_field(tmp_path):
    path, _ = broken(tmp_path, "optimization_strategy:\n  type: memory_update\n  max_steps: 1\n", "")
    [err] = errors_of(path)
    assert err.startswith(f"{path}:1: optimization_strategy: Field required")


def test_wrong_enum(tmp_path):
    path, text = broken(tmp_path, "type: session", "type: forever")
    [err] = errors_of(path)
    assert err.startswith(f"{path}:{line_of(text, 'forever')}: memory.type: ")
    assert "'ephemeral', 'session' or 'persistent'" in err and "'forever'" in err


def test_bad_loop_name(tmp_path):
    path, _ = broken(tmp_path, "loop_name: tiny-loop", "loop_name: Tiny_Loop")
    [err] = errors_of(path)
    assert err.startswith(f"{path}:1: loop_name: ") and "kebab-case" in err


def test_short_loop_name(tmp_path):
    path, _ = broken(tmp_path, "loop_name: tiny-loop", "loop_name: ab")
    [err] = errors_of(path)
    assert err.startswith(f"{path}:1: loop_name: ") and "at least 3" in err


def test_whole_floats_are_integers_but_bools_are_not(tmp_path):
    path, _ = broken(tmp_path, "max_steps: 1", "max_steps: 2.0")
    assert load_spec(path).optimization_strategy.max_steps == 2
    path, text = broken(tmp_path, "max_steps: 1", "max_steps: true")
    [err] = errors_of(path)
    assert err.startswith(f"{path}:{line_of(text, 'max_steps')}: optimization_strategy.max_steps: ")


def test_unquoted_version_number(tmp_path):
    path, _ = broken(tmp_path, "version: 0.1.0", "version: 1.0")
    [err] = errors_of(path)
    assert err.startswith(f"{path}:2: version: ") and "quote" in err


def test_unknown_field_in_strict_object(tmp_path):
    path, text = broken(tmp_path, "    role: propose a patch\n",
                        "    role: propose a patch\n    colour: blue\n")
    [err] = errors_of(path)
    assert err.startswith(f"{path}:{line_of(text, 'colour')}: workers.0.colour: "
                          "unknown field 'colour' (allowed: id, role, model,")


def test_unknown_field_in_evaluator_and_input_field(tmp_path):
    path, text = broken(tmp_path, "      description: repository path\n",
                        "      description: repository path\n      colour: red\n")
    text = text.replace("    implementation: harness.evaluators", "    config: {}\n    implementation: harness.evaluators")
    path.write_text(text)
    errs = errors_of(path)
    assert len(errs) == 2
    assert errs[0].startswith(f"{path}:{line_of(text, 'colour')}: inputs.schema.repo.colour: ")
    assert errs[1].startswith(f"{path}:{line_of(text, 'config')}: evaluators.0.config: ")
    assert "implementation" in errs[1] and "rubric" not in errs[1]


def test_unknown_evaluator_type(tmp_path):
    path, text = broken(tmp_path, "type: deterministic", "type: script")
    [err] = errors_of(path)
    assert err.startswith(f"{path}:{line_of(text, 'type: script')}: evaluators.0.type: ")
    assert "'human'" in err


def test_runs_after_missing_worker(tmp_path):
    path, text = broken(tmp_path, "runs_after: [fixer]", "runs_after: [fixer, ghost]")
    [err] = errors_of(path)
    assert err.startswith(f"{path}:{line_of(text, 'ghost')}: evaluators.0.runs_after.1: ")
    assert "'ghost'" in err and "fixer" in err


def test_dangling_references_and_cycles(tmp_path):
    path, text = broken(tmp_path, "    role: propose a patch\n",
                        "    role: propose a patch\n    depends_on: [fixer]\n")
    text = text.replace("source: evaluators.tests\n    destination",
                        "source: evaluators.lint\n    destination")
    text = text.replace("metric: failing_tests", "metric: passing_tests")
    path.write_text(text)
    errs = errors_of(path)
    assert any(e.startswith(f"{path}:{line_of(text, 'depends_on')}: workers.0.depends_on")
               and "itself" in e for e in errs)
    assert any(e.startswith(f"{path}:{line_of(text, 'evaluators.lint')}: "
                            "feedback_channels.0.source: evaluator 'lint'") for e in errs)
    assert any(e.startswith(f"{path}:{line_of(text, 'passing_tests')}: "
                            "termination_conditions.success.0.metric:") for e in errs)


def test_persistent_memory_needs_backend(tmp_path):
    path, _ = broken(tmp_path, "type: session", "type: persistent")
    [err] = errors_of(path)
    assert err.startswith(f"{path}:{line_of(VALID, 'memory:')}: memory: ") and "backend" in err


def test_every_problem_is_listed(tmp_path):
    path, text = broken(tmp_path, "format: code", "format: diff")
    text = text.replace("unit: count", "unit: tests").replace("max_steps: 1", "max_steps: 0")
    path.write_text(text)
    errs = errors_of(path)
    paths = [e.split(": ")[1] for e in errs]
    assert paths == ["workers.0.outputs.format", "optimization_strategy.max_steps",
                     "metrics.0.unit"]


def test_duplicate_key(tmp_path):
    path, text = broken(tmp_path, "  type: session\n", "  type: session\n  type: ephemeral\n")
    [err] = errors_of(path)
    assert err.startswith(f"{path}:{line_of(text, 'ephemeral')}: memory.type: duplicate key")


def test_yaml_syntax_error_has_its_line(tmp_path):
    path, text = broken(tmp_path, "    role: propose a patch", "    role: [propose a patch")
    [err] = errors_of(path)
    assert err.startswith(f"{path}:{line_of(text, 'model:')}: (yaml): ")
    assert f"from line {line_of(text, 'role:')}" in err


def test_not_a_mapping_and_missing_file(tmp_path):
    listed = tmp_path / "list.yaml"
    listed.write_text("- a\n- b\n")
    [err] = errors_of(listed)
    assert err.startswith(f"{listed}:1: (document): expected a mapping")
    [err] = errors_of(tmp_path / "absent.yaml")
    assert "absent.yaml" in err and "cannot read" in err


def test_direct_construction_checks_references():
    data = yaml.safe_load(VALID)
    data["evaluators"][0]["runs_after"] = ["ghost"]
    with pytest.raises(ValidationError, match="ghost"):
        LoopSpec.model_validate(data)
