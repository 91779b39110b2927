"""One typed run configuration: the loop declaration plus the user's settings.

Every knob of a run lives in :class:`RunConfig`, with its default here and only
here. :func:`build` makes one from

1. the loop declaration (LSS 1.0 termination conditions, cost limits and
   ``extensions.loopwright``), overridden by
2. ``[tool.loopwright]`` in the target repository's ``pyproject.toml``, overridden by
3. ``LOOPWRIGHT_*`` environment variables, overridden by
4. command-line flags

(flag > env > pyproject > loop file). The user settings (:data:`SETTINGS`) are
range-checked at the edge: a bad value is a :class:`~harness.core.errors.UsageError`
whose one line names the setting, where it came from and the allowed range.
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.evaluators.pytest_runner import TimeoutPolicy
from harness.core.errors import UsageError
from harness.core.plausible import Window
from harness.core.stop import StopLimits
from sandbox.process import SandboxPolicy

#: Paths no patch of the fix loop may touch when the loop file lists none.
DEFAULT_PROTECTED = ("**/tests/**", "**/test/**", "**/testing/**", "**/testsuite/**",  # at any depth
                     "test_*.py", "*_test.py", "conftest.py",
                     "pytest.ini", "pytest.toml", ".pytest.ini", "tox.ini", "setup.cfg",
                     "pyproject.toml", "noxfile.py", "sitecustomize.py", "usercustomize.py", "*.pth",
                     ".gitattributes", ".github/**", ".gitlab-ci.yml", "*.lock", ".loopwright/**")

#: How test processes run: no network, a private HOME, 8 GiB of address space.
DEFAULT_POLICY = SandboxPolicy(network=False, private_home=True, memory_bytes=8 * 2**30)

#: The evaluator classes a loop declaration may name as ``implementation``.
EVALUATORS = {"harness.evaluators.pytest_runner.PytestEvaluator": "tests", "harness.evaluators.lint.RuffEvaluator": "lint",
              "harness.evaluators.types.TypeCheckEvaluator": "types"}


def default_jobs() -> int:
    """Parallel validation slots when ``--jobs`` is not given: the CPU count, at most 4."""
    return min(4, os.cpu_count() or 1)


@dataclass
class RunConfig:
    """How one run goes (``fix``, ``resume``, ``do``, ``review``).

    Attributes:
        loop_name: the LSS loop this run follows.
        python: target interpreter (None: REPO/.venv, else the current one).
        limits: stop rule numbers (iterations, wall seconds, USD, tokens, ...).
        protected: globs a patch may not touch (``protected_paths``).
        editable: globs every file of a patch must match (``editable_paths``).
        apply: apply the final patch to the user's working tree (only if it is clean).
        lessons: write the run's lesson to ``REPO/.loopwright/lessons.md`` even when that
            file is not tracked (``--lessons``; ``apply`` does too).
        keep: keep the run's worktree after the run.
        fresh: ignore what earlier runs left (``--fresh``): candidates they rejected are
            evaluated again and the baseline is taken whole (both are still recorded).
        jobs: parallel validation slots (0: :func:`default_jobs`).
        max_diff_lines: largest patch accepted, added plus removed lines.
        candidates_per_iteration: patches the offline repairer proposes per iteration.
        timeouts: per-test timeout policy (seconds).
        policy: how test and tool processes are sandboxed.
        static: evaluator id -> when it runs: ``configured`` (the repository configures
            the tool), ``always`` or ``never``; only evaluators the loop declares.
        implementations: evaluator id -> the class the loop names (see :data:`EVALUATORS`).
        tests: pytest node ids the run is restricted to (empty: every failing test).
        model: the generator spec (None: the loop's worker model).
        base_url: API root of an OpenAI-compatible server, or None.
        window: how long a batch keeps validating candidates after its first plausible
            patch to compare it with the next (:class:`~harness.core.plausible.Window`):
            at most 4 more started (2 per slot when it is unprotected), none once the
            comparison has lasted half the seconds the search for it took.
    """

    loop_name: str = "fix-failing-tests"
    python: str | None = None
    limits: StopLimits = field(default_factory=StopLimits)
    protected: tuple[str, ...] = DEFAULT_PROTECTED
    editable: tuple[str, ...] = ("**",)
    apply: bool = False
    lessons: bool = False
    keep: bool = False
    fresh: bool = False
    jobs: int = 0
    max_diff_lines: int = 40
    candidates_per_iteration: int = 64
    timeouts: TimeoutPolicy = field(default_factory=TimeoutPolicy)
    policy: SandboxPolicy = field(default_factory=lambda: DEFAULT_POLICY)
    static: dict[str, str] = field(default_factory=lambda: {"lint": "configured", "types": "configured"})
    implementations: dict[str, str] = field(default_factory=lambda: {v: k for k, v in EVALUATORS.items()})
    tests: tuple[str, ...] = ()
    model: str | None = None
    base_url: str | None = None
    window: Window = field(default_factory=Window)

    @property
    def slots(self) -> int:
        """Validation slots this run uses (``jobs``, or :func:`default_jobs`)."""
        return self.jobs or default_jobs()


@dataclass(frozen=True)
class Setting:
    """A user setting: ``--name-with-dashes``, ``LOOPWRIGHT_NAME``, ``name`` in ``[tool.loopwright]``.

    Attributes:
        name: snake_case key. kind: ``int``, ``float`` or ``str``.
        low: smallest allowed value (inclusive), None for strings.
        above: the value must be greater than ``low`` (exclusive bound).
        high: largest allowed value (inclusive) or None. help: one line, with units.
    """

    name: str
    kind: type
    help: str
    low: float | None = None
    above: bool = False
    high: float | None = None

    @property
    def flag(self) -> str:
        """The command-line flag (``--max-seconds``)."""
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        """The environment variable (``LOOPWRIGHT_MAX_SECONDS``)."""
        return "LOOPWRIGHT_" + self.name.upper()

    def check(self, value: Any, where: str) -> Any:
        """``value`` converted to ``kind`` and range-checked.

        Raises:
            UsageError: one line naming ``where`` (the flag, variable or file key) and the range.
        """
        if self.kind is str:
            if not isinstance(value, str) or not value.strip():
                raise UsageError(f"{where}: must be a non-empty string")
            return value
        try:
            if isinstance(value, bool):
                raise ValueError
            number = self.kind(value)
            if self.kind is int and isinstance(value, float) and value != number:
                raise ValueError
        except (TypeError, ValueError):
            raise UsageError(f"{where}: must be {self._range()}") from None
        bad = (not math.isfinite(number) or (self.low is not None and (number < self.low or
               (self.above and number == self.low))) or (self.high is not None and number > self.high))
        if bad:
            raise UsageError(f"{where}: must be {self._range()}")
        return number

    def _range(self) -> str:
        what = "a whole number" if self.kind is int else "a finite number"
        if self.low is None:
            return what
        bound = f"{'>' if self.above else '>='} {self.low:g}"
        return f"{what} {bound}" + (f" and <= {self.high:g}" if self.high is not None else "")


#: What a user may set by flag, environment variable or ``[tool.loopwright]``.
SETTINGS = (
    Setting("model", str, "generator: templates, openai:MODEL, anthropic:MODEL, replay:FILE or a chain"),
    Setting("base_url", str, "API root of an OpenAI-compatible server"),
    Setting("python", str, "target interpreter (default: REPO/.venv, else this one)"),
    Setting("max_iterations", int, "stop after N iterations (generator calls)", low=1),
    Setting("max_seconds", float, "stop after S wall-clock seconds", low=0, above=True),
    Setting("max_cost", float, "stop before spending more than this many USD on model calls", low=0),
    Setting("max_tokens", int, "stop before using more model tokens (in + out) than this", low=1),
    Setting("jobs", int, "candidates validated in parallel", low=1, high=64),
    Setting("max_diff_lines", int, "largest patch accepted (added + removed lines)", low=1),
)
_BY_NAME = {s.name: s for s in SETTINGS}


def settings(flags: Mapping[str, Any], root: Path | None, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The user settings in force: ``flag > LOOPWRIGHT_* > [tool.loopwright]``; unset keys absent.

    Args:
        flags: setting name -> flag value (None: not given). Names outside
            :data:`SETTINGS` are ignored.
        root: the target repository (its ``pyproject.toml`` is read), or None.
        env: the environment (default ``os.environ``).

    Raises:
        UsageError: a value out of range, an unknown ``[tool.loopwright]`` key, invalid TOML.
    """
    env = os.environ if env is None else env
    out = {}
    for name, value in _pyproject(root).items():
        out[name] = _BY_NAME[name].check(value, f"{root / 'pyproject.toml'} [tool.loopwright] {name} = {value!r}")
    for s in SETTINGS:
        if env.get(s.env, "").strip():
            out[s.name] = s.check(env[s.env].strip(), f"{s.env}={env[s.env]}")
    for name, value in flags.items():
        if value is not None and name in _BY_NAME:
            shown = f"{value:g}" if isinstance(value, float) else value
            out[name] = _BY_NAME[name].check(value, f"{_BY_NAME[name].flag} {shown}")
    return out


def _pyproject(root: Path | None) -> dict[str, Any]:
    path = root / "pyproject.toml" if root else None
    if path is None or not path.is_file():
        return {}
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8")).get("tool", {}).get("loopwright", {})
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: invalid TOML ({exc}); fix it or remove [tool.loopwright]") from None
    if not isinstance(table, dict):
        raise UsageError(f"{path}: tool.loopwright must be a table")
    out = {}
    for key, value in table.items():
        name = key.replace("-", "_")
        if name not in _BY_NAME:
            raise UsageError(f"{path} [tool.loopwright] {key}: unknown setting "
                             f"(known: {', '.join(s.name for s in SETTINGS)})")
        out[name] = value
    return out


def build(loop, root: Path | None = None, flags: Mapping[str, Any] | None = None, *,
          env: Mapping[str, str] | None = None, force: Mapping[str, bool] | None = None,
          tests: tuple[str, ...] = (), **fixed: Any) -> RunConfig:
    """The :class:`RunConfig` for ``loop`` (a :class:`loops.spec.LoopSpec`) and the user's settings.

    Args:
        root: the target repository, for ``[tool.loopwright]`` (None: not read).
        flags: setting name -> command-line value (None: not given); see :func:`settings`.
        force: evaluator id -> True to run it even if the repository does not configure
            it (``--lint``, ``--types``), False never to run it (``--no-lint``, ``--no-types``).
        tests: ``--tests`` node ids.
        **fixed: other :class:`RunConfig` fields set by the command (``apply``, ``keep``, ``jobs``).

    Raises:
        UsageError: a setting out of range (see :func:`settings`), or the loop names an
            evaluator implementation loopwright does not have.
    """
    got = settings(flags or {}, root, env)
    lim = loop.limits().override(max_iterations=got.get("max_iterations"),
                                 max_wall_seconds=got.get("max_seconds"),
                                 max_cost_usd=got.get("max_cost"), max_tokens=got.get("max_tokens"))
    ext = loop.loopwright
    t = ext["test_timeout"]
    implementations = {}
    for i, ev in enumerate(loop.evaluators):
        if ev.type != "deterministic":
            continue
        if ev.implementation not in EVALUATORS:
            raise UsageError(f"evaluators[{i}].implementation {ev.implementation!r} is not an evaluator "
                             f"loopwright has (use one of {', '.join(EVALUATORS)})")
        implementations[ev.id] = ev.implementation
    settings_of = ext["evaluators"]
    static = {eid: str((settings_of.get(eid) or {}).get("when", "configured"))
              for eid, impl in implementations.items() if EVALUATORS[impl] != "tests"}
    for eid, on in (force or {}).items():  # --lint/--no-lint, --types/--no-types (None: neither)
        if on is not None and eid in static:
            static[eid] = "always" if on else "never"
    config = RunConfig(
        loop_name=loop.loop_name, python=got.get("python"),
        limits=StopLimits(lim.max_iterations, lim.max_wall_seconds, lim.no_progress,
                          lim.max_cost_usd, lim.max_tokens, lim.evaluator_error),
        protected=tuple(ext["protected_paths"] or DEFAULT_PROTECTED),
        editable=tuple(ext["editable_paths"] or ("**",)),
        max_diff_lines=got.get("max_diff_lines", ext["max_diff_lines"]),
        candidates_per_iteration=ext["candidates_per_iteration"],
        timeouts=TimeoutPolicy(**t), static=static, implementations=implementations,
        tests=tuple(tests), model=got.get("model"), base_url=got.get("base_url"),
        jobs=got.get("jobs", 0),
        policy=replace(DEFAULT_POLICY, pass_env=tuple(ext.get("pass_env") or ())))
    for key, value in fixed.items():
        setattr(config, key, value)
    return config
