"""The developer's side of ``loopwright do``: review each verified patch in the terminal.

:class:`Reviewer` is the human evaluator the loop calls with every patch that
passed the deterministic evaluators: it shows the patch as a coloured diff with
the evaluators' verdicts (tests run and seconds, lint, types, the ``--check``
command) and asks ``a`` approve / ``r`` reject (then why: the reason goes back to
the model) / ``s`` stop. :class:`Narrator` prints what the loop is doing between
reviews (a model call, a patch the evaluators rejected and why).
:func:`interrupt_guard` makes Ctrl-C stop a run cleanly: the first Ctrl-C raises
``KeyboardInterrupt`` wherever the run is (waiting at the prompt, waiting for the
model or the tests), later ones are ignored while the run saves its state.
"""

from __future__ import annotations

import contextlib
import os
import select
import shlex
import signal
import sys
from collections.abc import Callable, Iterator

from rich.console import Console, Group
from rich.markup import escape
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from harness.core.loop import LoopEvent
from harness.core.outcome import Outcome
from harness.core.stop import human_rejected

PROMPT = "[bold]a[/] approve · [bold]r[/] reject (say why) · [bold]s[/] stop › "
WHY = "why? (sent to the model) › "
ANSWERS = {"a": "approve", "approve": "approve", "y": "approve", "yes": "approve",
           "r": "reject", "reject": "reject", "n": "reject", "no": "reject",
           "s": "stop", "stop": "stop", "q": "stop", "quit": "stop"}


def read_line(console: Console, prompt: str, poll: float = 0.2) -> str:
    """Show ``prompt`` and read one line from the terminal, staying interruptible by Ctrl-C.

    The read waits in ``select`` with a ``poll``-second timeout instead of blocking in
    ``input()``: a SIGINT the kernel hands to another thread (the validator's workers)
    does not interrupt a blocked read in the main thread, so without the timeout the
    Python handler would not run until the developer pressed Enter.

    Raises:
        EOFError: the input was closed (Ctrl-D).
    """
    try:
        fd = sys.stdin.fileno()
    except (AttributeError, OSError, ValueError):  # not a real stream (tests)
        return console.input(prompt)
    console.print(prompt, end="")
    data = b""
    while not data.endswith(b"\n"):
        if not select.select([fd], [], [], poll)[0]:
            continue
        chunk = os.read(fd, 4096)
        if not chunk:
            if data:
                break
            raise EOFError
        data += chunk
    return data.decode("utf-8", "replace").rstrip("\r\n")


def verdict_rows(outcome: Outcome, check: list[str] | None = None) -> list[tuple[str, str]]:
    """The evaluators' verdicts on a verified patch as ``(evaluator, words)`` rows.

    ``outcome.seconds`` holds wall seconds per stage that ran (``probe``, ``screen``,
    ``full``, ``lint``, ``types``, ``check``); a stage absent from it did not run.
    """
    sec = outcome.seconds
    test_s = sum(v for k, v in sec.items() if k in ("probe", "screen", "full"))
    rows = [("tests", f"[green]passed[/] — {outcome.tests_run} run, none that passed before "
                      f"fails ({test_s:.1f} s)" if outcome.tests_run
             else "[yellow]no tests ran[/] (the repository has none)")]
    for eid in ("lint", "types"):
        rows.append((eid, f"[green]passed[/] — no new diagnostics ({sec[eid]:.1f} s)" if eid in sec
                     else "[dim]not run (not configured for this repository)[/]"))
    if check:
        rows.append(("check", f"[green]passed[/] — `{escape(shlex.join(check))}` ({sec.get('check', 0.0):.1f} s)"))
    else:
        rows.append(("check", "[dim]none (add one with --check CMD)[/]"))
    return rows


def render_patch(outcome: Outcome, number: int, check: list[str] | None = None) -> Panel:
    """A panel with the patch's description, the verdicts and the coloured diff."""
    table = Table.grid(padding=(0, 2))
    for name, words in verdict_rows(outcome, check):
        table.add_row(Text(name, style="bold"), Text.from_markup(words))
    files = ", ".join(outcome.patch.files)
    diff = Syntax(outcome.patch.diff.rstrip("\n"), "diff", theme="ansi_dark",
                  background_color="default", word_wrap=True)
    head = Text(outcome.patch.description, style="bold")
    head.append(f"\n{files} · +{outcome.patch.added}/-{outcome.patch.removed} lines", style="dim")
    return Panel(Group(head, Text(""), table, Text(""), diff), expand=False,
                 title=f"patch {number} — verified by the evaluators", title_align="left")


class Reviewer:
    """The human evaluator: ``reviewer(outcome) -> (verdict, reason)``.

    Args:
        console: where the diff and prompts are shown (a terminal).
        check: the ``--check`` command (shown with the verdicts), or None.
        ask: reads one answer after showing a prompt (default :func:`read_line`);
            EOFError (input closed) counts as ``stop``.
        max_rejections: rejections in a row after which the run stops (the loop
            declaration's ``human_rejected`` rule); None: no limit.

    Attributes:
        reviewed: patches shown so far. rejections: rejections in a row.
    """

    def __init__(self, console: Console, check: list[str] | None = None,
                 ask: Callable[[str], str] | None = None, max_rejections: int | None = None):
        self.console = console
        self.check = check
        self.ask = ask or (lambda prompt: read_line(console, prompt))
        self.max_rejections = max_rejections
        self.reviewed = 0
        self.rejections = 0

    def __call__(self, outcome: Outcome) -> tuple[str, str]:
        """Show ``outcome`` and return ``("approve" | "reject" | "stop", reason)``."""
        self.reviewed += 1
        self.console.print(render_patch(outcome, self.reviewed, self.check))
        try:
            verdict = self._choice()
        except EOFError:
            return "stop", "input closed"
        if verdict == "approve":
            self.rejections = 0
            self.console.print("[green]approved[/]: committing it as a checkpoint")
            return "approve", ""
        if verdict == "stop":
            return "stop", "the developer stopped the run"
        try:
            reason = self.ask(WHY).strip()
        except EOFError:
            return "stop", "input closed"
        self.rejections += 1
        stop = human_rejected(self.rejections, self.max_rejections, reason)
        if stop:
            self.console.print(f"[yellow]{self.rejections} patches rejected in a row: stopping "
                               "(the loop's human_rejected rule)[/]")
            return "stop", stop.detail
        self.console.print("[yellow]rejected[/]: the model is told why and tries again")
        return "reject", reason

    def _choice(self) -> str:
        while True:
            answer = self.ask(PROMPT).strip().lower()
            if answer in ANSWERS:
                return ANSWERS[answer]
            self.console.print("[red]answer a, r or s[/]")


def auto_approve(console: Console, check: list[str] | None = None) -> Callable[[Outcome], tuple[str, str]]:
    """The ``--yes`` evaluator: shows each verified patch and approves it unattended."""
    count = 0

    def approve(outcome: Outcome) -> tuple[str, str]:
        nonlocal count
        count += 1
        console.print(render_patch(outcome, count, check))
        console.print("[green]approved[/] (--yes): committing it as a checkpoint")
        return "approve", ""

    return approve


class Narrator:
    """Loop observer: one line per model call and per patch the evaluators rejected."""

    def __init__(self, console: Console):
        self.console = console

    def __call__(self, ev: LoopEvent) -> None:
        """Print what ``ev`` (a :class:`LoopEvent`) says about the run, in words."""
        if ev.kind == "iteration":
            self.console.print(f"[dim]iteration {ev.state.iteration}: asking {ev.state.generator}…[/]")
        elif ev.kind == "candidate" and ev.outcome is not None and not ev.outcome.viable:
            o = ev.outcome
            self.console.print(f"[red]✗ rejected by the evaluators[/] ({o.stage}): {escape(o.patch.description)}"
                               f"\n  [dim]{escape(o.reason[:300])}[/]\n  [dim]the model is told why[/]")


def choose_ending(console: Console, ask: Callable[[str], str] | None = None) -> str:
    """Ask what to do with the result: ``apply`` (to the working tree) or ``keep`` (the branch)."""
    ask = ask or (lambda prompt: read_line(console, prompt))
    while True:
        try:
            answer = ask("[bold]a[/] apply to your working tree · [bold]k[/] keep the branch only › ")
        except EOFError:
            return "keep"
        answer = answer.strip().lower()
        if answer in ("a", "apply"):
            return "apply"
        if answer in ("k", "keep", ""):
            return "keep"
        console.print("[red]answer a or k[/]")


@contextlib.contextmanager
def interrupt_guard(console: Console) -> Iterator[None]:
    """Ctrl-C (SIGINT) stops the run once: the first raises ``KeyboardInterrupt``, later
    ones are ignored (with a note) until the block exits, so saving state is not cut short.
    Outside the main thread this does nothing."""
    fired = False

    def handler(signum, frame):
        nonlocal fired
        if fired:
            console.print("[yellow]stopping: saving the run's state…[/]")
            return
        fired = True
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
