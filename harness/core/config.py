"""One typed run configuration: the loop declaration plus the user's settings.

Every knob of a run lives in :class:`RunConfig`, with its default here and only
here. :func:`build` makes one from

1. the loop declaration (LSS 1.0 termination conditions, cost limits and
   ``extensions.loopwright``), overridden by
2. ``[tool.loopwright]`` in the target repository's ``pyproject.toml``, overridden by
3. ``LOOPWRIGHT_*`` environment variables, overridden by
4. command-line flags

(flag > env > pyproject > loop file); a resumed run puts the settings it started with (``state.json``'s
``settings`` record) between the flags and the environment. The user settings (:data:`SETTINGS`) are
range-checked at the edge: a bad value is a :class:`~harness.core.errors.UsageError` whose one line
names the setting, where it came from and the allowed range. :func:`settings_table` is their reference.
"""

from __future__ import annotations

import math
import os
import shlex
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.evaluators.pytest_runner import TimeoutPolicy
from harness.core.errors import UsageError
from harness.core.plausible import Window
from loops.spec import Limits
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
        python: target interpreter (None: $VIRTUAL_ENV, else REPO/.venv, else the current one).
        limits: the run's budgets, the stop rules' numbers (:class:`loops.spec.Limits`).
        protected: globs a patch may not touch (``protected_paths``).
        editable: globs every file of a patch must match (``editable_paths``).
        apply: apply the final patch to the user's working tree (only if it is clean).
        lessons: write the run's lesson to ``REPO/.loopwright/lessons.md`` even when that
            file is not tracked (``--lessons``; ``apply`` does too).
        keep: keep the run's worktree after the run.
        fresh: ignore the candidate memory and the stored baseline of earlier runs (``--fresh``).
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
        settings: the user settings in force (:func:`settings`: name -> value, JSON-ready),
            kept in the run's state so that ``resume`` goes on with them.
    """

    loop_name: str = "fix-failing-tests"
    python: str | None = None
    limits: Limits = field(default_factory=Limits)
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
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def slots(self) -> int:
        """Validation slots this run uses (``jobs``, or :func:`default_jobs`)."""
        return self.jobs or default_jobs()


@dataclass(frozen=True)
class Setting:
    """A user setting: ``--name-with-dashes``, ``LOOPWRIGHT_NAME``, ``name`` in ``[tool.loopwright]``.

    Attributes:
        name: snake_case key. kind: ``int``, ``float``, ``str``, ``bool`` (a switch:
            ``--name/--no-name``; in the environment ``1/0``, ``true/false``, ``yes/no``,
            ``on/off``) or ``list`` (of strings: the flag repeated; in the environment split
            like a shell; in pyproject a list of strings or one string).
        low: smallest allowed value (inclusive), None for strings.
        above: the value must be greater than ``low`` (exclusive bound).
        high: largest allowed value (inclusive) or None. help: one line, with units.
        metavar: the value's name in help (``SECONDS``, ``USD``, ``NODEID``); "" for a switch.
    """

    name: str
    kind: type
    help: str
    low: float | None = None
    above: bool = False
    high: float | None = None
    metavar: str = ""

    @property
    def flag(self) -> str:
        """The command-line flag (``--max-seconds``; a switch: ``--lint/--no-lint``)."""
        flag = "--" + self.name.replace("_", "-")
        return f"{flag}/--no-{flag[2:]}" if self.kind is bool else flag

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
        if self.kind is bool:
            return _switch(value, where)
        if self.kind is list:
            return _strings(value, where)
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

    @property
    def allowed(self) -> str:
        """The allowed values in words (the reference table's last column)."""
        if self.kind is bool:
            return "true or false (env: 1/0, true/false, yes/no, on/off)"
        if self.kind is list:
            return "strings (env: space-separated, quoted like a shell)"
        if self.kind is str:
            return "a non-empty string"
        return self._range()

    def _range(self) -> str:
        what = "a whole number" if self.kind is int else "a finite number"
        if self.low is None:
            return what
        bound = f"{'>' if self.above else '>='} {self.low:g}"
        return f"{what} {bound}" + (f" and <= {self.high:g}" if self.high is not None else "")


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _switch(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    raise UsageError(f"{where}: must be true or false (1/0, yes/no, on/off)")


def _strings(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        try:
            value = shlex.split(value)
        except ValueError as exc:
            raise UsageError(f"{where}: {exc}") from None
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v.strip() for v in value):
        raise UsageError(f"{where}: must be a list of non-empty strings")
    return list(value)


#: What a user may set by flag, environment variable or ``[tool.loopwright]`` (the reference:
#: :func:`settings_table`, docs/configuration.md; the CLI's options are declared from these).
SETTINGS = (
    Setting("model", str, "generator: templates, openai:MODEL, anthropic:MODEL, replay:FILE or a chain "
            "templates,anthropic:MODEL (default: templates, escalating to a model when OPENAI_API_KEY or "
            "ANTHROPIC_API_KEY is set)", metavar="SPEC"),
    Setting("base_url", str, "API root of an OpenAI-compatible server (Ollama, vLLM, ...)", metavar="URL"),
    Setting("python", str, "target interpreter (default: the active $VIRTUAL_ENV, else REPO/.venv, else "
            "loopwright's own)", metavar="PATH"),
    Setting("max_iterations", int, "stop after N iterations (generator calls; review/ci: per comment or fix)",
            low=1, metavar="N"),
    Setting("max_seconds", float, "stop searching after this many wall-clock seconds; a patch found in time still gets "
            "its full-suite check and confirmation run (review/ci: per comment or fix)", low=0, above=True, metavar="SECONDS"),
    Setting("max_cost", float, "stop before a model call would spend more than this many USD", low=0,
            metavar="USD"),
    Setting("max_tokens", int, "stop before a model call would use more tokens (in + out) than this", low=1,
            metavar="TOKENS"),
    Setting("jobs", int, "candidates validated in parallel (default: the CPU count, at most 4)", low=1, high=64,
            metavar="N"),
    Setting("max_diff_lines", int, "largest patch accepted (added + removed lines; loop default 40)", low=1,
            metavar="LINES"),
    Setting("lint", bool, "on: reject patches that add ruff diagnostics even if the repository does not "
            "configure ruff (exit 2 if it cannot run); off: no lint evaluator (default: lint when configured; "
            "one that cannot run is skipped, and the run says so)"),
    Setting("types", bool, "on: reject patches that add type errors (mypy/pyright) even if not configured "
            "(exit 2 if none can run); off: no type evaluator (default: types when configured; one that cannot "
            "run is skipped, and the run says so)"),
    Setting("tests", list, "work on these failing tests only (pytest node ids or file paths; repeat the "
            "flag for more); every test still counts for regressions", metavar="NODEID"),
    Setting("keep", bool, "keep the run's worktrees after the run"),
    Setting("lessons", bool, "write the run's lesson to .loopwright/lessons.md in your working tree "
            "(default: only if that file is tracked; else in .git/loopwright/)"),
    Setting("fresh", bool, "ignore what earlier runs left: evaluate again the candidates they rejected and "
            "take the whole baseline (both are still recorded for later runs)"),
    Setting("read_lessons", bool, "read earlier fixes' lessons back: operator priors of the offline repairer, lessons "
            "in a model's prompt (default: off, no measured gain: docs/benchmarks.md; lessons are still written)"),
)
_BY_NAME = {s.name: s for s in SETTINGS}


def setting(name: str) -> Setting:
    """The :class:`Setting` called ``name``.

    Raises:
        KeyError: no such setting.
    """
    return _BY_NAME[name]


def settings(flags: Mapping[str, Any], root: Path | None, env: Mapping[str, str] | None = None,
             stored: Mapping[str, Any] | None = None, defaults: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The user settings in force, ``flag > stored > LOOPWRIGHT_* > [tool.loopwright] > defaults``;
    unset keys absent.

    Args:
        flags: setting name -> flag value (None: not given). Names outside
            :data:`SETTINGS` are ignored.
        root: the target repository (its ``pyproject.toml`` is read), or None.
        env: the environment (default ``os.environ``).
        stored: the settings a resumed run started with (``state.json``'s ``settings``).
        defaults: a command's own defaults (``do``: no lint or type evaluator unless asked).

    Raises:
        UsageError: a value out of range, an unknown ``[tool.loopwright]`` key, invalid TOML.
    """
    env = os.environ if env is None else env
    out = {k: v for k, v in (defaults or {}).items() if k in _BY_NAME}
    for name, value in _pyproject(root).items():
        out[name] = _BY_NAME[name].check(value, f"{root / 'pyproject.toml'} [tool.loopwright] {name} = {value!r}")
    for s in SETTINGS:
        if env.get(s.env, "").strip():
            out[s.name] = s.check(env[s.env].strip(), f"{s.env}={env[s.env]}")
    for name, value in (stored or {}).items():
        if value is not None and name in _BY_NAME:
            out[name] = _BY_NAME[name].check(value, f"the run's state.json settings {name} = {value!r}")
    for name, value in flags.items():
        if value is not None and name in _BY_NAME and value != []:
            out[name] = _BY_NAME[name].check(value, _flag_shown(_BY_NAME[name], value))
    return out


def _flag_shown(s: Setting, value: Any) -> str:
    if s.kind is bool:
        return s.flag.split("/")[0 if value else 1]
    if isinstance(value, list):
        return " ".join(f"{s.flag} {v}" for v in value)
    return f"{s.flag} {value:g}" if isinstance(value, float) else f"{s.flag} {value}"


def settings_table() -> str:
    """Every user setting as a Markdown table: flag, environment variable, ``[tool.loopwright]``
    key, what it does, allowed values (docs/configuration.md holds this table)."""
    rows = ["| flag | environment | `[tool.loopwright]` key | what it does | allowed |", "|---|---|---|---|---|"]
    for s in SETTINGS:
        flag = " / ".join(f"`{f}`" for f in s.flag.split("/")) + (f" {s.metavar}" if s.metavar else "")
        rows.append(f"| {flag} | `{s.env}` | `{s.name}` | {s.help} | {s.allowed} |")
    return "\n".join(rows) + "\n"


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
          env: Mapping[str, str] | None = None, force: Mapping[str, bool | None] | None = None,
          tests: tuple[str, ...] = (), stored: Mapping[str, Any] | None = None,
          defaults: Mapping[str, Any] | None = None, **fixed: Any) -> RunConfig:
    """The :class:`RunConfig` for ``loop`` (a :class:`loops.spec.LoopSpec`) and the user's settings.

    Args:
        root: the target repository, for ``[tool.loopwright]`` (None: not read).
        flags: setting name -> command-line value (None: not given); see :func:`settings`.
        force: evaluator id -> True to run it even if the repository does not configure
            it (``--lint``, ``--types``), False never to run it (``--no-lint``, ``--no-types``);
            the same as the ``lint``/``types`` flags (kept for callers that pass it so).
        tests: ``--tests`` node ids (the same as the ``tests`` flag).
        stored: the settings a resumed run started with; defaults: a command's own defaults
            (see :func:`settings`).
        **fixed: other :class:`RunConfig` fields set by the command (``apply``, ``jobs``).

    Raises:
        UsageError: a setting out of range (see :func:`settings`), or the loop names an
            evaluator implementation loopwright does not have.
    """
    given = dict(flags or {})
    for eid, on in (force or {}).items():
        if on is not None:
            given[eid] = on
    if tests:
        given["tests"] = list(tests)
    got = settings(given, root, env, stored, defaults)
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
    for eid in ("lint", "types"):  # --lint/--no-lint, --types/--no-types (unset: the loop's own)
        if got.get(eid) is not None and eid in static:
            static[eid] = "always" if got[eid] else "never"
    config = RunConfig(
        loop_name=loop.loop_name, python=got.get("python"),
        limits=lim,
        protected=tuple(ext["protected_paths"] or DEFAULT_PROTECTED),
        editable=tuple(ext["editable_paths"] or ("**",)),
        max_diff_lines=got.get("max_diff_lines", ext["max_diff_lines"]),
        candidates_per_iteration=ext["candidates_per_iteration"],
        timeouts=TimeoutPolicy(**t), static=static, implementations=implementations,
        tests=tuple(got.get("tests", ())), model=got.get("model"), base_url=got.get("base_url"),
        jobs=got.get("jobs", 0), keep=bool(got.get("keep", False)), lessons=bool(got.get("lessons", False)),
        fresh=bool(got.get("fresh", False)), settings=got,
        policy=replace(DEFAULT_POLICY, pass_env=tuple(ext.get("pass_env") or ())))
    for key, value in fixed.items():
        setattr(config, key, value)
    return config
