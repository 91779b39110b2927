"""``loopwright fix``, ``run``, ``resume``, ``status``, ``gc`` and ``doctor``.

Exit codes: 0 fixed or nothing to fix, 1 not fixed, 2 bad usage or input.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from harness.cli.common import (APPLY, GENERATOR, JOBS, KEEP, MAX_ITERATIONS, MAX_SECONDS, PYTHON, REPO, RUN_JSON,
                                bad_input, build_generator, default_generator, err, run_config, run_options)
from harness.core.errors import EXIT_BAD_INPUT, UsageError
from harness.work.fix import FixResult, error_json, fix, resume
from harness.core.loop import LoopEvent
from loops.spec import LoopSpec, SpecError, builtin_names, builtin_spec, load_spec

commands = typer.Typer(rich_markup_mode=None)  # plain help: no <bool> metavar on flags


class _Progress:
    """Live view: iteration, candidate, tests run, best so far."""

    def __init__(self, console: Console):
        self.console = console
        self.last = ""
        self.live: Live | None = None

    def __call__(self, ev: LoopEvent) -> None:
        s = ev.state
        if ev.kind == "candidate" and ev.outcome is not None:
            o = ev.outcome
            mark = "[green]✓[/]" if o.accepted else "[red]✗[/]"
            self.last = f"{mark} {o.patch.description}  [dim]{o.reason[:90]}[/]"
            if o.accepted:
                self.console.print(f"[green]accepted[/] {o.patch.description} — {o.reason}")
        if self.live:
            self.live.update(self.render(s))

    def render(self, s) -> Text:
        fixed = len(s.baseline_failing) - len(s.remaining)
        return Text.from_markup(
            f"[bold]iteration[/] {s.iteration}  [bold]candidates[/] {s.candidates_tried}  "
            f"[bold]best so far[/] {fixed}/{len(s.baseline_failing)} fixed  "
            f"[bold]time[/] {s.spent.wall_seconds:.0f}s\n{self.last}")


def _run(repo: Path, loop: LoopSpec, as_json: bool, flags: dict, *, apply: bool = False, keep: bool = False,
         run_id: str | None = None, llm: dict | None = None, force: dict | None = None,
         tests: list[str] | None = None, fallback_model: str | None = None, lessons: bool = False) -> None:
    """Build the run configuration, run ``fix`` (or ``resume``) with the live view, print the
    summary; always ends with ``typer.Exit`` (the run's exit code, 2 on bad input)."""
    console = Console(stderr=True, quiet=as_json)

    def say(message: str) -> None:
        console.print(f"[yellow]{message}[/]")

    try:
        options = run_config(loop, repo, flags, apply=apply, keep=keep, force=force, tests=tuple(tests or ()),
                             lessons=lessons)
        spec = options.model or fallback_model or default_generator(loop)
        generator = build_generator(spec, loop, base_url=options.base_url, **(llm or {}))
        progress = _Progress(console)

        def go():
            if run_id:
                return resume(repo, run_id, generator, options, progress, say)
            return fix(repo, generator, options, progress, say)

        if as_json or not console.is_terminal:
            result = go()
        else:
            with Live(Text("starting…"), console=console, refresh_per_second=8, transient=True) as live:
                progress.live = live
                result = go()
    except (UsageError, SpecError) as exc:
        if as_json:  # every field of a run's result, null where unknown
            print(json.dumps(error_json(str(exc)), indent=2))
        raise bad_input(exc, False) from None
    if as_json:
        print(json.dumps(result.to_json(), indent=2))
    else:  # the summary is the command's output (stdout); progress went to stderr
        _summary(Console(), result)
    raise typer.Exit(result.exit_code)


def _summary(console: Console, result: FixResult) -> None:
    s = result.state
    colour = {"fixed": "green", "nothing_to_fix": "green", "partial": "yellow", "flagged": "yellow"}.get(s.status, "red")
    table = Table.grid(padding=(0, 2))
    status = f"{s.status} (unprotected)" if s.status in ("fixed", "partial") and result.unprotected else s.status
    status = "fixed (flagged)" if s.status == "flagged" else status
    table.add_row("status", f"[{colour}]{status}[/]")
    if result.patch and result.protected_by_tests is not None:
        table.add_row("evidence", f"{result.protected_by_tests} passing test(s) execute the changed lines")
    table.add_row("stop reason", f"{s.stop_reason} — {s.stop_detail}")
    table.add_row("tests fixed", f"{len(s.fixed_tests)} of {len(s.baseline_failing)}")
    for t in s.remaining[:10]:
        table.add_row("still failing", t + (f" ({result.reasons[t]})" if result.reasons.get(t) else ""))
    for t in result.flaky:
        table.add_row("flaky", t)
    table.add_row("candidates", f"{s.candidates_tried} in {s.iteration} iteration(s)")
    table.add_row("time", f"{s.spent.wall_seconds:.1f} s ({s.spent.test_seconds:.1f} s in test processes)")
    if s.spent.model_calls:
        cost = "unknown" if s.spent.cost_usd is None else f"${s.spent.cost_usd:.4f}"
        table.add_row("model", f"{s.spent.model_calls} calls, {s.spent.tokens} tokens, {cost}")
    if result.patch:
        table.add_row("branch", s.branch)
    for f in s.flagged:
        table.add_row("flagged", escape(f))
    for m in result.messages:
        table.add_row("warning" if m.startswith(("fixed (unprotected)", "fixed (flagged)")) else "note", escape(m))
    console.print(Panel(table, title=f"loopwright run {s.run_id}", expand=False))
    if result.patch:
        console.print(Syntax(result.patch, "diff", theme="ansi_dark", background_color="default"))
        # whole lines, never wrapped or cut, so they can be copied as they are
        console.print(f"patch: {result.patch_path}", soft_wrap=True, markup=False, highlight=False)
        console.print(f"apply it: git apply {result.patch_path}", soft_wrap=True, markup=False,
                      highlight=False)


def _flags(python, max_iterations, max_seconds, jobs, generator, base_url, max_cost=None, max_tokens=None) -> dict:
    return dict(python=python, max_iterations=max_iterations, max_seconds=max_seconds, jobs=jobs, model=generator,
                base_url=base_url, max_cost=max_cost, max_tokens=max_tokens)


def _run_shared(loop: LoopSpec, f: dict) -> None:
    """:func:`_run` with the values of :data:`~harness.cli.common.RUN_OPTIONS` (``fix`` and ``run``)."""
    _run(f["repo"], loop, f["as_json"],
         _flags(f["python"], f["max_iterations"], f["max_seconds"], f["jobs"], f["generator"], f["base_url"],
                f["max_cost"], f["max_tokens"]),
         apply=f["apply"], keep=f["keep"], llm=dict(record=f["record"], replay=f["replay"]),
         force=dict(lint=f["lint"], types=f["types"]), tests=f["tests"], lessons=f["lessons"])


@commands.command("fix")
@run_options
def fix_cmd(flags: dict) -> None:
    """Make the failing tests of REPO pass; the fix lands on branch loopwright/<run-id>."""
    _run_shared(builtin_spec("fix-failing-tests"), flags)


@commands.command("run")
@run_options
def run_cmd(spec: Path = typer.Argument(..., help="An LSS 1.0 loop declaration (YAML)."), *, flags: dict) -> None:
    """Run the loop declared in SPEC on REPO."""
    try:
        loop = load_spec(spec)
    except SpecError as exc:
        err.print(f"[red]invalid loop declaration:[/]\n{escape(str(exc))}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    _run_shared(loop, flags)


@commands.command("resume")
def resume_cmd(run_id: str = typer.Argument(..., help="The run to continue (see `loopwright status`)."),
               repo: Path = REPO, python: str | None = PYTHON, max_iterations: int | None = MAX_ITERATIONS,
               max_seconds: float | None = MAX_SECONDS, apply: bool = APPLY, keep: bool = KEEP,
               as_json: bool = RUN_JSON, jobs: int | None = JOBS, generator: str | None = GENERATOR) -> None:
    """Continue an interrupted run (Ctrl-C, a crash, kill -9) from its last saved step."""
    from harness.core.state import RunFiles, StateError

    try:
        state = RunFiles(_repo_root(repo), run_id, create=False).load()
    except (FileNotFoundError, StateError) as exc:
        message = f"{exc}; list runs with `loopwright status`"
        if as_json:
            print(json.dumps(error_json(message), indent=2))
        raise bad_input(UsageError(message), False) from None
    if state.loop == "do-instruction":  # a terminal-agent run continues on its branch
        from harness.cli.do import resume_do

        resume_do(repo, run_id, generator=generator, python=python, max_iterations=max_iterations,
                  max_seconds=max_seconds, apply=apply, keep=keep, as_json=as_json)
    loop = builtin_spec(state.loop) if state.loop in builtin_names() else builtin_spec("fix-failing-tests")
    _run(repo, loop, as_json, _flags(python, max_iterations, max_seconds, jobs, generator, None),
         apply=apply, keep=keep, run_id=run_id, fallback_model=state.generator)


@commands.command("status")
def status_cmd(repo: Path = REPO, as_json: bool = RUN_JSON) -> None:
    """List the runs of REPO with their state and stop reason (corrupted runs as corrupted)."""
    from harness.core.state import scan_runs

    runs = scan_runs(_repo_root(repo))
    if as_json:
        print(json.dumps([_status_row(e) for e in runs], indent=2))
        return
    table = Table("run", "status", "stop reason", "fixed", "time", "branch")
    for e in runs:
        s = e.state
        if s is None:
            table.add_row(e.run_id, "running" if e.alive else "corrupted", escape(e.problem), "", "", "")
            continue
        table.add_row(s.run_id, _shown_status(s, e.alive), escape(s.stop_reason),
                      f"{len(s.fixed_tests)}/{len(s.baseline_failing)}", f"{s.spent.wall_seconds:.0f}s",
                      s.branch if s.accepted else "")
    Console().print(table if runs else "no runs yet")


def _status_row(entry) -> dict:
    s = entry.state
    if s is None:
        return {"run_id": entry.run_id, "status": "running" if entry.alive else "corrupted",
                "stop_reason": "", "problem": entry.problem, "fixed": None, "failing_at_start": None,
                "branch": "", "wall_seconds": None}
    return {"run_id": s.run_id, "status": _shown_status(s, entry.alive), "stop_reason": s.stop_reason,
            "fixed": len(s.fixed_tests), "failing_at_start": len(s.baseline_failing),
            "branch": s.branch, "wall_seconds": s.spent.wall_seconds}


def _shown_status(state, alive: bool) -> str:
    if state.status == "running" and not alive:
        return "dead (resume it)"
    return state.status


@commands.command("gc")
def gc_cmd(repo: Path = REPO) -> None:
    """Remove the worktrees, empty branches and scratch directories of runs that are no longer
    running (a run holding its lock is never touched, even before its state is written)."""
    import git as gitlib

    from harness.core.state import scan_runs
    from sandbox.gitcmd import list_worktrees
    from sandbox.worktree import Worktree, open_repo, worktree_root

    root = _repo_root(repo)
    r = open_repo(root)
    runs = scan_runs(root)
    alive = {e.run_id for e in runs if e.alive}
    removed = []
    for entry in list_worktrees(r):
        p = entry.path
        run_id = p.name.split(".")[0]
        if p.parent.resolve() == worktree_root().resolve() and run_id not in alive:
            Worktree(r, p, None).remove()
            removed.append(str(p))
    r.git.worktree("prune")
    for branch in r.branches:
        run_id = branch.name.removeprefix("loopwright/")
        if branch.name.startswith("loopwright/") and run_id not in alive:
            try:
                ahead = int(r.git.rev_list("--count", f"HEAD..{branch.name}"))
            except gitlib.GitCommandError:
                continue
            if ahead == 0:  # nothing on it: a run that died before committing
                r.git.branch("-D", branch.name)
                removed.append(branch.name)
    removed += _gc_scratch(worktree_root(), {e.run_id for e in runs} - alive)
    Console().print("\n".join(f"removed {x}" for x in removed) or "nothing to remove",  # whole paths
                    soft_wrap=True, markup=False, highlight=False)


def _gc_scratch(where: Path, dead: set[str]) -> list[str]:
    """Remove the scratch directories (``<run>.scratch``, ``<run>.mypy-cache``) of this
    repository's dead runs, and empty ones a day old (another repository's runs share
    ``where``, and a run that is starting has an empty one)."""
    import shutil
    import time

    out = []
    old = time.time() - 86400
    for d in sorted(where.glob("*.scratch")) + sorted(where.glob("*.mypy-cache")) if where.is_dir() else []:
        if d.is_dir() and (d.name.rsplit(".", 1)[0] in dead
                           or (not any(d.iterdir()) and d.stat().st_mtime < old)):
            shutil.rmtree(d, ignore_errors=True)
            out.append(str(d))
    return out


@commands.command("doctor")
def doctor_cmd(repo: Path = REPO, python: str | None = PYTHON) -> None:
    """Check git, the target interpreter, pytest, the evaluator tools and the sandbox policy."""
    import shutil
    import subprocess

    from harness.evaluators.lint import RuffEvaluator
    from harness.evaluators.pytest_runner import EvaluatorError, check_pytest, resolve_python
    from harness.evaluators.types import TypeCheckEvaluator
    from harness.core.config import DEFAULT_POLICY

    if not repo.exists():
        raise bad_input(UsageError(f"{repo} does not exist; give the path of a git repository "
                                   "(or run `loopwright doctor` inside one)"), False)
    console = Console()
    table = Table("check", "result", show_header=False)
    problems = 0

    def row(name, ok, text, optional=False):
        nonlocal problems
        problems += 0 if ok or optional else 1
        missing = "[yellow]optional, not installed[/]" if optional else "[red]missing[/]"
        table.add_row(name, f"[green]ok[/] {text}" if ok else f"{missing} {text}")

    git_exe = shutil.which("git")
    row("git", bool(git_exe), subprocess.run([git_exe, "--version"], capture_output=True, text=True).stdout.strip()
        if git_exe else "install git")
    root = repo.resolve()
    try:
        target = resolve_python(root, python)
        row("interpreter", True, target)
        try:
            row("pytest", True, check_pytest(target, root))
        except EvaluatorError as exc:
            row("pytest", False, str(exc))
    except EvaluatorError as exc:
        row("interpreter", False, str(exc))
        target = None
    ruff = RuffEvaluator()
    row("ruff (lint)", ruff.available(), "available" if ruff.available()
        else "pip install ruff (the lint evaluator will be skipped)", optional=True)
    ok = TypeCheckEvaluator(python=target).available() if target else False
    row("mypy/pyright (types)", ok, "available" if ok
        else "pip install mypy (the type evaluator will be skipped)", optional=True)
    console.print(table)
    policy = Table("sandbox policy", "", show_header=True)
    for k, v in DEFAULT_POLICY.describe().items():
        policy.add_row(k, v)
    console.print(policy)
    mode = DEFAULT_POLICY.mode()
    console.print("sandbox in force: [green]strong[/] (bubblewrap)" if mode == "strong" else
                  "[bold red]sandbox in force: WEAK[/] — bubblewrap is not in use (not installed, no user "
                  "namespaces, or LOOPWRIGHT_SANDBOX=weak); tests can write outside the worktree and "
                  "`loopwright ci` refuses to run without --allow-weak-sandbox")
    raise typer.Exit(0 if problems == 0 else 1)


def _repo_root(repo: Path) -> Path:
    from sandbox.worktree import RepoError, open_repo

    try:
        return Path(open_repo(repo).working_tree_dir)
    except RepoError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
