"""Review comments as a work source: from GitHub or a file, to tasks, to replies.

A review comment becomes a :class:`harness.core.task.Task` (``kind="review_comment"``)
carried out by :func:`harness.work.instruct.carry_out`: every verified change is a
commit naming the comment. Whether a comment asks a question rather than requests
a change is the model's call: it answers with ``ANSWER: …`` (recorded and posted
as the reply) instead of a patch.

Only the top-level comment of each unresolved thread is a task; the replies in
its thread are shown with it as context. A thread whose last word is
loopwright's own reply is skipped until someone answers it.

Comments file (``loopwright review --comments FILE``), JSON or YAML: a list (or
``{"comments": [...]}``) of objects with ``path``, ``line``, ``body`` and optional
``side`` (``RIGHT``/``LEFT``), ``author``, ``id``, ``resolved``, ``in_reply_to``.
GitHub's REST shape (``user.login``, ``in_reply_to_id``, ``original_line``) is
accepted too, so a saved API answer works as a file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import unidiff
import yaml

from harness.core.config import RunConfig
from harness.core.errors import UsageError
from harness.core.protocols import Generator
from harness.work.github import GitHub, GitHubError
from harness.work.instruct import InstructResult, TaskOutcome, carry_out
from harness.core.loop import LoopEvent
from harness.core.task import Task

REPLY_MARKER = "<!-- loopwright:reply -->"
STATUS_MARKER = "<!-- loopwright:status -->"


@dataclass
class ReviewComment:
    """One review comment.

    Attributes:
        id: GitHub's comment id (or the file's ``id``; None if absent).
        path, line: where it points (repo-relative; line 1-based, 0 for a whole file).
        side: ``RIGHT`` (the PR's version) or ``LEFT`` (a removed line of the base).
        body, author: what was said and by whom.
        resolved: its thread is resolved. in_reply_to: the thread's first comment id.
        replies: later comments of its thread (filled by :func:`open_threads`).
    """

    id: int | str | None
    path: str
    line: int
    body: str
    author: str = ""
    side: str = "RIGHT"
    resolved: bool = False
    in_reply_to: int | str | None = None
    url: str = ""
    replies: list[ReviewComment] = field(default_factory=list)

    @classmethod
    def from_dict(cls, d: dict, resolved: set | frozenset = frozenset()) -> ReviewComment:
        """From a file entry or GitHub's REST shape; ``resolved``: ids in resolved threads.

        Raises:
            UsageError: no ``path`` or ``body``, or a line that is not a number.
        """
        if not isinstance(d, dict) or not d.get("path") or not isinstance(d.get("body"), str) \
                or not isinstance(d["path"], str):
            raise UsageError(f"a review comment needs at least path and body (strings); got {_one_line(d)}")
        line = d.get("line") if d.get("line") is not None else d.get("original_line")
        try:
            if isinstance(line, bool) or isinstance(line, float) and not line.is_integer():
                raise ValueError(line)
            line = int(line or 0)
            if line < 0:
                raise ValueError(line)
        except (TypeError, ValueError, OverflowError):
            raise UsageError(f"comment on {d['path']}: line {_one_line(line)} is not a line number "
                             "(a whole number, 1 for the first line, 0 for the whole file)") from None
        user = d.get("user")
        if user is not None and not isinstance(user, dict):
            raise UsageError(f"comment on {d['path']}: user is {_one_line(user)}; write an object "
                             "like {\"login\": \"name\"} (GitHub's shape), or use author: name")
        author = d.get("author") or (user or {}).get("login") or ""
        cid = d.get("id")
        for name, value in (("author", author), ("id", cid), ("in_reply_to", d.get("in_reply_to")),
                            ("side", d.get("side"))):
            if value is not None and not isinstance(value, (str, int)) or isinstance(value, bool):
                raise UsageError(f"comment on {d['path']}: {name} is {_one_line(value)}; write a string or number")
        return cls(cid, str(d["path"]), line, d["body"], author, str(d.get("side") or "RIGHT").upper(),
                   bool(d.get("resolved")) or cid in resolved, d.get("in_reply_to", d.get("in_reply_to_id")),
                   d.get("html_url") or d.get("url") or "")

    @property
    def where(self) -> str:
        """``path:line`` (or just the path for a file comment)."""
        return f"{self.path}:{self.line}" if self.line else self.path

    def task(self) -> Task:
        """The task: the comment body, the thread's replies as context, its location."""
        text = self.body.strip()
        line = self.line
        if self.side == "LEFT":  # a removed line: its number is in the base version, not in HEAD
            text += f"\n\n(This comment is on line {self.line} of the old version, a line the PR removed.)"
            line = 0
        if self.replies:
            text += "\n\nReplies in this thread, oldest first:\n" + "\n".join(
                f"- {r.author or 'someone'}: {r.body.replace(REPLY_MARKER, '').strip()}" for r in self.replies)
        return Task("review_comment", instruction=text, path=self.path, line=line)


def load_comments(path: Path) -> list[ReviewComment]:
    """Read a comments file (JSON or YAML).

    Raises:
        UsageError: unreadable, not a list of comments, or a comment without path/body.
    """
    from loops.yaml_errors import BoundedLoader

    try:
        text = Path(path).read_bytes().decode("utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read the comments file {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path} is not UTF-8 text (byte {exc.start}: {exc.reason}); "
                         "save it as UTF-8") from None
    try:
        data = json.loads(text) if str(path).endswith(".json") else yaml.load(text, Loader=BoundedLoader)  # noqa: S506 - a safe loader
    except (ValueError, yaml.YAMLError) as exc:
        raise UsageError(f"{path} is not valid JSON/YAML: {_one_line(exc)}") from None
    if isinstance(data, dict):
        data = data.get("comments")
    if not isinstance(data, list):
        raise UsageError(f"{path}: expected a list of comments (each with path, line, body)")
    return [ReviewComment.from_dict(d) for d in data]


def _one_line(value: object, limit: int = 120) -> str:
    """``value`` shown on one line, cut at ``limit`` characters (for error messages)."""
    text = " ".join((value if isinstance(value, (str, BaseException)) else repr(value)).__str__().split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def parse_pr(ref: str) -> tuple[str, int]:
    """``OWNER/REPO#N`` or a pull request URL → ``("OWNER/REPO", N)``.

    Raises:
        UsageError: neither form.
    """
    m = re.fullmatch(r"\s*([\w.-]+/[\w.-]+)#(\d+)\s*", ref) or \
        re.fullmatch(r"\s*https?://[^/]+/([\w.-]+/[\w.-]+)/pull/(\d+)\S*\s*", ref)
    if not m:
        raise UsageError(f"--pr {ref!r}: write OWNER/REPO#NUMBER, e.g. octo/app#12, or the pull request URL")
    return m.group(1), int(m.group(2))


def fetch_comments(gh: GitHub, repo: str, number: int) -> tuple[list[ReviewComment], list[str]]:
    """All review comments of a pull request, each marked resolved or not.

    Thread resolution comes from GraphQL; when GraphQL is unavailable every thread
    counts as unresolved and the returned notes say so.

    Raises:
        GitHubError: the REST calls failed.
    """
    raw = gh.review_comments(repo, number)
    notes = []
    try:
        resolved = gh.resolved_comment_ids(repo, number)
    except GitHubError as exc:
        resolved = set()
        notes.append(f"could not read which threads are resolved ({exc}); treating every thread as "
                     "unresolved: all top-level comments are tasks")
    return [ReviewComment.from_dict(d, resolved) for d in raw], notes


def open_threads(comments: list[ReviewComment]) -> tuple[list[ReviewComment], list[str]]:
    """The top-level comments of unresolved threads, with their replies attached.

    Returns:
        (tasks' comments in file/API order, notes on what was skipped and why).
    """
    tops = [c for c in comments if c.in_reply_to is None]
    by_id = {c.id: c for c in tops if c.id is not None}
    for c in tops:
        c.replies = []
    for c in comments:
        if c.in_reply_to is not None and c.in_reply_to in by_id:
            by_id[c.in_reply_to].replies.append(c)
    out, notes = [], []
    for c in tops:
        if c.resolved or any(r.resolved for r in c.replies):
            continue
        if c.replies and REPLY_MARKER in c.replies[-1].body:
            notes.append(f"{c.where}: skipped, loopwright already replied; answer in the thread to ask again")
            continue
        out.append(c)
    return out, notes


@dataclass
class CommentResult:
    """What became of one comment.

    Attributes:
        status: ``resolved`` (changed and committed, or nothing needed), ``answered``
            (a question: ``detail`` is the answer) or ``failed``.
        stop_reason, detail: the task's stop rule and its words.
        rejected: why the last rejected patch was rejected (e.g. the test it broke).
        commits: commit shas on the run's branch, oldest first.
    """

    comment: ReviewComment
    status: str
    stop_reason: str
    detail: str
    commits: list[str] = field(default_factory=list)
    rejected: str = ""
    reply_url: str = ""

    def to_json(self) -> dict:
        """One entry of the ``--json`` summary's ``comments``."""
        c = self.comment
        return {"id": c.id, "path": c.path, "line": c.line, "side": c.side, "author": c.author,
                "body": c.body, "status": self.status, "stop_reason": self.stop_reason,
                "detail": self.detail, "answer": self.detail if self.status == "answered" else "",
                "rejected": self.rejected, "commits": self.commits, "reply_url": self.reply_url}

    def reply_text(self, delivered: str = "") -> str:
        """The reply for the comment's thread; ``delivered`` says where commits went
        (e.g. "pushed to `feature`"), else "on branch …" is the caller's to add."""
        if self.status == "answered":
            text = self.detail
        elif self.status == "resolved" and self.commits:
            shas = ", ".join(s[:12] for s in self.commits)
            text = f"Addressed in {shas}{' (' + delivered + ')' if delivered else ''}: {self.detail}"
        elif self.status == "resolved":
            text = f"No change needed: {self.detail}"
        else:
            text = f"I could not address this ({self.stop_reason}: {self.detail})."
            if self.rejected:
                text += f" The last change I tried was rejected: {self.rejected}"
        return f"{text.strip()}\n\n{REPLY_MARKER}"


@dataclass
class ReviewReport:
    """The results of a review run, in comment order, with the run behind them."""

    results: list[CommentResult]
    run: InstructResult | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0 when every comment was resolved or answered (or there were none), else 1."""
        return 0 if all(r.status in ("resolved", "answered") for r in self.results) else 1

    def counts(self) -> dict[str, int]:
        """``{"resolved": n, "answered": n, "failed": n}``."""
        return {k: sum(r.status == k for r in self.results) for k in ("resolved", "answered", "failed")}

    def to_json(self) -> dict:
        """The ``loopwright review --json`` summary (shape documented in docs/ci.md)."""
        run = self.run
        s = run.state if run else None
        return {"run_id": s.run_id if s else "", "status": "done" if self.exit_code == 0 else "not_done",
                "counts": self.counts(), "comments": [r.to_json() for r in self.results],
                "branch": run.branch if run else "", "patch_path": run.patch_path if run else "",
                "patch": run.patch if run else "",
                "cost_usd": s.spent.cost_usd if s else 0.0, "tokens": s.spent.tokens if s else 0,
                "model_calls": s.spent.model_calls if s else 0,
                "wall_seconds": s.spent.wall_seconds if s else 0.0,
                **(run.setup_json() if run else {"python": "", "python_why": "", "evaluators": {}}),
                "notes": self.notes + (run.messages if run else []), "exit_code": self.exit_code}


def run_review(path: Path, comments: list[ReviewComment], generator: Generator, options: RunConfig, *,
               check: list[str] | None = None, on_event: Callable[[LoopEvent], None] = lambda e: None,
               on_comment: Callable[[CommentResult], None] = lambda r: None,
               say: Callable[[str], None] = lambda m: None, notes: list[str] | None = None) -> ReviewReport:
    """Carry out ``comments`` (top-level, unresolved: see :func:`open_threads`) in order on
    one branch ``loopwright/<run-id>`` of the repository at ``path``.

    Raises:
        UsageError: as :func:`harness.work.instruct.carry_out`.
    """
    notes = list(notes or [])
    if not comments:
        return ReviewReport([], None, notes + ["no unresolved review comments: nothing to do"])
    rejected = [""]

    def event(ev: LoopEvent) -> None:
        if ev.kind == "candidate" and ev.outcome is not None and not ev.outcome.accepted:
            rejected[0] = ev.outcome.reason
        on_event(ev)

    results: list[CommentResult] = []

    def task_done(outcome: TaskOutcome) -> None:
        comment = comments[len(results)]
        status = {"done": "resolved", "answered": "answered"}.get(outcome.status, "failed")
        results.append(CommentResult(comment, status, outcome.stop_reason, outcome.detail,
                                     list(outcome.commits), rejected[0] if status == "failed" else ""))
        rejected[0] = ""
        on_comment(results[-1])

    run = carry_out(path, [c.task() for c in comments], generator, options, loop_name="review-comments",
                    check=check, on_event=event, on_task=task_done, say=say)
    return ReviewReport(results, run, notes)


def post_replies(gh: GitHub, repo: str, number: int, report: ReviewReport, delivered: str = "") -> list[str]:
    """Reply on each comment's thread (GitHub comments only); returns problems, one per
    reply that could not be posted (the others are still posted)."""
    problems = []
    for r in report.results:
        if not isinstance(r.comment.id, int):
            problems.append(f"{r.comment.where}: no GitHub comment id, no reply posted")
            continue
        try:
            r.reply_url = gh.reply(repo, number, r.comment.id, r.reply_text(delivered)).get("html_url", "")
        except GitHubError as exc:
            problems.append(f"{r.comment.where}: could not reply: {exc}")
    return problems


def suggestions(diff: str) -> tuple[list[dict], list[str]]:
    """Review comments with ```` ```suggestion ```` blocks for ``diff``, one per hunk.

    Each covers the hunk's changed lines of the PR's version (``side: RIGHT``;
    ``start_line`` for several lines); a pure insertion takes one context line along.

    Returns:
        (comments for :meth:`GitHub.create_review`, paths that cannot be suggested:
        new, deleted or renamed files).
    """
    comments, leftover = [], []
    for pf in unidiff.PatchSet(diff):
        if pf.is_added_file or pf.is_removed_file or pf.source_file[2:] != pf.target_file[2:]:
            leftover.append(pf.path)
            continue
        for hunk in pf:
            lines = list(hunk)
            changed = [i for i, ln in enumerate(lines) if ln.is_added or ln.is_removed]
            if not changed:
                continue
            lo, hi = changed[0], changed[-1]
            if not any(ln.is_removed for ln in lines[lo:hi + 1]):  # an insertion: anchor on a context line
                if lo > 0:
                    lo -= 1
                elif hi + 1 < len(lines):
                    hi += 1
                else:
                    leftover.append(pf.path)
                    continue
            span = lines[lo:hi + 1]
            old = [ln.source_line_no for ln in span if ln.source_line_no is not None]
            new = "".join(ln.value for ln in span if ln.is_context or ln.is_added)
            if new and not new.endswith("\n"):
                new += "\n"
            fence = "````" if "```" in new else "```"
            comment = {"path": pf.path, "line": max(old), "side": "RIGHT",
                       "body": f"{fence}suggestion\n{new}{fence}"}
            if min(old) != max(old):
                comment.update(start_line=min(old), start_side="RIGHT")
            comments.append(comment)
    return comments, leftover


def status_markdown(title: str, headline: str, rows: list[tuple[str, str]], patch: str = "",
                    table: list[list[str]] | None = None) -> str:
    """The sticky status comment: marker, title, one-line verdict, a two-column table of
    ``rows``, an optional per-item ``table`` (first row: header) and the patch folded away."""
    out = [STATUS_MARKER, f"### loopwright · {title}", "", headline, "", "| | |", "|---|---|"]
    out += [f"| {k} | {_cell(v)} |" for k, v in rows]
    if table:
        out += ["", "| " + " | ".join(table[0]) + " |", "|" + "---|" * len(table[0])]
        out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in table[1:]]
    if patch:
        fence = "````" if "```" in patch else "```"
        out += ["", "<details><summary>patch</summary>", "", f"{fence}diff", patch.rstrip("\n"), fence, "",
                "</details>"]
    return "\n".join(out) + "\n"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", "<br>")[:600]
