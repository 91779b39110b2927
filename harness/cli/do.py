"""``loopwright do "INSTRUCTION"`` and ``loopwright undo``: the developer's terminal agent.

``do`` turns an instruction (or ``-f TASK.md``) into a task and carries it out
with the ``do-instruction`` loop (:func:`harness.work.instruct.carry_out`): each patch
the evaluators verified is shown as a coloured diff with their verdicts and the
developer approves, rejects (with a reason the model is told) or stops
(:mod:`harness.cli.interactive`); ``--yes`` approves every verified patch unattended
within the loop's budgets. Approved patches are checkpoint commits on
``loopwright/<run-id>``; ``undo`` drops the newest one. At the end the result is
applied to the developer's (clean) working tree or kept on the branch. Ctrl-C
stops cleanly and :func:`resume_do` (``loopwright resume RUN_ID``) continues the
instruction on the same branch.

The run's settings (instruction, ``--check``, model, base URL, ``--yes``) are kept
in ``.git/loopwright/runs/<run-id>/do.json`` so a resumed run goes on as it started.

Exit codes: 0 done, 1 not done (stopped by a rule or by the developer),
2 bad usage or input, 130 interrupted with Ctrl-C (resumable).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from harness.cli.common import (BaseUrl, Keep, MaxCost, MaxIterations, MaxSeconds, MaxTokens, Python, Record, Replay,
                                Repo, bad_input, build_generator, interruptible, interrupted, run_config, run_flags)
from harness.cli.common import Lint as _Lint
from harness.cli.common import Types as _Types
from harness.core.stop import reason_words
from harness.core.errors import EXIT_INTERRUPTED, UsageError
from harness.work.instruct import InstructResult, carry_out, instruction_task
from harness.cli.interactive import Narrator, Reviewer, auto_approve, choose_ending, interrupt_guard
from harness.core.state import RunFiles, new_run_id
from harness.core.records import StopReason
from harness.core.stop import is_fault
from harness.work.undo import DO_LOOP, DoSettings, apply_result, load_run, repo_root, undo_last
from loops.spec import SpecError, builtin_spec

commands = typer.Typer(rich_markup_mode=None)  # plain help: no <bool> metavar on flags


_JSON = Annotated[bool, typer.Option("--json", help="Print one JSON summary on stdout (the UI goes to stderr).")]
_YES = Annotated[bool, typer.Option("--yes", "-y", help="Approve every verified patch unattended, within the "
                                    "budgets.")]
_APPLY = Annotated[bool, typer.Option("--apply", help="At the end, apply the result to your working tree (only if "
                                      "clean).")]
_KEEP_BRANCH = Annotated[bool, typer.Option("--keep-branch", help="At the end, keep the result on its branch only.")]
_MODEL = Annotated[str | None, typer.Option(
    "--model", "--generator", metavar="SPEC", help="openai:MODEL | anthropic:MODEL | replay:FILE (default: the loop's "
    "model, anthropic:claude-sonnet-4-6, or openai when only OPENAI_API_KEY is set). [env LOOPWRIGHT_MODEL; "
    "pyproject model]")]
#: ``do`` checks lint and types only when asked (--lint, --types, or their env/pyproject forms)
DO_DEFAULTS = {"lint": False, "types": False}


@commands.command("do")
def do_cmd(instruction: Annotated[str | None, typer.Argument(metavar="INSTRUCTION",
                                                             help="What to change, in plain words.")] = None,
           repo: Repo = Path("."),
           task_file: Annotated[Path | None, typer.Option(
               "-f", "--file", metavar="PATH",
               help="Read the instruction from this file (then the first argument is the repository).")] = None,
           check: Annotated[str | None, typer.Option(
               "--check", metavar="COMMAND", help="A command that must succeed for a patch to be accepted, "
               "e.g. \"pytest tests/test_new.py\" (split like a shell).")] = None,
           yes: _YES = False, model: _MODEL = None, base_url: BaseUrl = None, record: Record = None,
           replay: Replay = None, max_iterations: MaxIterations = None, max_seconds: MaxSeconds = None,
           max_cost: MaxCost = None, max_tokens: MaxTokens = None, python: Python = None,
           apply: _APPLY = False, keep_branch: _KEEP_BRANCH = False, keep: Keep = None,
           lint: _Lint = None, types: _Types = None, as_json: _JSON = False) -> None:
    """Carry out INSTRUCTION in REPO as small verified patches you approve one by one.

    Exit codes: 0 done, 1 not done, 2 bad usage or input, 130 interrupted (Ctrl-C or SIGTERM; resumable).
    """
    flags = run_flags(locals())
    console = Console(stderr=True, quiet=as_json and yes)
    try:
        text = _instruction(instruction, task_file, repo)
        if task_file is not None and instruction is not None and repo == Path("."):
            repo = Path(instruction)
        task = instruction_task(text)
        argv = _check_argv(check)
        _need_terminal(yes)
        _, root = repo_root(repo)
        loop = builtin_spec(DO_LOOP)
        options = run_config(loop, repo, flags, defaults=DO_DEFAULTS, jobs=1)
        spec = _model(loop, options.model, replay)
        base_url = options.base_url
        gen = _generator(spec, loop, record, replay, base_url)
        run_id = new_run_id()
        files = RunFiles(root, run_id)
        DoSettings(task.instruction, argv, spec, base_url, yes).save(files)
    except (UsageError, SpecError) as exc:
        raise bad_input(exc, as_json) from None
    console.print(f"[bold]loopwright do[/] run {run_id} with {gen.name}: "
                  f"{escape(task.instruction.splitlines()[0][:100])}")

    def go(approve, narrator, say):
        return carry_out(root, [task], gen, options, loop_name=DO_LOOP, check=argv, approve=approve,
                         on_event=narrator, say=say, run_id=run_id)

    _execute(go, console, root, run_id, argv, yes, apply, keep_branch, as_json, loop, fresh=files)


def resume_do(repo: Path, run_id: str, flags: dict | None = None, *, apply: bool = False,
              keep_branch: bool = False, as_json: bool = False, yes: bool | None = None,
              record: str | None = None, replay: str | None = None) -> None:
    """Continue a stopped ``do`` run on its branch (what ``loopwright resume RUN_ID`` runs for a
    run whose ``state.loop == "do-instruction"``). Always ends with ``typer.Exit`` (the exit code).

    Args:
        repo: the repository. run_id: the run.
        flags: :func:`~harness.cli.common.run_flags` of the command (None: none given); over the
            settings the run started with (its state's ``settings``, ``do.json``'s model and base URL).
        yes: override the run's ``do.json`` (None: as the run started).
        apply, keep_branch: what to do with the result at the end (as for ``do``).
        record, replay: model cassettes (as for ``do``).
    """
    from harness.work.instruct_resume import RESUMABLE, continue_instruction

    flags = dict(flags or {})
    console = Console(stderr=True, quiet=as_json and bool(yes))
    try:
        _, root = repo_root(repo)
        files, state = load_run(root, run_id)
        if state.loop != DO_LOOP:
            raise UsageError(f"run {run_id} is a {state.loop} run; continue it with `loopwright resume`")
        if state.status not in RESUMABLE:
            raise UsageError(f"run {run_id} already finished ({state.status}: {state.stop_reason}); "
                             "start a new one with `loopwright do`")
        settings = DoSettings.load(files)
        yes = settings.yes if yes is None else yes
        console.quiet = as_json and yes
        _need_terminal(yes)
        loop = builtin_spec(DO_LOOP)
        stored = {"model": settings.model, "base_url": settings.base_url, **state.settings}
        options = run_config(loop, repo, flags, stored=stored, defaults=DO_DEFAULTS, jobs=1)
        spec = options.model or _model(loop, None, replay)
        gen = _generator(spec, loop, record, replay, options.base_url)
        task = instruction_task(settings.instruction)
    except (UsageError, SpecError) as exc:
        raise bad_input(exc, as_json) from None
    console.print(f"[bold]loopwright do[/] resuming run {run_id} with {gen.name}: "
                  f"{escape(task.instruction.splitlines()[0][:100])}")

    def go(approve, narrator, say):
        return continue_instruction(root, run_id, task, gen, options, check=settings.check,
                                    approve=approve, on_event=narrator, say=say)

    _execute(go, console, root, run_id, settings.check, yes, apply, keep_branch, as_json, loop)


@commands.command("resume-do", hidden=True)
def resume_do_cmd(run_id: Annotated[str, typer.Argument(metavar="RUN_ID", help="The do run to continue.")],
                  repo: Repo = Path("."),
                  yes: Annotated[bool | None, typer.Option(
                      "--yes/--ask", help="Approve unattended (default: as the run started).")] = None,
                  model: _MODEL = None, base_url: BaseUrl = None, record: Record = None, replay: Replay = None,
                  max_iterations: MaxIterations = None, max_seconds: MaxSeconds = None, max_cost: MaxCost = None,
                  max_tokens: MaxTokens = None, python: Python = None, keep: Keep = None,
                  lint: _Lint = None, types: _Types = None,
                  apply: _APPLY = False, keep_branch: _KEEP_BRANCH = False, as_json: _JSON = False) -> None:
    """Continue a stopped `loopwright do` run on its branch (what `loopwright resume` runs for do runs)."""
    resume_do(repo, run_id, run_flags(locals()), apply=apply, keep_branch=keep_branch, as_json=as_json, yes=yes,
              record=record, replay=replay)


@commands.command("undo")
def undo_cmd(run_id: Annotated[str | None, typer.Argument(metavar="RUN_ID",
                                                          help="The do run (default: the most recent).")] = None,
             repo: Repo = Path("."),
             as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False) -> None:
    """Drop the last checkpoint commit of a `loopwright do` run (refused when only the base is left)."""
    if run_id and repo == Path(".") and Path(run_id).is_dir():  # `loopwright undo REPO`
        run_id, repo = None, Path(run_id)
    try:
        res = undo_last(repo, run_id)
    except UsageError as exc:
        raise bad_input(exc, as_json) from None
    if as_json:
        print(json.dumps(asdict(res), indent=2))
        return
    left = f"{res.left} checkpoint(s) left" if res.left else "only the base commit is left"
    Console().print(f"dropped checkpoint {res.dropped[:8]} [bold]{escape(res.subject)}[/] from {res.branch}; {left}")


# -- shared by do and resume ------------------------------------------------------------------

def _execute(go, console: Console, root: Path, run_id: str, check, yes: bool, apply: bool,
             keep_branch: bool, as_json: bool, loop, fresh: RunFiles | None = None) -> None:
    """Run ``go(approve, narrator, say)`` with the UI, handle Ctrl-C, finish; raises typer.Exit."""
    def say(message: str) -> None:
        console.print(f"[yellow]{escape(message)}[/]")

    approve = auto_approve(console, check) if yes else \
        Reviewer(console, check, max_rejections=loop.limits().human_rejected)
    try:
        with interruptible(), interrupt_guard(console):
            result = go(approve, Narrator(console), say)
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM
        _interrupted(console, root, run_id, as_json, interrupted(exc))
    except UsageError as exc:
        if fresh is not None and not fresh.state.exists():  # nothing started: leave no trace
            shutil.rmtree(fresh.dir, ignore_errors=True)
        raise bad_input(exc, as_json) from None
    ending, applied, note = _ending(console, root, result, yes, apply, keep_branch, as_json)
    if as_json:
        print(json.dumps(_to_json(result, ending, applied, note), indent=2))
    else:
        _summary(console, result, note)
    raise typer.Exit(result.exit_code)


def _ending(console: Console, root: Path, result: InstructResult, yes: bool, apply: bool,
            keep_branch: bool, as_json: bool) -> tuple[str, bool, str]:
    """Apply the result to the working tree or keep the branch: ``(ending, applied, message)``."""
    if not result.patch:
        return "none", False, ""
    if is_fault(result.state.stop_reason):  # the verdicts are not to be trusted
        return "keep", False, (f"not applied: {result.state.stop_detail.splitlines()[0]}; the branch "
                               f"{result.state.branch} is kept for you to inspect")
    if apply and keep_branch:
        console.print("[yellow]--apply and --keep-branch both given: keeping the branch only[/]")
    if apply and not keep_branch:
        choice = "apply"
    elif keep_branch or yes or as_json or not sys.stdin.isatty():
        choice = "keep"
    else:
        o = result.outcomes[0]
        console.print(Text(f"{o.status}: {o.detail}", style="bold"))
        console.print(Text(f"{len(o.commits)} approved checkpoint(s) on {result.branch}:"))
        repo, _ = repo_root(root)
        console.print(Text(repo.git.diff("--stat", result.state.base_commit, result.branch)))
        try:
            choice = choose_ending(console)
        except KeyboardInterrupt:
            choice = "keep"
    state = result.state
    if choice == "keep":
        return "keep", False, (f"kept on branch {state.branch} (apply it later with "
                               f"`git -C {root} apply {result.patch_path}`, or `git merge {state.branch}`)")
    repo, _ = repo_root(root)
    files = RunFiles(root, state.run_id, create=False)
    applied, message = apply_result(repo, state, files)
    return "apply", applied, message


def _interrupted(console: Console, root: Path, run_id: str, as_json: bool, how: str = "Ctrl-C") -> None:
    """Record the Ctrl-C (``how``: or SIGTERM) in the run's state and say how to resume; raises
    typer.Exit(130)."""
    from harness.work.undo import checkpoints

    files = RunFiles(root, run_id)
    if not files.state.exists():  # stopped before the run began: nothing to resume
        shutil.rmtree(files.dir, ignore_errors=True)
        if as_json:
            print(json.dumps({"run_id": run_id, "status": "interrupted", "exit_code": EXIT_INTERRUPTED}))
        Console(stderr=True).print(f"\n[yellow]stopped ({how})[/] before the run began; nothing to resume")
        raise typer.Exit(EXIT_INTERRUPTED)
    state = files.load()
    if state.status in ("running", "interrupted"):
        state.status, state.stop_reason = "interrupted", StopReason.INTERRUPTED
        state.stop_detail = f"interrupted ({how}); resume with `loopwright resume {run_id} {root}`"
        files.save(state)
    repo, _ = repo_root(root)
    commits = len(checkpoints(repo, state))
    branch = state.branch if commits else ""
    where = f"; {commits} approved checkpoint(s) kept on {branch}" if commits else ""
    hint = f"loopwright resume {run_id} {root}"
    if as_json:
        print(json.dumps({"run_id": run_id, "status": "interrupted", "branch": branch, "commits": commits,
                          "resume": hint, "exit_code": EXIT_INTERRUPTED}, indent=2))
    Console(stderr=True).print(f"\n[yellow]stopped ({how})[/]: run {run_id} saved{where}.\n"
                               f"Continue it with: [bold]{escape(hint)}[/]")
    raise typer.Exit(EXIT_INTERRUPTED)


def _summary(console: Console, result: InstructResult, note: str) -> None:
    s = result.state
    o = result.outcomes[0]
    colour = "green" if o.status in ("done", "answered") else "yellow"
    table = Table.grid(padding=(0, 2))
    table.add_row("status", f"[{colour}]{o.status}[/]")
    table.add_row("stop reason", Text(f"{reason_words(o.stop_reason, o.detail)} — {o.detail}"))
    table.add_row("checkpoints", f"{len(o.commits)} approved commit(s)" + (f" on {s.branch}" if o.commits else ""))
    table.add_row("iterations", f"{s.iteration} ({s.candidates_tried} patch(es) evaluated)")
    cost = "unknown" if s.spent.cost_usd is None else f"${s.spent.cost_usd:.4f}"
    table.add_row("model", f"{s.generator}: {s.spent.model_calls} call(s), {s.spent.tokens} tokens, {cost}")
    table.add_row("time", f"{s.spent.wall_seconds:.1f} s")
    if result.patch_path:
        table.add_row("patch", Text(result.patch_path, overflow="fold"))
    for m in result.messages:
        table.add_row("note", Text(m))
    if note:
        table.add_row("result", Text(note))
    if o.status not in ("done", "answered"):
        table.add_row("continue", f"loopwright resume {s.run_id} {s.repo}")
    console.print(Panel(table, title=f"loopwright do — run {s.run_id}", expand=False))


def _to_json(result: InstructResult, ending: str, applied: bool, note: str) -> dict:
    s = result.state
    out = result.outcomes[0].to_json()
    out.update({"run_id": s.run_id, "branch": result.branch, "patch": result.patch,
                "patch_path": result.patch_path, "ending": ending, "applied": applied, "result": note,
                "iterations": s.iteration, "candidates_tried": s.candidates_tried,
                "model_calls": s.spent.model_calls, "tokens": s.spent.tokens, "cost_usd": s.spent.cost_usd,
                "wall_seconds": s.spent.wall_seconds, "messages": result.messages,
                **result.setup_json(), "exit_code": result.exit_code})
    return out


# -- inputs ------------------------------------------------------------------------------------

def _instruction(instruction: str | None, task_file: Path | None, repo: Path) -> str:
    if task_file is None:
        if instruction is None:
            raise UsageError('say what to change: loopwright do "INSTRUCTION" [REPO], or -f TASK.md')
        return instruction
    if instruction is not None and repo != Path("."):
        raise UsageError("give the instruction either as text or with -f TASK.md, not both")
    try:
        return task_file.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read the task file {task_file}: {exc.strerror}") from None


def _check_argv(check: str | None) -> list[str] | None:
    if check is None:
        return None
    try:
        argv = shlex.split(check)
    except ValueError as exc:
        raise UsageError(f"--check {check!r}: {exc}") from None
    if not argv:
        raise UsageError("--check is empty; give a command, e.g. --check \"pytest tests/test_new.py\"")
    return argv


def _need_terminal(yes: bool) -> None:
    if not yes and not sys.stdin.isatty():
        raise UsageError("stdin is not a terminal, so nobody can approve the patches: run in a terminal, "
                         "or pass --yes to approve every verified patch unattended (within the budgets)")


def _model(loop, generator: str | None, replay: str | None) -> str:
    """The generator spec: ``--model``, else the loop's model if its key is set, else openai."""
    from harness.generators.registry import DEFAULT_MODELS, KEY_ENV

    if generator:
        spec = generator
    elif replay:
        spec = f"replay:{replay}"
    else:
        provider = loop.generator.split(":", 1)[0]
        spec = loop.generator
        if not os.environ.get(KEY_ENV.get(provider, "")) and os.environ.get("OPENAI_API_KEY"):
            spec = f"openai:{DEFAULT_MODELS['openai']}"
    if any(p.strip() in ("templates", "loopwright:templates") for p in spec.split(",")):
        raise UsageError("the offline templates repairer cannot carry out instructions; use a model: "
                         "--model anthropic:MODEL or openai:MODEL (with --base-url for a local server)")
    return spec


def _generator(spec: str, loop, record, replay, base_url):
    try:
        return build_generator(spec, loop, record=record, replay=replay, base_url=base_url)
    except UsageError as exc:
        if "is not set" not in str(exc):
            raise
        raise UsageError(str(exc).split(", or run offline")[0] + "; `loopwright do` needs a model (set "
                         "ANTHROPIC_API_KEY or OPENAI_API_KEY, or pass --model openai:MODEL --base-url URL "
                         "for a local OpenAI-compatible server)") from None
