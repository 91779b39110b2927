"""What every ``loopwright`` command shares: the generator factory, the run configuration
from flags, the error exit, Ctrl-C/SIGTERM, and the options, declared once.

One path from flags to a run: each option is an ``Annotated`` type declared here (the user
settings from :data:`harness.core.config.SETTINGS`, so the flag, its ``LOOPWRIGHT_*``
variable and ``[tool.loopwright]`` key are named once); a command lists the ones it takes,
and :func:`run_flags` + :func:`run_config` turn their values into its ``RunConfig``.

The command modules (:mod:`harness.cli.fix`, :mod:`harness.cli.do`,
:mod:`harness.cli.review`, :mod:`harness.cli.ci`) import this module; none imports another command module
or :mod:`loopwright.cli` (which loads them lazily by name).
"""

from __future__ import annotations

import json
import os
import re
import signal
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

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


def run_config(loop: LoopSpec, repo: Path | None, flags: Mapping[str, Any], *,
               stored: Mapping[str, Any] | None = None, defaults: Mapping[str, Any] | None = None,
               **fixed: Any) -> config.RunConfig:
    """Every command's ``RunConfig``: :func:`harness.core.config.build` with the repository root
    found from ``repo`` (a path inside it; ``[tool.loopwright]`` is read there) — a path that
    is not in a git repository reads no pyproject (the run itself reports that error).

    Args:
        flags: :func:`run_flags` of the command's parameters.
        stored: a resumed run's ``settings`` record (below the flags, above env and pyproject).
        defaults: the command's own defaults (below everything else).
        **fixed: :class:`RunConfig` fields the command sets itself (``apply``, ``jobs``).

    Raises:
        UsageError: a setting out of range or an unknown ``[tool.loopwright]`` key.
    """
    return config.build(loop, _root(repo), flags, stored=stored, defaults=defaults, **fixed)


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


def _setting(name: str, *decls: str, help: str | None = None) -> Any:
    """The Typer option of user setting ``name`` (:data:`harness.core.config.SETTINGS`): its flag,
    metavar and help, which names its ``LOOPWRIGHT_*`` variable and ``[tool.loopwright]`` key."""
    s = config.setting(name)
    text = help or s.help[0].upper() + s.help[1:]
    return typer.Option(*(decls or (s.flag,)), metavar=s.metavar or None, show_default=False,
                        help=f"{text}. [env {s.env}; pyproject {s.name}]")


# -- the option declarations, once: every command names the ones it takes by these types ----------
Repo = Annotated[Path, typer.Argument(metavar="REPO", help="The git repository (or a path inside it).")]
Python = Annotated[str | None, _setting("python")]
MaxIterations = Annotated[int | None, _setting("max_iterations")]
MaxSeconds = Annotated[float | None, _setting("max_seconds")]
MaxCost = Annotated[float | None, _setting("max_cost")]
MaxTokens = Annotated[int | None, _setting("max_tokens")]
MaxDiffLines = Annotated[int | None, _setting("max_diff_lines")]
Jobs = Annotated[int | None, _setting("jobs", "--jobs", "-j", help=(
    f"Candidates validated in parallel (default: {config.default_jobs()}, the CPU count, at most 4)"))]
Model = Annotated[str | None, _setting("model", "--model", "--generator")]
ReviewModel = Annotated[str | None, _setting("model", "--model", "--generator", help=(
    "openai:MODEL | anthropic:MODEL | replay:FILE; for ci's fix also templates or a chain (default: the "
    "loop's model, or the provider whose key is set)"))]
BaseUrl = Annotated[str | None, _setting("base_url")]
Lint = Annotated[bool | None, _setting("lint")]
Types = Annotated[bool | None, _setting("types")]
Tests = Annotated[list[str] | None, _setting("tests")]
Keep = Annotated[bool | None, _setting("keep")]
Lessons = Annotated[bool | None, _setting("lessons")]
Fresh = Annotated[bool | None, _setting("fresh")]
ReadLessons = Annotated[bool | None, _setting("read_lessons")]
Record = Annotated[str | None, typer.Option("--record", metavar="FILE",
                                            help="Record every model exchange to this cassette (JSONL).")]
Replay = Annotated[str | None, typer.Option("--replay", metavar="FILE",
                                            help="Answer model calls from this cassette instead of the network.")]
Apply = Annotated[bool, typer.Option("--apply", help="Apply the final patch to your working tree (only if it is "
                                     "clean). A flag only: it writes to your tree, so no file or variable sets it.")]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON summary on stdout (progress still goes to "
                                    "stderr; -q silences it).")]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Say more: every candidate with its verdict.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Say less: no progress or notes on stderr, only "
                                     "errors and the result.")]


def run_flags(values: Mapping[str, Any]) -> dict[str, Any]:
    """The user settings among a command's parameters (``locals()`` at its start): setting name ->
    value, None where not given. What :func:`run_config` takes as ``flags``."""
    return {s.name: values.get(s.name) for s in config.SETTINGS}


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C would be so that a run ends on the same path: its state says
    ``interrupted``, its worktrees and temporary files are removed, the exit is 130."""


@contextmanager
def interruptible() -> Iterator[None]:
    """Within: SIGTERM raises :class:`Terminated` ("terminated (SIGTERM)") in the main thread,
    as SIGINT raises ``KeyboardInterrupt``; the previous handler is put back after."""
    def handler(signum, frame):
        raise Terminated("terminated (SIGTERM)")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def interrupted(exc: KeyboardInterrupt) -> str:
    """How the run was stopped, in words: ``Ctrl-C`` or ``SIGTERM``."""
    return "SIGTERM" if isinstance(exc, Terminated) else "Ctrl-C"
