"""Saying what a run is doing: the progress on stderr and what Ctrl-C (or SIGTERM) prints
(a stop reason in words is :func:`harness.core.stop.reason_words`).

Progress goes to stderr, so stdout holds only the result (the summary, or the ``--json``
object). On a terminal without ``--json`` it is a live view; otherwise (a pipe, a CI log,
``--json``) it is lines at a steady pace: one per iteration, one per
:data:`EVERY` candidates in between, one per accepted patch (``-v``: one per candidate).
``-q`` prints none of it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import typer
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.text import Text

from harness.cli.common import interrupted
from harness.core.errors import EXIT_INTERRUPTED
from harness.core.loop import LoopEvent
from harness.core.records import StopReason

#: without a live view, a progress line after this many candidates in one iteration
EVERY = 16

class Progress:
    """The run's observer (``on_event``) and its ``say``: a live view on a terminal, else lines.

    Args:
        console: stderr. live: show the live view (a terminal, no ``--json``).
        verbose: a line per candidate. quiet: nothing (errors and the result only).
    """

    def __init__(self, console: Console, *, live: bool, verbose: bool = False, quiet: bool = False):
        self.console, self.verbose, self.quiet = console, verbose, quiet
        self.use_live = live and not quiet
        self.last = ""
        self.live: Live | None = None
        self._shown = 0  # candidates_tried at the last progress line

    def say(self, message: str) -> None:
        """A note of the run (baseline, warnings), unless quiet."""
        if not self.quiet:
            self.console.print(f"[yellow]{escape(message)}[/]")

    def __call__(self, ev: LoopEvent) -> None:
        if self.quiet:
            return
        s = ev.state
        if ev.kind == "candidate" and ev.outcome is not None:
            o = ev.outcome
            mark = "[green]✓[/]" if o.accepted else "[red]✗[/]"
            self.last = f"{mark} {escape(o.patch.description)}  [dim]{escape(o.reason[:90])}[/]"
            if o.accepted:
                self.console.print(f"[green]accepted[/] {escape(o.patch.description)} — {escape(o.reason)}")
            elif self.verbose:
                self.console.print(self.last)
        if self.use_live:
            if self.live:
                self.live.update(self.render(s))
            return
        if ev.kind == "iteration" or (ev.kind == "candidate" and s.candidates_tried - self._shown >= EVERY):
            self._shown = s.candidates_tried
            self.console.print(self.line(s), markup=False, highlight=False)

    def line(self, s) -> str:
        """One progress line: iteration, candidates, tests fixed so far, seconds."""
        fixed = len(s.baseline_failing) - len(s.remaining)
        return (f"iteration {s.iteration}: {s.candidates_tried} candidates, {fixed}/{len(s.baseline_failing)} "
                f"fixed, {s.spent.wall_seconds:.0f}s")

    def render(self, s) -> Text:
        """The live view's text."""
        fixed = len(s.baseline_failing) - len(s.remaining)
        return Text.from_markup(
            f"[bold]iteration[/] {s.iteration}  [bold]candidates[/] {s.candidates_tried}  "
            f"[bold]best so far[/] {fixed}/{len(s.baseline_failing)} fixed  "
            f"[bold]time[/] {s.spent.wall_seconds:.0f}s\n{self.last}")


def resume_command(run_id: str, repo: Path) -> str:
    """The command that continues run ``run_id`` of ``repo`` from any folder."""
    return f"loopwright resume {run_id} {repo.resolve()}"


def stopped(exc: KeyboardInterrupt, repo: Path, run_id: str, as_json: bool) -> typer.Exit:
    """Say that Ctrl-C (or SIGTERM) stopped run ``run_id`` and how to resume it (stderr; with
    ``--json`` also the result object on stdout); the exit to raise (130). A run stopped before
    its state was written leaves nothing behind and has nothing to resume."""
    from harness.core.state import RunFiles, StateError

    how = interrupted(exc)
    hint = resume_command(run_id, repo)
    try:
        files = RunFiles(repo.resolve(), run_id)
        state = files.load() if files.state.exists() else None
    except (OSError, StateError, ValueError, subprocess.SubprocessError):  # not a repository, say
        files, state = None, None
    if files is not None and state is None:
        shutil.rmtree(files.dir, ignore_errors=True)
    if state is not None and state.status == "interrupted":  # what the state says, with the way on
        state.stop_detail = f"{state.stop_detail.split('; resume with')[0]}; resume with `{hint}`"
        files.save(state)
    if as_json:
        out = {"run_id": run_id, "status": "interrupted", "stop_reason": StopReason.INTERRUPTED,
               "stop_detail": f"interrupted ({how})", "resume": hint if state else None,
               "exit_code": EXIT_INTERRUPTED}
        print(json.dumps(out, indent=2))
    err = Console(stderr=True, soft_wrap=True)
    if state is None:
        err.print(f"\n[yellow]stopped ({how})[/] before run {run_id} began; nothing to resume")
    else:
        err.print(f"\n[yellow]stopped ({how})[/]: run {run_id} saved ({state.iteration} iteration(s), "
                  f"{state.candidates_tried} candidates).")
        err.print(f"Continue it with: {hint}", markup=False, highlight=False)
    return typer.Exit(EXIT_INTERRUPTED)
