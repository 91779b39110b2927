"""The loopwright command line: the app, its commands loaded on use, ``main``.

It sits on the top floor: it names the harness's commands (:mod:`harness.cli`) and the
eval commands (:mod:`evals.cli`), which never import each other.

Finds failing tests, proposes small patches, verifies them in a git worktree.

Exit codes (every command):
    0  fixed, or nothing to fix (``do``/``review``: done)
    1  not fixed (the run ended without making every failing test pass)
    2  bad usage or input (not a git repository, no commits, no tests, pytest missing, …)
    130  interrupted with Ctrl-C or SIGTERM (resumable: ``loopwright resume RUN_ID REPO``)

Each command lives in a module of its own and is imported only when it runs (or
when help lists it): ``loopwright fix`` does not load the GitHub client, the review
loop, ``undo`` or the interactive prompt.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import typer
from typer.core import TyperGroup

#: command name -> the module whose ``commands`` Typer app defines it, in help order.
COMMANDS = {"fix": "harness.cli.fix", "run": "harness.cli.fix", "resume": "harness.cli.fix",
            "status": "harness.cli.fix", "gc": "harness.cli.fix", "doctor": "harness.cli.fix",
            "do": "harness.cli.do", "undo": "harness.cli.do", "resume-do": "harness.cli.do",
            "review": "harness.cli.review", "ci": "harness.cli.ci",
            "eval": "evals.cli", "report": "evals.cli"}


class LazyGroup(TyperGroup):
    """A command group that imports a command's module only when the command is used."""

    def list_commands(self, ctx: Any) -> list[str]:
        """Every command name, without importing a command module."""
        return list(COMMANDS)

    def get_command(self, ctx: Any, name: str) -> Any:
        """The click command ``name``, importing its module now; None for an unknown name."""
        module = COMMANDS.get(name)
        if module is None:
            return None
        group = typer.main.get_group(importlib.import_module(module).commands)
        return group.get_command(ctx, name)


def loopwright_version() -> str:
    """The installed distribution's version (``0+unknown`` when not installed)."""
    try:
        return version("loopwright")
    except PackageNotFoundError:
        return "0+unknown"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"loopwright {loopwright_version()}")
        raise typer.Exit(0)


app = typer.Typer(cls=LazyGroup, no_args_is_help=True, rich_markup_mode=None, pretty_exceptions_show_locals=False,
                  context_settings={"help_option_names": ["-h", "--help"]},
                  help="Finds failing tests, proposes small patches, verifies them in a git worktree.\n\n"
                       "Exit codes: 0 fixed or nothing to fix (do, review: done), 1 not fixed, "
                       "2 bad usage or input, 130 interrupted by Ctrl-C or SIGTERM (resumable). "
                       "Settings: docs/configuration.md.")


@app.callback()
def _root(version_: bool = typer.Option(False, "--version", "-V", callback=_version, is_eager=True,
                                        help="Print loopwright's version and exit.")) -> None:
    """loopwright: a loop harness for coding agents."""


def main() -> None:
    """Console-script entry point (``loopwright``, ``python -m loopwright``)."""
    app(prog_name="loopwright")


if __name__ == "__main__":
    main()
