"""What every ``loopwright`` command shares: the generator factory, the run configuration
from flags, the error exit, and the options several commands declare alike.

The command modules (:mod:`harness.cli.fix`, :mod:`harness.cli.do`,
:mod:`harness.cli.review`, :mod:`harness.cli.ci`) import this module; none imports another command module
or :mod:`loopwright.cli` (which loads them lazily by name).
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from harness.core import config as config
from harness.core.errors import EXIT_BAD_INPUT, UsageError
from harness.core.protocols import Generator, GeneratorError
from loops.spec import LoopSpec

err = Console(stderr=True, soft_wrap=True)  # an error stays one line, however long


def build_generator(spec_name: str, loop: LoopSpec, *, record: str | None = None,
                   replay: str | None = None, base_url: str | None = None) -> Generator:
    """The generator for ``--generator``/``--model`` (or the loop's worker model).

    ``templates`` is the offline repairer; ``openai:MODEL``, ``anthropic:MODEL`` and
    ``replay:FILE`` are model generators; ``A,B`` chains them (A first, B when A gives up).
    The loop's worker model gets the worker's ``temperature`` and ``max_tokens`` (LSS
    ``workers[0].model``); another model keeps the generator's defaults.

    Raises:
        UsageError: unknown generator, missing API key, unusable cassette.
    """
    from harness.generators.registry import make_generator as make_llm

    parts = [p.strip() for p in spec_name.split(",") if p.strip()]
    if not parts:
        raise UsageError("--generator is empty; use templates, openai:MODEL, anthropic:MODEL or replay:FILE")
    built: list[Generator] = []
    for part in parts:
        if part in ("templates", "loopwright:templates"):
            from harness.generators.templates import TemplateGenerator

            built.append(TemplateGenerator(batch=loop.loopwright["candidates_per_iteration"]))
            continue
        model = loop.workers[0].model
        knobs = {k: v for k, v in (("temperature", model.temperature), ("max_tokens", model.max_tokens))
                 if v is not None and part == loop.generator}
        try:
            built.append(make_llm(part, record=record, replay=replay, base_url=base_url, **knobs))
        except (ValueError, GeneratorError) as exc:
            raise UsageError(str(exc)) from None
    if len(built) == 1:
        return built[0]
    from harness.generators.chain import ChainGenerator

    return ChainGenerator(built)


#: the built-in loop ``review`` and ``ci`` run on review comments
REVIEW_LOOP = "review-comments"


def review_generator(spec: str | None, loop: LoopSpec, **llm):
    """The model for review tasks: ``spec``, else the loop's model, else whichever
    provider has a key. The offline ``templates`` repairer only fixes failing tests.

    Raises:
        UsageError: ``templates`` asked for, or no usable model (the message says which key to set).
    """
    from harness.generators.registry import KEY_ENV, default_generator_spec

    if spec is None:
        provider = loop.generator.split(":")[0]
        spec = loop.generator if os.environ.get(KEY_ENV.get(provider, "")) else default_generator_spec()
        if spec == "templates":
            spec = loop.generator
    if "templates" in [p.strip() for p in spec.split(",")]:
        raise UsageError("review comments need a model: the offline templates repairer only fixes failing "
                         "tests; use --model openai:MODEL or anthropic:MODEL (or replay:FILE)")
    try:
        return build_generator(spec, loop, **llm)
    except UsageError as exc:  # the generic advice to run offline does not apply here
        msg = re.sub(r",? (?:or )?(?:run offline with|use) --model templates", "", str(exc))
        raise UsageError(msg + "; review comments need a model (or --replay FILE)") from None


def default_generator(loop: LoopSpec) -> str:
    """The loop's worker model; for the offline default, escalate to a model when a key is set."""
    from harness.generators.registry import default_generator_spec

    if loop.generator != "templates":
        return loop.generator
    llm = default_generator_spec()
    return "templates" if llm == "templates" else f"templates,{llm}"


def run_config(loop: LoopSpec, repo: Path | None, flags: dict[str, Any], **fixed: Any) -> config.RunConfig:
    """:func:`harness.core.config.build` with the repository root found from ``repo`` (a path
    inside it; ``[tool.loopwright]`` is read there) — a path that is not in a git
    repository reads no pyproject (the run itself reports that error).

    Raises:
        UsageError: a setting out of range or an unknown ``[tool.loopwright]`` key.
    """
    return config.build(loop, _root(repo), flags, **fixed)


def _root(repo: Path | None) -> Path | None:
    if repo is None:
        return None
    from sandbox.worktree import RepoError, open_repo

    try:
        return Path(open_repo(repo).working_tree_dir)
    except RepoError:
        return None


def bad_input(exc: Exception, as_json: bool) -> typer.Exit:
    """Print ``exc`` as the one-line error (and the ``--json`` error object); the exit to raise."""
    if as_json:
        print(json.dumps({"status": "error", "error": str(exc), "exit_code": EXIT_BAD_INPUT}))
    err.print(f"[red]error:[/] {escape(str(exc))}")
    return typer.Exit(EXIT_BAD_INPUT)


REPO = typer.Argument(Path("."), help="The git repository (or a path inside it).")
PYTHON = typer.Option(None, "--python", help="Target interpreter (default: REPO/.venv, else this one).")
MAX_ITERATIONS = typer.Option(None, "--max-iterations", help="Stop after N iterations (overrides the loop).")
MAX_SECONDS = typer.Option(None, "--max-seconds", help="Stop after S wall seconds (overrides the loop).")
MAX_COST = typer.Option(None, "--max-cost", help="Stop before a model call would exceed this many USD.")
MAX_TOKENS = typer.Option(None, "--max-tokens", help="Stop before a model call would exceed this many tokens.")
BASE_URL = typer.Option(None, "--base-url", help="API root for OpenAI-compatible servers (Ollama, vLLM, …).")
RECORD = typer.Option(None, "--record", help="Record every model exchange to this cassette (JSONL).")
REPLAY = typer.Option(None, "--replay", help="Answer model calls from this cassette instead of the network.")
#: review and ci: a model (templates only for ci's fix), budgets per comment / per fix
REVIEW_MODEL = typer.Option(None, "--model", "--generator", help="openai:MODEL | anthropic:MODEL | replay:FILE; for "
                            "fix also templates or a chain (default: the loop's model, or the provider whose key "
                            "is set).")
PER_TASK_ITERATIONS = typer.Option(None, "--max-iterations",
                                   help="Iterations per comment / per fix (overrides the loop).")
PER_TASK_SECONDS = typer.Option(None, "--max-seconds", help="Wall seconds per comment / per fix (overrides the loop).")
JSON_SUMMARY = typer.Option(False, "--json", help="Print one JSON summary on stdout.")

#: fix, run, resume, status: what a run does at the end, how it runs, which evaluators judge
APPLY = typer.Option(False, "--apply", help="Apply the final patch to your working tree (only if it is clean).")
KEEP = typer.Option(False, "--keep", help="Keep the run's worktrees.")
RUN_JSON = typer.Option(False, "--json", help="Print one JSON summary on stdout instead of the live view.")
JOBS = typer.Option(None, "--jobs", "-j", help=f"Candidates validated in parallel (default: {config.default_jobs()}, "
                     "the CPU count, at most 4).")
GENERATOR = typer.Option(None, "--generator", "--model",
                    help="templates | openai:MODEL | anthropic:MODEL | replay:FILE, or a chain "
                         "templates,anthropic:MODEL (default: templates, escalating to a model "
                         "when OPENAI_API_KEY or ANTHROPIC_API_KEY is set).")
LINT = typer.Option(None, "--lint/--no-lint", show_default=False,
                     help="--lint: reject patches that add ruff diagnostics even if the repo does not configure "
                          "ruff. --no-lint: no lint evaluator (else a configured one that cannot run is exit 2).")
TYPES = typer.Option(None, "--types/--no-types", show_default=False,
                      help="--types: reject patches that add type errors (mypy/pyright) even if not configured. "
                           "--no-types: no type evaluator (else a configured one that cannot run is exit 2).")
LESSONS = typer.Option(False, "--lessons", help="Write the run's lesson to .loopwright/lessons.md in your "
                        "working tree (default: only if that file is tracked; else in .git/loopwright/).")
FRESH = typer.Option(False, "--fresh", help="Ignore what earlier runs left: evaluate the candidates they rejected "
                     "again and take the whole baseline (both are still recorded for later runs).")
TESTS = typer.Option(None, "--tests", help="Work on these failing tests only (pytest node ids or file paths; repeat "
                      "the option for more). Every test still counts for regressions.")

#: The options ``fix`` and ``run`` share, in help order: name -> (type, Typer option or argument).
#: Declared once here; :func:`run_options` adds them to a command.
RUN_OPTIONS: dict[str, tuple[Any, Any]] = {
    "repo": (Path, REPO), "python": (str | None, PYTHON), "max_iterations": (int | None, MAX_ITERATIONS),
    "max_seconds": (float | None, MAX_SECONDS), "apply": (bool, APPLY), "keep": (bool, KEEP),
    "as_json": (bool, RUN_JSON), "jobs": (int | None, JOBS), "generator": (str | None, GENERATOR),
    "record": (str | None, RECORD), "replay": (str | None, REPLAY), "base_url": (str | None, BASE_URL),
    "max_cost": (float | None, MAX_COST), "max_tokens": (int | None, MAX_TOKENS), "lint": (bool | None, LINT),
    "types": (bool | None, TYPES), "tests": (list[str] | None, TESTS), "lessons": (bool, LESSONS),
    "fresh": (bool, FRESH),
}


def run_options(command: Callable[..., None]) -> Callable[..., None]:
    """``command(*own parameters, flags)`` as a Typer command taking its own parameters, then
    :data:`RUN_OPTIONS`; ``command`` gets those options' values as ``flags`` (a dict, name -> value).

    Typer reads a command's parameters from its signature, so the returned function states
    them in ``__signature__`` (and their types in ``__annotations__``)."""
    own = [p for p in inspect.signature(command, eval_str=True).parameters.values() if p.name != "flags"]
    shared = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=kind)
              for name, (kind, option) in RUN_OPTIONS.items()]
    own = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own]

    @functools.wraps(command)
    def with_options(**values: Any) -> None:
        flags = {name: values.pop(name) for name in RUN_OPTIONS}
        return command(**values, flags=flags)

    with_options.__signature__ = inspect.Signature(own + shared)  # type: ignore[attr-defined]
    with_options.__annotations__ = {p.name: p.annotation for p in own + shared}
    return with_options
