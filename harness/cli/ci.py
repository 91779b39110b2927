"""``loopwright ci``: ``fix`` and ``review`` as a bot in GitHub Actions. Loaded by
:mod:`loopwright.cli` when used.

Reads the Actions event (``GITHUB_EVENT_NAME``, ``GITHUB_EVENT_PATH``,
``GITHUB_REPOSITORY``, ``GITHUB_WORKSPACE``): a ``pull_request`` runs ``fix``; a
review, review comment or PR conversation comment that mentions the trigger
(``@loopwright``) runs ``review``. Commits are pushed to the PR's head branch when it
lives in the same repository and is not the default branch; otherwise (forks) the
patch is posted as review suggestions. One sticky status comment per PR.

Exit codes: 0 done/fixed/nothing to do, 1 not (or not delivered), 2 bad usage or input.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import git
import typer
from rich.console import Console
from rich.markup import escape

from harness.cli.common import (REVIEW_LOOP, MaxCost, MaxIterations, MaxSeconds, MaxTokens, Python, ReviewModel,
                                bad_input, build_generator, default_generator, review_generator, run_config,
                                run_flags)
from harness.core.baseline_cache import summary_in
from harness.core.errors import UsageError
from harness.work.fix import FixResult, fix
from harness.work.github import GitHub, GitHubError
from harness.work.review import (REPLY_MARKER, STATUS_MARKER, fetch_comments, open_threads, post_replies, run_review,
                                 status_markdown, suggestions)
from loops.spec import SpecError, builtin_spec
from sandbox.worktree import RepoError, open_repo

PR_ACTIONS = ("opened", "synchronize", "reopened", "ready_for_review")

commands = typer.Typer(rich_markup_mode=None)  # plain help: no <bool> metavar on flags


@commands.command("ci")
def ci_cmd(trigger: Annotated[str, typer.Option("--trigger", metavar="PHRASE",
                                                help="Phrase that summons the bot in comments.")] = "@loopwright",
           loops: Annotated[str, typer.Option("--loops", metavar="LOOPS",
                                              help="Which loops may run: fix, review or both.")] = "fix,review",
           remote: Annotated[str, typer.Option("--remote", metavar="NAME",
                                               help="The git remote to push to.")] = "origin",
           model: ReviewModel = None, python: Python = None, max_iterations: MaxIterations = None,
           max_seconds: MaxSeconds = None, max_cost: MaxCost = None, max_tokens: MaxTokens = None,
           as_json: Annotated[bool, typer.Option("--json", help="Print one JSON summary on stdout.")] = False,
           allow_weak: Annotated[bool, typer.Option("--allow-weak-sandbox", help=(
               "Run even where bubblewrap cannot (tests could then write outside the worktree "
               "and read what the runner can)."))] = False) -> None:
    """Run as a GitHub Actions bot: fix a PR's failing tests or address its review comments.

    Refuses to run with a weak sandbox (no bubblewrap) unless --allow-weak-sandbox (exit 2).
    """
    from harness.core.config import DEFAULT_POLICY

    flags = run_flags(locals())
    console = Console(stderr=True)
    mode = DEFAULT_POLICY.mode()
    if mode == "weak" and not allow_weak:
        raise bad_input(UsageError(
            "weak sandbox: bubblewrap is not in use, so code from a pull request could write outside "
            "its worktree; install it (apt-get install bubblewrap) or pass --allow-weak-sandbox"), as_json)
    if mode == "weak":
        console.print("[red]WARNING: weak sandbox (--allow-weak-sandbox): tests can write outside "
                      "the worktree[/]")
    try:
        out = run_ci(dict(os.environ), trigger=trigger, loops=loops, remote=remote, flags=flags,
                     say=lambda m: console.print(f"[yellow]{escape(m)}[/]"))
    except (UsageError, SpecError, GitHubError) as exc:
        raise bad_input(exc, as_json) from None
    out["sandbox"] = mode
    if as_json:
        print(json.dumps(out, indent=2))
    else:
        console.print(out.get("markdown") or out.get("reason", ""), markup=False, highlight=False)
    raise typer.Exit(out["exit_code"])


def decide(event: str, payload: dict, trigger: str, loops: set[str]) -> tuple[str | None, int, str]:
    """What an event asks for: ``(job, pull request number, why)``; job ``fix``, ``review`` or None.

    Raises:
        UsageError: the payload is not shaped like a GitHub event (a field of the wrong type).
    """
    if not isinstance(payload, dict):
        raise UsageError(f"the event payload is a JSON {_kind(payload)}, not an object; "
                         "GITHUB_EVENT_PATH must name the event file GitHub Actions wrote")
    number = _field(payload, "pull_request.number", int) or _field(payload, "number", int) or 0
    if event == "pull_request":
        action = _field(payload, "action", str)
        if action not in PR_ACTIONS:
            return None, number, f"pull_request {action}: nothing to do"
        return ("fix", number, "") if "fix" in loops else (None, number, "the fix loop is not enabled")
    if event not in ("pull_request_review", "pull_request_review_comment", "issue_comment"):
        return None, number, f"event {event!r} is not one loopwright acts on"
    if event == "issue_comment":
        issue = _field(payload, "issue", dict) or {}
        if "pull_request" not in issue:
            return None, 0, "a comment on an issue, not on a pull request"
        number = _field(payload, "issue.number", int) or 0
    text = _field(payload, "review.body" if event == "pull_request_review" else "comment.body", str) or ""
    if REPLY_MARKER in text or STATUS_MARKER in text:
        return None, number, "loopwright's own comment"
    if not re.search(rf"(?<![\w@/-]){re.escape(trigger)}(?![\w-])", text, re.IGNORECASE):
        return None, number, f"the comment does not mention {trigger}"
    return ("review", number, "") if "review" in loops else (None, number, "the review loop is not enabled")


def _field(payload: dict, dotted: str, kind: type):
    """``payload[a][b]…`` for ``dotted`` ``a.b…``, None when absent or null.

    Raises:
        UsageError: a value on the way is of the wrong JSON type (one line naming the field).
    """
    value: object = payload
    for i, key in enumerate(parts := dotted.split(".")):
        want = kind if i == len(parts) - 1 else dict
        value = value.get(key) if isinstance(value, dict) else None
        if value is None:
            return None
        if not isinstance(value, want) or isinstance(value, bool) and want is not bool:
            name = {dict: "an object", str: "a string", int: "a whole number"}.get(want, want.__name__)
            raise UsageError(f"the event payload's {'.'.join(parts[:i + 1])} is a JSON {_kind(value)}, "
                             f"not {name}; GITHUB_EVENT_PATH must name the event file GitHub Actions wrote")
    return value


def _kind(value: object) -> str:
    """The JSON type name of a decoded value."""
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "number",
            float: "number", type(None): "null"}.get(type(value), type(value).__name__)


def delivery(pr: dict, base_repo: str) -> tuple[str, str]:
    """How commits reach the PR: ``("push", "")`` or ``("suggest", why not push)``."""
    head, base = pr["head"], pr["base"]
    head_repo = (head.get("repo") or {}).get("full_name")
    if head_repo != base_repo:
        return "suggest", (f"this pull request comes from a fork ({head_repo or 'a deleted repository'}): "
                           "loopwright cannot push to it, so the change is posted as review suggestions")
    default = (base.get("repo") or {}).get("default_branch")
    if head["ref"] == default:
        return "suggest", (f"the pull request's head branch is the default branch ({default}): loopwright "
                           "never pushes there, so the change is posted as review suggestions")
    return "push", ""


def run_ci(env: dict, *, trigger: str = "@loopwright", loops: str = "fix,review", remote: str = "origin",
           flags: Mapping[str, Any] | None = None, say=lambda m: None) -> dict:
    """Handle one Actions event; returns the ``--json`` summary (``exit_code`` included).

    ``flags``: the run settings given (:func:`~harness.cli.common.run_flags`: ``model``,
    ``max_iterations``, ...; None where not given), built into each job's ``RunConfig`` by
    :func:`~harness.cli.common.run_config`.

    Raises:
        UsageError: no event (not in Actions), an unreadable event file, a workspace that
            is not the PR's head. GitHubError: the PR cannot be read (bad token, no access).
    """
    name, path = env.get("GITHUB_EVENT_NAME"), env.get("GITHUB_EVENT_PATH")
    if not name or not path:
        raise UsageError("loopwright ci runs in GitHub Actions: GITHUB_EVENT_NAME and GITHUB_EVENT_PATH "
                         "are not set (to try it locally, set them to an event name and a payload file)")
    try:
        payload = json.loads(Path(path).read_bytes().decode("utf-8"))
    except (OSError, ValueError) as exc:  # UnicodeDecodeError is a ValueError
        raise UsageError(f"cannot read the event payload {path} (GITHUB_EVENT_PATH): "
                         f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    if not isinstance(payload, dict):
        raise UsageError(f"the event payload {path} (GITHUB_EVENT_PATH) is a JSON {_kind(payload)}, "
                         "not an object; point it at the event file GitHub Actions wrote")
    repo = env.get("GITHUB_REPOSITORY") or _field(payload, "repository.full_name", str) or ""
    enabled = {x.strip() for x in loops.split(",") if x.strip()}
    if enabled - {"fix", "review"}:
        raise UsageError(f"--loops {loops!r}: use fix, review or fix,review")
    job, number, why = decide(name, payload, trigger, enabled)
    out: dict = {"event": name, "repository": repo, "pull_request": number, "job": job,
                 "delivery": "none", "notes": [], "exit_code": 0}
    if job is None:
        say(why)
        return {**out, "reason": why}
    gh = GitHub.from_env(env)
    try:
        pr = gh.pull(repo, number)
        mode, why_not = delivery(pr, repo)
        workspace = Path(env.get("GITHUB_WORKSPACE") or ".")
        _ensure_head(workspace, pr, remote, say)
        flags = dict(flags or {})
        if job == "fix":
            return _ci_fix(gh, repo, pr, workspace, mode, why_not, remote, flags, out, env, say)
        return _ci_review(gh, repo, pr, workspace, mode, why_not, remote, flags, out, env, say)
    finally:
        gh.close()


def _ensure_head(workspace: Path, pr: dict, remote: str, say) -> None:
    """Make the workspace's HEAD the PR's head commit (fetching it if needed)."""
    try:
        repo = open_repo(workspace)
    except RepoError as exc:
        raise UsageError(f"GITHUB_WORKSPACE: {exc}") from None
    sha = pr["head"]["sha"]
    if repo.head.commit.hexsha == sha:
        return
    try:
        repo.git.fetch("--quiet", remote, f"+refs/pull/{pr['number']}/head")
        if repo.is_dirty(untracked_files=False):
            raise UsageError("the workspace has uncommitted changes and is not at the PR's head commit")
        repo.git.checkout("--quiet", "--detach", sha)
        say(f"checked out the pull request's head {sha[:8]}")
    except git.GitCommandError as exc:
        raise UsageError(f"the workspace is at {repo.head.commit.hexsha[:8]}, not the pull request's head "
                         f"{sha[:8]}, and fetching it failed ({exc.stderr.strip()}); check out "
                         "refs/pull/<N>/head with actions/checkout (see docs/ci.md)") from None


def _deliver(gh: GitHub, repo: str, pr: dict, workspace: Path, mode: str, why_not: str, remote: str,
             branch: str, patch: str, out: dict, say) -> str:
    """Push ``branch`` to the PR head or post ``patch`` as suggestions; returns a sentence for the
    status comment (and sets ``out["delivery"]``: pushed, push_failed, suggested, or comment
    when only the status comment's patch carries the change)."""
    head = pr["head"]["ref"]
    if mode == "push":
        try:
            open_repo(workspace).git.push(remote, f"{branch}:refs/heads/{head}")
        except git.GitCommandError as exc:
            out["delivery"], out["exit_code"] = "push_failed", 1
            return f"could not push to `{head}` ({exc.stderr.strip()[:300]}); the patch is below"
        sha = open_repo(workspace).git.rev_parse(branch)
        out["delivery"], out["pushed"] = "pushed", sha
        say(f"pushed {sha[:8]} to {head}")
        return f"pushed {sha[:12]} to `{head}`"
    found, leftover = suggestions(patch)
    text, out["delivery"] = why_not, "comment"  # the patch is always in the status comment too
    try:
        if found:
            gh.create_review(repo, pr["number"], f"loopwright: {why_not}.", found, pr["head"]["sha"])
            out["delivery"], out["suggestions"] = "suggested", len(found)
            text += f"; {len(found)} suggestion(s) in a review"
        if leftover or not found:
            text += "; apply the patch below for " + (", ".join(leftover) or "the change")
    except GitHubError as exc:  # e.g. 422: a line outside the PR's diff cannot carry a suggestion
        text += f"; GitHub refused the suggestions ({exc}), so the patch is below"
    return text


def _sticky(gh: GitHub, repo: str, number: int, body: str, out: dict, env: dict, create: bool = True) -> None:
    if env.get("LOOPWRIGHT_REPORT_URL"):  # the HTML report, uploaded as a workflow artifact (docs/ci.md)
        body = body.rstrip("\n") + f"\n\n[HTML report]({env['LOOPWRIGHT_REPORT_URL']}) (workflow artifact)\n"
    out["markdown"] = body
    try:
        comment, created = gh.upsert_comment(repo, number, STATUS_MARKER, body, create=create)
        if comment:
            out["status_comment"] = {"id": comment.get("id"), "created": created, "url": comment.get("html_url")}
    except GitHubError as exc:
        out["notes"].append(f"could not post the status comment: {exc}")
        out["exit_code"] = max(out["exit_code"], 1)
    if env.get("GITHUB_STEP_SUMMARY"):
        with open(env["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as fh:
            fh.write(body.replace(STATUS_MARKER, "") + "\n")


def _cost(spent) -> str:
    usd = "unknown" if spent.cost_usd is None else f"${spent.cost_usd:.4f}"
    return f"{usd} · {spent.tokens} tokens · {spent.model_calls} model calls · {spent.wall_seconds:.1f} s"


def _baseline(result: FixResult) -> str:
    """The baseline cache's line for the status comment: how many test results were reused from an
    earlier run (kept in .git/loopwright: restored by ``actions/cache``, docs/ci.md)."""
    return summary_in(result.messages) or f"reused {result.baseline_reused} test results from an earlier run"


def _ci_fix(gh, repo, pr, workspace, mode, why_not, remote, flags, out, env, say) -> dict:
    loop = builtin_spec("fix-failing-tests")
    options = run_config(loop, workspace, flags)
    result: FixResult = fix(workspace, build_generator(options.model or default_generator(loop), loop,
                                                      base_url=options.base_url), options, say=say)
    s = result.state
    out.update(result=result.to_json(), exit_code=result.exit_code)
    if s.status == "nothing_to_fix":
        body = status_markdown("fix failing tests", f"**all tests pass** — {s.stop_detail}",
                               [("head", pr["head"]["sha"][:12]), ("baseline", _baseline(result))])
        _sticky(gh, repo, pr["number"], body, out, env, create=False)
        return out
    changes = "no change"
    if result.patch and s.flagged:  # never pushed nor suggested: shown in the comment for a human
        out["delivery"], changes = "comment", ("not pushed: the patch is flagged for review — "
                                               + "; ".join(f"`{f}`" for f in s.flagged[:5]))
    elif result.patch:
        changes = _deliver(gh, repo, pr, workspace, mode, why_not, remote, s.branch, result.patch, out, say)
    rows = [("changes", changes),
            ("tests", f"fixed {len(s.fixed_tests)} of {len(s.baseline_failing)} failing: "
                      + ", ".join(f"`{t}`" for t in s.fixed_tests[:10])),
            ("still failing", ", ".join(f"`{t}`" for t in s.remaining[:10]) or "none"),
            ("candidates", f"{s.candidates_tried} in {s.iteration} iteration(s)"),
            ("cost", _cost(s.spent)), ("baseline", _baseline(result)),
            ("run", f"`{s.run_id}` on {pr['head']['sha'][:12]}")]
    rows += [("note", m) for m in result.messages if not summary_in([m])]
    shown = "fixed (flagged)" if s.status == "flagged" else s.status.replace("_", " ")
    headline = f"**{shown}** — {s.stop_reason}: {s.stop_detail}"
    body = status_markdown("fix failing tests", headline, rows,
                           result.patch if out["delivery"] != "pushed" else "")
    _sticky(gh, repo, pr["number"], body, out, env)
    return out


def _ci_review(gh, repo, pr, workspace, mode, why_not, remote, flags, out, env, say) -> dict:
    loop = builtin_spec(REVIEW_LOOP)
    options = run_config(loop, workspace, flags)
    found, notes = fetch_comments(gh, repo, pr["number"])
    todo, skipped = open_threads(found)
    gen = review_generator(options.model, loop, base_url=options.base_url) if todo else None
    report = run_review(workspace, todo, gen, options, notes=notes + skipped, say=say)
    out.update(result=report.to_json(), exit_code=report.exit_code)
    run = report.run
    changes = "no change"
    if run and run.branch:
        changes = _deliver(gh, repo, pr, workspace, mode, why_not, remote, run.branch, run.patch, out, say)
    delivered = {"pushed": f"pushed to `{pr['head']['ref']}`", "suggested": "posted as a suggestion in a review"}
    problems = post_replies(gh, repo, pr["number"], report, delivered.get(out["delivery"], "not pushed"))
    out["notes"] += problems
    counts = report.counts()
    headline = (f"**{len(report.results)} comment(s)**: {counts['resolved']} resolved, "
                f"{counts['answered']} answered, {counts['failed']} failed")
    table = [["comment", "by", "status", "result"]] + [
        [r.comment.where, r.comment.author, r.status,
         r.detail if r.status != "failed" else f"{r.stop_reason}: {r.detail} {r.rejected}".strip()]
        for r in report.results]
    rows = [("changes", changes)]
    if run:
        rows.append(("cost", _cost(run.state.spent)))
    rows += [("note", m) for m in report.notes + problems]
    patch = run.patch if run and out["delivery"] != "pushed" else ""
    _sticky(gh, repo, pr["number"], status_markdown("review comments", headline, rows, patch, table), out, env)
    return out
