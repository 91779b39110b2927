"""``loopwright fix``, ``run``, ``resume``, ``status``, ``gc`` and ``doctor``.

Exit codes: 0 fixed or nothing to fix, 1 not fixed, 2 bad usage or input, 130 interrupted
(Ctrl-C or SIGTERM: the run is saved and ``loopwright resume RUN_ID REPO`` continues it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Column, Table
from rich.text import Text

from harness.cli.common import (Apply, BaseUrl, Fresh, Jobs, Json, Keep, Lessons, Lint, MaxCost, MaxDiffLines, MaxIterations,
                                MaxSeconds, MaxTokens, Model, Python, Quiet, ReadLessons, Record, Replay, Repo, Tests, Types,
                                Verbose, bad_input, build_generator, default_generator, err, interruptible,
                                run_config, run_flags)
from harness.cli.kept import gc_kept, status_kept
from harness.cli.progress import Progress, stopped
from harness.core.stop import reason_words
from harness.core.errors import EXIT_BAD_INPUT, UsageError
from harness.core.state import new_run_id
from harness.work.fix import FixResult, error_json, fix, resume
from loops.spec import LoopSpec, SpecError, builtin_names, builtin_spec, load_spec

commands = typer.Typer(rich_markup_mode=None)  # plain help: no <bool> metavar on flags


def _run(repo: Path, loop: LoopSpec, flags: dict, *, as_json: bool, apply: bool = False, verbose: bool = False,
         quiet: bool = False, record: str | None = None, replay: str | None = None, run_id: str | None = None,
         stored: dict | None = None, fallback_model: str | None = None) -> None:
    """Build the run configuration (:func:`~harness.cli.common.run_config`), run ``fix`` (or
    ``resume`` when ``run_id`` is given) with the progress on stderr, print the result; always
    ends with ``typer.Exit`` (the run's exit code, 2 on bad input, 130 on Ctrl-C/SIGTERM)."""
    console = Console(stderr=True)
    progress = Progress(console, live=console.is_terminal and not as_json, verbose=verbose, quiet=quiet)
    name = run_id or new_run_id()
    try:
        with interruptible():
            options = run_config(loop, repo, flags, stored=stored, apply=apply)
            spec = options.model or fallback_model or default_generator(loop)
            generator = build_generator(spec, loop, base_url=options.base_url, record=record, replay=replay)

            def go():
                if run_id:
                    return resume(repo, run_id, generator, options, progress, progress.say)
                return fix(repo, generator, options, progress, progress.say, run_id=name)

            if not progress.use_live:
                result = go()
            else:
                with Live(Text("starting…"), console=console, refresh_per_second=8, transient=True) as live:
                    progress.live = live
                    result = go()
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (Terminated)
        raise stopped(exc, repo, name, as_json) from None
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
    if s.status in ("fixed", "partial") and result.suspect:
        status += f" (suspect: {result.suspect})"
    status = "fixed (flagged)" if s.status == "flagged" else status
    table.add_row("status", f"[{colour}]{status}[/]")
    if result.patch and result.protected_by_tests is not None:
        table.add_row("evidence", f"{result.protected_by_tests} passing test(s) execute the changed lines")
    table.add_row("stop reason", f"{reason_words(s.stop_reason, s.stop_detail)} — {s.stop_detail}")
    table.add_row("tests fixed", f"{len(s.fixed_tests)} of {len(s.baseline_failing)}")
    for t in s.remaining[:10]:
        table.add_row("still failing", t + (f" ({result.reasons[t]})" if result.reasons.get(t) else ""))
    for t in result.flaky:
        table.add_row("flaky", t)
    table.add_row("candidates", f"{s.candidates_tried} in {s.iteration} iteration(s)")
    table.add_row("time", f"{s.spent.wall_seconds:.1f} s ({s.spent.test_seconds:.1f} s in test processes)")
    if result.python:
        table.add_row("python", Text(f"{result.python} ({result.python_why})", overflow="fold"))  # never cut
    for eid, what in result.evaluators.items():
        table.add_row(eid, f"[bold red]{escape(what)}[/]" if what.startswith("skipped:") else escape(what))
    if s.spent.model_calls:
        cost = "unknown" if s.spent.cost_usd is None else f"${s.spent.cost_usd:.4f}"
        table.add_row("model", f"{s.spent.model_calls} calls, {s.spent.tokens} tokens, {cost}")
    if result.patch:
        table.add_row("branch", s.branch)
    for f in s.flagged:
        table.add_row("flagged", escape(f))
    for m in result.messages:
        loud = m.startswith(("fixed (unprotected)", "fixed (suspect", "fixed (flagged)", "warning: "))
        table.add_row("[bold red]warning[/]" if loud else "note", escape(m.removeprefix("warning: ")))
    console.print(Panel(table, title=f"loopwright run {s.run_id}", expand=False))
    if result.patch:
        console.print(Syntax(result.patch, "diff", theme="ansi_dark", background_color="default"))
        # whole lines, never wrapped or cut, so they can be copied as they are
        console.print(f"patch: {result.patch_path}", soft_wrap=True, markup=False, highlight=False)
        console.print(f"apply it: git -C {s.repo} apply {result.patch_path}", soft_wrap=True, markup=False,
                      highlight=False)


@commands.command("fix")
def fix_cmd(repo: Repo = Path("."), python: Python = None, max_iterations: MaxIterations = None,
            max_seconds: MaxSeconds = None, max_cost: MaxCost = None, max_tokens: MaxTokens = None,
            apply: Apply = False, keep: Keep = None, as_json: Json = False, jobs: Jobs = None,
            model: Model = None, base_url: BaseUrl = None, record: Record = None, replay: Replay = None,
            lint: Lint = None, types: Types = None, tests: Tests = None, lessons: Lessons = None, fresh: Fresh = None,
            read_lessons: ReadLessons = None,
            max_diff_lines: MaxDiffLines = None, verbose: Verbose = False, quiet: Quiet = False) -> None:
    """Make the failing tests of REPO pass; the fix lands on branch loopwright/<run-id>.

    Exit codes: 0 fixed or nothing to fix, 1 not fixed, 2 bad usage or input, 130 interrupted
    (Ctrl-C or SIGTERM; it prints the `loopwright resume` command that continues the run)."""
    _run(repo, builtin_spec("fix-failing-tests"), run_flags(locals()), as_json=as_json, apply=apply,
         verbose=verbose, quiet=quiet, record=record, replay=replay)


@commands.command("run")
def run_cmd(spec: Annotated[Path, typer.Argument(metavar="SPEC", help="An LSS 1.0 loop declaration (YAML).")],
            repo: Repo = Path("."), python: Python = None, max_iterations: MaxIterations = None,
            max_seconds: MaxSeconds = None, max_cost: MaxCost = None, max_tokens: MaxTokens = None,
            apply: Apply = False, keep: Keep = None, as_json: Json = False, jobs: Jobs = None,
            model: Model = None, base_url: BaseUrl = None, record: Record = None, replay: Replay = None,
            lint: Lint = None, types: Types = None, tests: Tests = None, lessons: Lessons = None, fresh: Fresh = None,
            read_lessons: ReadLessons = None,
            max_diff_lines: MaxDiffLines = None, verbose: Verbose = False, quiet: Quiet = False) -> None:
    """Run the loop declared in SPEC on REPO (exit codes as for fix)."""
    flags = run_flags(locals())
    try:
        loop = load_spec(spec)
    except SpecError as exc:
        err.print(f"[red]invalid loop declaration:[/]\n{escape(str(exc))}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    _run(repo, loop, flags, as_json=as_json, apply=apply, verbose=verbose, quiet=quiet, record=record,
         replay=replay)


@commands.command("resume")
def resume_cmd(run_id: Annotated[str, typer.Argument(metavar="RUN_ID",
                                                     help="The run to continue (see `loopwright status`).")],
               repo: Repo = Path("."), python: Python = None, max_iterations: MaxIterations = None,
               max_seconds: MaxSeconds = None, max_cost: MaxCost = None, max_tokens: MaxTokens = None,
               apply: Apply = False, keep: Keep = None, as_json: Json = False, jobs: Jobs = None,
               model: Model = None, base_url: BaseUrl = None, record: Record = None, replay: Replay = None,
               lint: Lint = None, types: Types = None, tests: Tests = None, lessons: Lessons = None, fresh: Fresh = None,
               read_lessons: ReadLessons = None,
               max_diff_lines: MaxDiffLines = None, verbose: Verbose = False, quiet: Quiet = False) -> None:
    """Continue an interrupted run (Ctrl-C, SIGTERM, a crash, kill -9) from its last saved step,
    with the settings it was started with; flags given here override them (exit codes as for fix)."""
    from harness.core.state import RunFiles, StateError

    flags = run_flags(locals())
    try:
        state = RunFiles(_repo_root(repo), run_id, create=False).load()
    except (FileNotFoundError, StateError) as exc:
        message = f"{exc}; list runs with `loopwright status`"
        if as_json:
            print(json.dumps(error_json(message), indent=2))
        raise bad_input(UsageError(message), False) from None
    if state.loop == "do-instruction":  # a terminal-agent run continues on its branch
        from harness.cli.do import resume_do

        resume_do(repo, run_id, flags, apply=apply, as_json=as_json, record=record, replay=replay)
    loop = builtin_spec(state.loop) if state.loop in builtin_names() else builtin_spec("fix-failing-tests")
    _run(repo, loop, flags, as_json=as_json, apply=apply, verbose=verbose, quiet=quiet, record=record,
         replay=replay, run_id=run_id, stored=state.settings, fallback_model=state.generator)


@commands.command("status")
def status_cmd(repo: Repo = Path("."), as_json: Json = False,
               kept: Annotated[bool, typer.Option("--kept", help="Show how much state is kept between runs (runs, "
                                                  "candidate memory, baseline cache, lessons: counts and bytes).")
                               ] = False) -> None:
    """List the runs of REPO with their state and stop reason (corrupted runs as corrupted);
    with --kept, how much state loopwright keeps for REPO instead."""
    from harness.core.state import scan_runs

    if kept:
        return status_kept(_repo_root(repo), as_json)
    runs = scan_runs(_repo_root(repo))
    if as_json:
        print(json.dumps([_status_row(e) for e in runs], indent=2))
        return
    # the run id is what `resume` needs: never cut or wrapped, whatever the terminal's width
    table = Table(Column("run", no_wrap=True, min_width=max([len(e.run_id) for e in runs] + [3])),
                  "status", "stop reason", "fixed", "time", Column("branch", overflow="fold"))
    for e in runs:
        s = e.state
        if s is None:
            table.add_row(e.run_id, "running" if e.alive else "corrupted", escape(e.problem), "", "", "")
            continue
        table.add_row(s.run_id, _shown_status(s, e.alive), escape(reason_words(s.stop_reason, s.stop_detail)),
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
    """The status in words: a ``running`` run whose lock is free died (killed, crashed);
    ``interrupted`` and dead runs can be resumed."""
    if state.status == "running" and not alive:
        gone = state.worktree and not Path(state.worktree).exists()
        return "dead, worktree gone (resume it)" if gone else "dead (resume it)"
    return "interrupted (resume it)" if state.status == "interrupted" else state.status


def _drop(flag: str, text: str):
    return typer.Option(flag, help=text)


@commands.command("gc")
def gc_cmd(repo: Repo = Path("."),
           memory: Annotated[bool, _drop("--memory", "Also drop the candidate memory.")] = False,
           baseline: Annotated[bool, _drop("--baseline", "Also drop the stored baseline.")] = False,
           lessons: Annotated[bool, _drop("--lessons", "Also drop the lessons kept in .git/loopwright "
                                          "(never those in your working tree).")] = False,
           runs_too: Annotated[bool, _drop("--runs", "Also drop the files of finished runs.")] = False,
           everything: Annotated[bool, _drop("--all", "All of the above.")] = False) -> None:
    """Remove the worktrees, empty branches and scratch directories of runs that are no longer
    running (a run holding its lock is never touched, even before its state is written); with
    --memory, --baseline, --lessons, --runs or --all, also the state kept between runs."""
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
    _gc_dead(root, [e for e in runs if e.state is not None and not e.alive and e.state.status == "running"])
    removed += gc_kept(root, {"memory": memory, "baseline": baseline, "lessons": lessons,
                               "runs": runs_too}, everything)
    Console().print("\n".join(f"removed {x}" for x in removed) or "nothing to remove",  # whole paths
                    soft_wrap=True, markup=False, highlight=False)


def _gc_dead(root: Path, dead: list) -> None:
    """Record runs whose process died (``running`` with a free lock) as ``interrupted``: their
    worktrees are gone now, and ``resume`` rebuilds them from the state."""
    from harness.cli.progress import resume_command
    from harness.core.state import RunFiles

    for e in dead:
        s = e.state
        s.status, s.stop_reason = "interrupted", "interrupted"
        s.stop_detail = (f"interrupted (the process died; `loopwright gc` removed its worktrees); resume with "
                         f"`{resume_command(s.run_id, root)}`")
        RunFiles(root, s.run_id, create=False).save(s)


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
def doctor_cmd(repo: Repo = Path("."), python: Python = None, lint: Lint = None, types: Types = None) -> None:
    """Check git, the target interpreter, pytest, the evaluator tools and the sandbox policy.

    The interpreter and the evaluators are decided by the same functions as `fix` uses
    (with the same --python/--lint/--types): a configured evaluator that cannot run is shown
    as skipped, as `fix` goes on without it; one that --lint/--types asks for is a problem."""
    import shutil
    import subprocess

    from harness.core.config import DEFAULT_POLICY
    from harness.core.gates import check_evaluators
    from harness.evaluators.interpreter import EvaluatorError, check_pytest, choose_python

    if not repo.exists():
        raise bad_input(UsageError(f"{repo} does not exist; give the path of a git repository "
                                   "(or run `loopwright doctor` inside one)"), False)
    console = Console()
    table = Table("check", "result", show_header=False)
    problems = 0

    def row(name, ok, text, warn=False):
        nonlocal problems
        problems += 0 if ok or warn else 1
        mark = "[green]ok[/]" if ok else "[bold yellow]warning[/]" if warn else "[red]missing[/]"
        table.add_row(name, f"{mark} {escape(text)}")

    git_exe = shutil.which("git")
    row("git", bool(git_exe), subprocess.run([git_exe, "--version"], capture_output=True, text=True).stdout.strip()
        if git_exe else "install git")
    root = _repo_root(repo) if _in_git(repo) else repo.resolve()
    target = None
    try:
        target, why = choose_python(root, python)
        row("interpreter", True, f"{target} ({why})")
        try:
            row("pytest", True, check_pytest(target, root))
        except EvaluatorError as exc:
            row("pytest", False, str(exc))
    except EvaluatorError as exc:
        row("interpreter", False, str(exc))
    if target:
        try:
            config = run_config(builtin_spec("fix-failing-tests"), root,
                                run_flags(dict(python=python, lint=lint, types=types)))
            for eid, check in check_evaluators(config, target, root).items():
                row(f"{eid} evaluator", check.runs or check.text.startswith("off:"), check.text,
                    warn=check.skipped)
        except UsageError as exc:
            row("evaluators", False, str(exc))
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


def _in_git(path: Path) -> bool:
    from sandbox.worktree import RepoError, open_repo

    try:
        open_repo(path)
        return True
    except RepoError:
        return False


def _repo_root(repo: Path) -> Path:
    from sandbox.worktree import RepoError, open_repo

    try:
        return Path(open_repo(repo).working_tree_dir)
    except RepoError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
