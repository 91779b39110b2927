"""``loopwright review``: resolve a pull request's review comments. Loaded by
:mod:`loopwright.cli` when used (``loopwright ci``, the same as a bot, is :mod:`harness.cli.ci`).

Comments come from ``--pr OWNER/REPO#N`` (GitHub, token from ``GITHUB_TOKEN`` or
``GH_TOKEN``, API root from ``GITHUB_API_URL``) or ``--comments FILE``; one commit per
resolved comment on ``loopwright/<run-id>``; ``--reply`` answers on each thread.

Exit codes: 0 done, 1 not done, 2 bad usage or input.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from harness.cli.common import (REVIEW_LOOP, BaseUrl, Keep, MaxCost, MaxIterations, MaxSeconds, MaxTokens, Python,
                                Record, Replay, Repo, ReviewModel, bad_input, review_generator, run_config, run_flags)
from harness.core.errors import UsageError
from harness.work.github import GitHub, GitHubError
from harness.work.review import (CommentResult, ReviewReport, fetch_comments, load_comments, open_threads, parse_pr,
                                 post_replies, run_review)
from loops.spec import SpecError, builtin_spec
from sandbox.worktree import RepoError, open_repo

commands = typer.Typer(rich_markup_mode=None)  # plain help: no <bool> metavar on flags


@commands.command("review")
def review_cmd(repo: Repo = Path("."),
               pr: Annotated[str | None, typer.Option("--pr", metavar="OWNER/REPO#N",
                                                      help="The pull request's review comments.")] = None,
               comments: Annotated[Path | None, typer.Option("--comments", metavar="PATH",
                                                             help="A JSON/YAML file of comments.")] = None,
               reply: Annotated[bool, typer.Option("--reply", help="Reply on each thread (needs --pr).")] = False,
               model: ReviewModel = None, python: Python = None, max_iterations: MaxIterations = None,
               max_seconds: MaxSeconds = None, max_cost: MaxCost = None, max_tokens: MaxTokens = None,
               keep: Keep = None,
               as_json: Annotated[bool, typer.Option("--json", help="Print one JSON summary on stdout.")] = False,
               record: Record = None, replay: Replay = None, base_url: BaseUrl = None) -> None:
    """Resolve review comments: a verified commit per addressed comment, an answer per question.

    Commits land on branch loopwright/<run-id>; your working tree is not touched.
    Exit codes: 0 done, 1 not done, 2 bad usage or input."""
    flags = run_flags(locals())
    console = Console(stderr=True, quiet=as_json)
    gh = None
    try:
        if (pr is None) == (comments is None):
            raise UsageError("give exactly one of --pr OWNER/REPO#N or --comments FILE")
        if reply and pr is None:
            raise UsageError("--reply posts on GitHub threads: it needs --pr")
        loop = builtin_spec(REVIEW_LOOP)
        options = run_config(loop, repo, flags)
        gen = review_generator(options.model, loop, record=record, replay=replay, base_url=options.base_url)
        notes: list[str] = []
        if pr:
            full, number = parse_pr(pr)
            gh = GitHub.from_env()
            head = gh.pull(full, number)["head"]["sha"]
            found, notes = fetch_comments(gh, full, number)
            _note_head(repo, head, notes)
        else:
            found = load_comments(comments)
        todo, skipped = open_threads(found)
        report = run_review(repo, todo, gen, options, notes=notes + skipped,
                            say=lambda m: console.print(f"[yellow]{escape(m)}[/]"),
                            on_comment=lambda r: console.print(f"{escape(r.comment.where)}: {_status(r)}"))
        if reply and gh is not None and report.results:
            where = f"on branch `{report.run.branch}`, not pushed" if report.run and report.run.branch else ""
            report.notes += post_replies(gh, full, number, report, where)
    except (UsageError, SpecError, GitHubError) as exc:
        raise bad_input(exc, as_json) from None
    finally:
        if gh is not None:
            gh.close()
    if as_json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        _review_table(console, report)
    raise typer.Exit(report.exit_code)


def _note_head(repo: Path, head_sha: str, notes: list[str]) -> None:
    try:
        local = open_repo(repo).head.commit.hexsha
    except (RepoError, ValueError):
        return
    if local != head_sha:
        notes.append(f"your checkout is at {local[:8]} but the pull request's head is {head_sha[:8]}: "
                     "line numbers may not match (check out the PR branch first)")


def _status(r: CommentResult) -> str:
    colour = {"resolved": "green", "answered": "cyan"}.get(r.status, "red")
    return f"[{colour}]{r.status}[/]"


def _review_table(console: Console, report: ReviewReport) -> None:
    table = Table("comment", "by", "status", "result", title="loopwright review")
    for r in report.results:
        if r.status == "answered":
            result = r.detail
        elif r.status == "resolved":
            result = (", ".join(c[:8] for c in r.commits) + " — " if r.commits else "") + r.detail
        else:
            result = f"{r.stop_reason}: {r.detail}" + (f" (last rejected: {r.rejected})" if r.rejected else "")
        table.add_row(escape(r.comment.where), escape(r.comment.author), _status(r), escape(result[:300]))
    console.print(table)
    run = report.run
    if run and run.branch:
        console.print(f"branch [bold]{run.branch}[/] · patch {run.patch_path}")
    if run:
        s = run.state.spent
        cost = "unknown" if s.cost_usd is None else f"${s.cost_usd:.4f}"
        console.print(f"{s.model_calls} model calls · {s.tokens} tokens · {cost} · {s.wall_seconds:.1f} s")
    for n in report.notes + (run.messages if run else []):
        console.print(f"note: {escape(n)}")
