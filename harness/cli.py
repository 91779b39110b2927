"""The ``loopwright`` command line.

Exit codes (every command):
    0  fixed, or nothing to fix
    1  not fixed (the run ended without making every failing test pass)
    2  bad usage or input (not a git repository, no commits, no tests, pytest missing, …)
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.live import Live
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from evals.pytest_runner import TimeoutPolicy
from harness.fix import EXIT_BAD_INPUT, FixOptions, FixResult, UsageError, fix, resume
from harness.generators.base import Generator
from harness.loop import LoopEvent
from harness.stop import StopLimits
from loops.spec import LoopSpec, SpecError, builtin_names, builtin_spec, load_spec

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_show_locals=False, help=__doc__.split("\n")[0] + "\n\n"
                  "Finds failing tests, proposes small patches, verifies them in a git worktree. "
                  "Exit codes: 0 fixed or nothing to fix, 1 not fixed, 2 bad usage or input.")
err = Console(stderr=True)


def make_generator(spec_name: str, loop: LoopSpec, *, record: str | None = None,
                   replay: str | None = None, base_url: str | None = None) -> Generator:
    """The generator for ``--generator``/``--model`` (or the loop's worker model).

    ``templates`` is the offline repairer; ``openai:MODEL``, ``anthropic:MODEL`` and
    ``replay:FILE`` are model generators; ``A,B`` chains them (A first, B when A gives up).

    Raises:
        UsageError: unknown generator, missing API key, unusable cassette.
    """
    from harness.generators.llm import GeneratorError
    from harness.generators.registry import make_generator as make_llm

    parts = [p.strip() for p in spec_name.split(",") if p.strip()]
    if not parts:
        raise UsageError("--generator is empty; use templates, openai:MODEL, anthropic:MODEL or replay:FILE")
    built: list[Generator] = []
    for part in parts:
        if part in ("templates", "loopwright:templates"):
            from harness.generators.templates import TemplateGenerator

            built.append(TemplateGenerator(batch=int(loop.loopwright.get("candidates_per_iteration", 64))))
            continue
        try:
            built.append(make_llm(part, record=record, replay=replay, base_url=base_url))
        except (ValueError, GeneratorError) as exc:
            raise UsageError(str(exc)) from None
    if len(built) == 1:
        return built[0]
    from harness.generators.chain import ChainGenerator

    return ChainGenerator(built)


def default_generator(loop: LoopSpec) -> str:
    """The loop's worker model; for the offline default, escalate to a model when a key is set."""
    from harness.generators.registry import default_generator_spec

    if loop.generator != "templates":
        return loop.generator
    llm = default_generator_spec()
    return "templates" if llm == "templates" else f"templates,{llm}"


def _options(loop: LoopSpec, python, max_iterations, max_seconds, apply, keep, jobs,
             budgets: dict | None = None) -> FixOptions:
    lim = loop.limits().override(max_iterations=max_iterations, max_wall_seconds=max_seconds,
                                 **(budgets or {}))
    ext = loop.loopwright
    t = ext.get("test_timeout", {}) or {}
    return FixOptions(
        python=python,
        limits=StopLimits(lim.max_iterations, lim.max_wall_seconds, lim.no_progress,
                          lim.max_cost_usd, lim.max_tokens, lim.evaluator_error),
        protected=tuple(ext.get("protected_paths") or FixOptions().protected),
        apply=apply, keep=keep, jobs=jobs or 0,
        max_diff_lines=int(ext.get("max_diff_lines", 40)),
        timeouts=TimeoutPolicy(**{k: float(v) for k, v in t.items()
                                  if k in ("min_seconds", "factor", "default", "baseline")}),
        loop_name=loop.loop_name,
        static={eid: str((ext.get("evaluators", {}).get(eid) or {}).get("when", "configured"))
                for eid in ("lint", "types") if eid in loop.evaluator_ids()},
    )


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


def _run(repo: Path, loop: LoopSpec, generator_name: str | None, python, max_iterations,
         max_seconds, apply, keep, jobs, as_json: bool, run_id: str | None = None,
         llm: dict | None = None, budgets: dict | None = None, force: dict | None = None) -> None:
    console = Console(stderr=True, quiet=as_json)

    def say(message: str) -> None:
        console.print(f"[yellow]{message}[/]")

    try:
        options = _options(loop, python, max_iterations, max_seconds, apply, keep, jobs, budgets)
        for eid, on in (force or {}).items():
            if on:
                options.static[eid] = "always"
        generator = make_generator(generator_name or default_generator(loop), loop, **(llm or {}))
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
        if as_json:
            print(json.dumps({"status": "error", "error": str(exc), "exit_code": EXIT_BAD_INPUT}))
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    if as_json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        _summary(console, result)
    raise typer.Exit(result.exit_code)


def _summary(console: Console, result: FixResult) -> None:
    s = result.state
    colour = {"fixed": "green", "nothing_to_fix": "green", "partial": "yellow"}.get(s.status, "red")
    table = Table.grid(padding=(0, 2))
    table.add_row("status", f"[{colour}]{s.status}[/]")
    table.add_row("stop reason", f"{s.stop_reason} — {s.stop_detail}")
    table.add_row("tests fixed", f"{len(s.fixed_tests)} of {len(s.baseline_failing)}")
    for t in s.remaining[:10]:
        table.add_row("still failing", t)
    table.add_row("candidates", f"{s.candidates_tried} in {s.iteration} iteration(s)")
    table.add_row("time", f"{s.spent.wall_seconds:.1f} s ({s.spent.test_seconds:.1f} s in test processes)")
    if s.spent.model_calls:
        cost = "unknown" if s.spent.cost_usd is None else f"${s.spent.cost_usd:.4f}"
        table.add_row("model", f"{s.spent.model_calls} calls, {s.spent.tokens} tokens, {cost}")
    if result.patch:
        table.add_row("branch", s.branch)
        table.add_row("patch", result.patch_path)
    for m in result.messages:
        table.add_row("note", m)
    console.print(Panel(table, title=f"loopwright run {s.run_id}", expand=False))
    if result.patch:
        console.print(Syntax(result.patch, "diff", theme="ansi_dark", background_color="default"))


_REPO = typer.Argument(Path("."), help="The git repository (or a path inside it).")
_PY = typer.Option(None, "--python", help="Target interpreter (default: REPO/.venv, else this one).")
_ITER = typer.Option(None, "--max-iterations", help="Stop after N iterations (overrides the loop).")
_SECS = typer.Option(None, "--max-seconds", help="Stop after S wall seconds (overrides the loop).")
_APPLY = typer.Option(False, "--apply", help="Apply the final patch to your working tree (only if it is clean).")
_KEEP = typer.Option(False, "--keep", help="Keep the run's worktrees.")
_JSON = typer.Option(False, "--json", help="Print one JSON summary on stdout instead of the live view.")
_JOBS = typer.Option(0, "--jobs", help="Candidates validated in parallel (default: CPU count, at most 4).")
_GEN = typer.Option(None, "--generator", "--model",
                    help="templates | openai:MODEL | anthropic:MODEL | replay:FILE, or a chain "
                         "`templates,anthropic:MODEL` (default: templates, escalating to a model "
                         "when OPENAI_API_KEY or ANTHROPIC_API_KEY is set).")
_RECORD = typer.Option(None, "--record", help="Record every model exchange to this cassette (JSONL).")
_REPLAY = typer.Option(None, "--replay", help="Answer model calls from this cassette instead of the network.")
_BASE_URL = typer.Option(None, "--base-url", help="API root for OpenAI-compatible servers (Ollama, vLLM, …).")
_COST = typer.Option(None, "--max-cost", help="Stop before a model call would exceed this many USD.")
_LINT = typer.Option(False, "--lint", help="Reject patches that add ruff diagnostics, even if the repo does not configure ruff.")
_TYPES = typer.Option(False, "--types", help="Reject patches that add type errors (mypy/pyright), even if not configured.")
_TOKENS = typer.Option(None, "--max-tokens", help="Stop before a model call would exceed this many tokens.")


@app.command("fix")
def fix_cmd(repo: Path = _REPO, python: str | None = _PY, max_iterations: int | None = _ITER,
            max_seconds: float | None = _SECS, apply: bool = _APPLY, keep: bool = _KEEP,
            as_json: bool = _JSON, jobs: int = _JOBS, generator: str | None = _GEN,
            record: str | None = _RECORD, replay: str | None = _REPLAY, base_url: str | None = _BASE_URL,
            max_cost: float | None = _COST, max_tokens: int | None = _TOKENS,
            lint: bool = _LINT, types: bool = _TYPES) -> None:
    """Make the failing tests of REPO pass; the fix lands on branch loopwright/<run-id>."""
    _run(repo, builtin_spec("fix-failing-tests"), generator, python, max_iterations, max_seconds,
         apply, keep, jobs, as_json, llm=dict(record=record, replay=replay, base_url=base_url),
         budgets=dict(max_cost_usd=max_cost, max_tokens=max_tokens), force=dict(lint=lint, types=types))


@app.command("run")
def run_cmd(spec: Path = typer.Argument(..., help="An LSS 1.0 loop declaration (YAML)."),
            repo: Path = _REPO, python: str | None = _PY, max_iterations: int | None = _ITER,
            max_seconds: float | None = _SECS, apply: bool = _APPLY, keep: bool = _KEEP,
            as_json: bool = _JSON, jobs: int = _JOBS, generator: str | None = _GEN,
            record: str | None = _RECORD, replay: str | None = _REPLAY, base_url: str | None = _BASE_URL,
            max_cost: float | None = _COST, max_tokens: int | None = _TOKENS,
            lint: bool = _LINT, types: bool = _TYPES) -> None:
    """Run the loop declared in SPEC on REPO."""
    try:
        loop = load_spec(spec)
    except SpecError as exc:
        err.print(f"[red]invalid loop declaration:[/]\n{exc}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    _run(repo, loop, generator, python, max_iterations, max_seconds, apply, keep, jobs, as_json,
         llm=dict(record=record, replay=replay, base_url=base_url),
         budgets=dict(max_cost_usd=max_cost, max_tokens=max_tokens), force=dict(lint=lint, types=types))


@app.command("resume")
def resume_cmd(run_id: str = typer.Argument(..., help="The run to continue (see `loopwright status`)."),
               repo: Path = _REPO, python: str | None = _PY, max_iterations: int | None = _ITER,
               max_seconds: float | None = _SECS, apply: bool = _APPLY, keep: bool = _KEEP,
               as_json: bool = _JSON, jobs: int = _JOBS, generator: str | None = _GEN) -> None:
    """Continue an interrupted run (Ctrl-C, a crash, kill -9) from its last saved step."""
    try:
        from harness.state import RunFiles

        state = RunFiles(_repo_root(repo), run_id, create=False).load()
    except FileNotFoundError as exc:
        err.print(f"[red]error:[/] {exc}; list runs with `loopwright status`")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    if state.loop == "do-instruction":  # a terminal-agent run continues on its branch
        from harness.cli_do import resume_do

        resume_do(repo, run_id, generator=generator, python=python, max_iterations=max_iterations,
                  max_seconds=max_seconds, apply=apply, keep=keep, as_json=as_json)
    loop = builtin_spec(state.loop) if state.loop in builtin_names() else builtin_spec("fix-failing-tests")
    _run(repo, loop, generator or state.generator, python, max_iterations, max_seconds, apply, keep,
         jobs, as_json, run_id=run_id)


@app.command("status")
def status_cmd(repo: Path = _REPO, as_json: bool = _JSON) -> None:
    """List the runs of REPO with their state and stop reason."""
    from harness.state import list_runs

    runs = list_runs(_repo_root(repo))
    if as_json:
        print(json.dumps([{"run_id": s.run_id, "status": _shown_status(s, alive), "stop_reason": s.stop_reason,
                           "fixed": len(s.fixed_tests), "failing_at_start": len(s.baseline_failing),
                           "branch": s.branch, "wall_seconds": s.spent.wall_seconds} for s, alive in runs],
                         indent=2))
        return
    table = Table("run", "status", "stop reason", "fixed", "time", "branch")
    for s, alive in runs:
        table.add_row(s.run_id, _shown_status(s, alive), s.stop_reason,
                      f"{len(s.fixed_tests)}/{len(s.baseline_failing)}", f"{s.spent.wall_seconds:.0f}s",
                      s.branch if s.accepted else "")
    Console().print(table if runs else "no runs yet")


def _shown_status(state, alive: bool) -> str:
    if state.status == "running" and not alive:
        return "dead (resume it)"
    return state.status


@app.command("gc")
def gc_cmd(repo: Path = _REPO) -> None:
    """Remove the worktrees and empty branches of runs that are no longer running."""
    import git as gitlib

    from harness.state import list_runs
    from sandbox.worktree import Worktree, open_repo, worktree_root

    root = _repo_root(repo)
    r = open_repo(root)
    alive = {s.run_id for s, a in list_runs(root) if a}
    removed = []
    for line in r.git.worktree("list", "--porcelain").splitlines():
        if line.startswith("worktree "):
            p = Path(line[len("worktree "):])
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
    Console().print("\n".join(f"removed {x}" for x in removed) or "nothing to remove")


@app.command("doctor")
def doctor_cmd(repo: Path = _REPO, python: str | None = _PY) -> None:
    """Check git, the target interpreter, pytest, the evaluator tools and the sandbox policy."""
    import shutil
    import subprocess

    from evals.lint import RuffEvaluator
    from evals.pytest_runner import EvaluatorError, check_pytest, resolve_python
    from evals.types import TypeCheckEvaluator
    from harness.fix import DEFAULT_POLICY

    console = Console()
    table = Table("check", "result", show_header=False)
    problems = 0

    def row(name, ok, text):
        nonlocal problems
        problems += 0 if ok else 1
        table.add_row(name, f"[green]ok[/] {text}" if ok else f"[red]missing[/] {text}")

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
        else "not found: pip install ruff (the lint evaluator will be skipped)")
    types = TypeCheckEvaluator()
    ok = types.available(target) if target else False
    row("mypy/pyright (types)", ok, "available" if ok
        else "not found: pip install mypy (the type evaluator will be skipped)")
    console.print(table)
    policy = Table("sandbox policy", "", show_header=True)
    for k, v in DEFAULT_POLICY.describe().items():
        policy.add_row(k, v)
    console.print(policy)
    raise typer.Exit(0 if problems == 0 else 1)


def _repo_root(repo: Path) -> Path:
    from sandbox.worktree import RepoError, open_repo

    try:
        return Path(open_repo(repo).working_tree_dir)
    except RepoError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(EXIT_BAD_INPUT) from None


def main() -> None:
    """Console-script entry point."""
    app()


def _register_subcommands() -> None:
    """``do``/``undo`` (the terminal agent), ``review``/``ci`` and ``eval``/``report`` live in their own modules."""
    from harness import cli_do, cli_review
    from harness.eval import cli as cli_eval  # imports only typer; the eval machinery loads when run

    cli_do.register(app)
    cli_review.register(app)
    cli_eval.register(app)


_register_subcommands()


if __name__ == "__main__":
    main()
