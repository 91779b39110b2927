"""The ``loopwright`` command line.

Exit codes (every command):
    0  fixed, or nothing to fix
    1  not fixed (the run ended without making every failing test pass)
    2  bad usage or input (not a git repository, no commits, no tests, pytest missing, …)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.live import Live
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from evals.pytest_runner import TimeoutPolicy
from harness.fix import EXIT_BAD_INPUT, FixOptions, FixResult, UsageError, fix
from harness.generators.base import Generator
from harness.loop import LoopEvent
from harness.stop import StopLimits
from loops.spec import LoopSpec, SpecError, builtin_spec, load_spec

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__.split("\n")[0] + "\n\n"
                  "Finds failing tests, proposes small patches, verifies them in a git worktree. "
                  "Exit codes: 0 fixed or nothing to fix, 1 not fixed, 2 bad usage or input.")
err = Console(stderr=True)


def make_generator(spec_name: str, loop: LoopSpec) -> Generator:
    """The generator for ``--generator`` (or the loop's worker model).

    Raises:
        UsageError: unknown generator name.
    """
    batch = int(loop.loopwright.get("candidates_per_iteration", 40))
    if spec_name in ("templates", "loopwright:templates"):
        from harness.generators.templates import TemplateGenerator

        return TemplateGenerator(batch=batch)
    raise UsageError(f"unknown generator {spec_name!r}; available: templates")


def _options(loop: LoopSpec, python, max_iterations, max_seconds, apply, keep, jobs) -> FixOptions:
    lim = loop.limits().override(max_iterations=max_iterations, max_wall_seconds=max_seconds)
    ext = loop.loopwright
    t = ext.get("test_timeout", {}) or {}
    return FixOptions(
        python=python,
        limits=StopLimits(lim.max_iterations, lim.max_wall_seconds, lim.no_progress,
                          lim.max_cost_usd, lim.max_tokens),
        protected=tuple(ext.get("protected_paths") or FixOptions().protected),
        apply=apply, keep=keep, jobs=jobs or 0,
        max_diff_lines=int(ext.get("max_diff_lines", 40)),
        timeouts=TimeoutPolicy(**{k: float(v) for k, v in t.items()
                                  if k in ("min_seconds", "factor", "default", "baseline")}),
        loop_name=loop.loop_name,
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


def _run(repo: Path, loop: LoopSpec, generator_name: Optional[str], python, max_iterations,
         max_seconds, apply, keep, jobs, as_json: bool) -> None:
    console = Console(stderr=True, quiet=as_json)
    try:
        options = _options(loop, python, max_iterations, max_seconds, apply, keep, jobs)
        generator = make_generator(generator_name or loop.generator, loop)
        progress = _Progress(console)
        if as_json or not console.is_terminal:
            result = fix(repo, generator, options, progress, lambda m: console.print(f"[yellow]{m}[/]"))
        else:
            with Live(Text("starting…"), console=console, refresh_per_second=8, transient=True) as live:
                progress.live = live
                result = fix(repo, generator, options, progress,
                             lambda m: console.print(f"[yellow]{m}[/]"))
    except (UsageError, SpecError) as exc:
        if as_json:
            print(json.dumps({"status": "error", "error": str(exc), "exit_code": EXIT_BAD_INPUT}))
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(EXIT_BAD_INPUT)
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
_GEN = typer.Option(None, "--generator", help="Generator (default: the loop's worker; `templates` offline).")


@app.command("fix")
def fix_cmd(repo: Path = _REPO, python: Optional[str] = _PY, max_iterations: Optional[int] = _ITER,
            max_seconds: Optional[float] = _SECS, apply: bool = _APPLY, keep: bool = _KEEP,
            as_json: bool = _JSON, jobs: int = _JOBS, generator: Optional[str] = _GEN) -> None:
    """Make the failing tests of REPO pass; the fix lands on branch loopwright/<run-id>."""
    _run(repo, builtin_spec("fix-failing-tests"), generator, python, max_iterations, max_seconds,
         apply, keep, jobs, as_json)


@app.command("run")
def run_cmd(spec: Path = typer.Argument(..., help="An LSS 1.0 loop declaration (YAML)."),
            repo: Path = _REPO, python: Optional[str] = _PY, max_iterations: Optional[int] = _ITER,
            max_seconds: Optional[float] = _SECS, apply: bool = _APPLY, keep: bool = _KEEP,
            as_json: bool = _JSON, jobs: int = _JOBS, generator: Optional[str] = _GEN) -> None:
    """Run the loop declared in SPEC on REPO."""
    try:
        loop = load_spec(spec)
    except SpecError as exc:
        err.print(f"[red]invalid loop declaration:[/]\n{exc}")
        raise typer.Exit(EXIT_BAD_INPUT)
    _run(repo, loop, generator, python, max_iterations, max_seconds, apply, keep, jobs, as_json)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
