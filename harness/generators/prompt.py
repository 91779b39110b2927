"""From a Context to the user prompts: code packed to a token budget, whole functions.

:func:`build_first` renders the first prompt, by task kind: ``fix-failing-tests.md.j2``
(failing tests with a traceback excerpt, AGENTS.md, lessons, earlier rejected
attempts, code), ``instruction.md.j2`` or ``review-comment.md.j2`` (the instruction or
the comment with its location, AGENTS.md, lessons, patches already accepted, rejected
attempts, a repository map from :mod:`harness.generators.repomap`, and the code at the
comment's location). :func:`build_retry` renders the next request: ``retry.md.j2`` for
failing tests, ``task-follow-up.md.j2`` for instructions and review comments (the
files the model asked to READ, why an answer or patch was not accepted, that a patch
was accepted and applied and the model should continue or say DONE). Both return the
text and the "already shown" state ``{"attempts": set of keys, "code": {snippet key:
code}, "tests": tuple of ids}`` so each piece of feedback is shown once.

The code shown is chosen and packed by :func:`harness.generators.snippets.pack`.
"""

from __future__ import annotations

import re
from pathlib import Path

from sandbox.worktree import worktree_root
from harness.core.context import Attempt, Context
from harness.generators.repomap import build_repo_map
from harness.generators.snippets import Snippet, pack, read_lines
from harness.generators.tokens import TokenCounter
from prompts import render

MAX_TESTS = 10
MAX_FRAMES = 6
MAX_MESSAGE_CHARS = 1500
MAX_REASON_CHARS = 2000
#: Task kinds that get the instruction protocol (repo map, READ, DONE, ANSWER).
TASK_KINDS = ("instruction", "review_comment")
FIRST_TEMPLATES = {
    "failing_tests": "fix-failing-tests.md.j2",
    "instruction": "instruction.md.j2",
    "review_comment": "review-comment.md.j2",
}


def build_first(context: Context, tokens: TokenCounter, budget: int) -> tuple[str, dict]:
    """The first user prompt for ``context`` within ``budget`` tokens, and the shown state.

    The template is picked by ``context.task.kind`` (:data:`FIRST_TEMPLATES`); for
    instruction and review tasks see :func:`_first_for_task`.
    """
    if context.task.kind in TASK_KINDS:
        return _first_for_task(context, tokens, budget)
    values = _common(context, tokens, budget)
    values["tests"] = _tests(context)
    base = tokens.count(render("fix-failing-tests.md.j2", snippets=[], omitted=0, **values))
    snippets, omitted = pack(context, tokens, budget - base)
    text = render(
        "fix-failing-tests.md.j2",
        snippets=[s.as_dict() for s in snippets],
        omitted=omitted,
        **values,
    )
    return text, _shown(context, snippets)


def _first_for_task(context: Context, tokens: TokenCounter, budget: int) -> tuple[str, dict]:
    """The first prompt of an instruction or review comment.

    Budget, in order: the task, AGENTS.md (at most a quarter), lessons and attempts;
    then the code at the comment's location (whole functions); then the repository
    map in what is left, at most a quarter of ``budget``.
    """
    template = FIRST_TEMPLATES[context.task.kind]
    values = _common(context, tokens, budget)
    values["accepted"] = [_clip(a.description or "a patch", 300) for a in context.attempts if a.accepted]
    empty = {"snippets": [], "omitted": 0, "repo_map": "", "map_omitted": 0}
    base = tokens.count(render(template, **{**values, **empty}))
    reserve = min(budget // 4, max(budget - base, 0) // 2)  # room kept for the map
    snippets, omitted = pack(context, tokens, budget - base - reserve)
    code = [s.as_dict() for s in snippets]
    used = tokens.count(render(template, **{**values, **empty, "snippets": code, "omitted": omitted}))
    task = context.task
    repo_map = build_repo_map(
        context.root,
        f"{task.instruction}\n{task.path}",
        min(budget // 4, budget - used - 60),
        count=tokens.count,
        boost=(task.path,) if task.path else (),
    )
    text = render(template, **values, snippets=code, omitted=omitted, repo_map=repo_map.text,
                  map_omitted=repo_map.omitted)
    return text, _shown(context, snippets)


def _common(context: Context, tokens: TokenCounter, budget: int) -> dict:
    """Template values every first prompt has: task, conventions, lessons, rejected attempts."""
    rejected = [a for a in context.attempts if not a.accepted][-5:]
    return {
        "task": _task(context),
        "conventions": _clip_tokens(context.conventions.strip(), tokens, budget // 4),
        "lessons": _within([ln.strip() for ln in context.lessons if ln.strip()][:10], tokens, budget // 8),
        "attempts": [
            {"description": a.description, "reason": _clip(stable_text(a.reason, context.root), 600)} for a in rejected
        ],
        # what earlier runs already tried and rejected for these tests on this code (harness.core.memory)
        "remembered": _within([{"description": r.description or "a patch", "reason": _clip(r.reason, 300),
                                "diff": _clip(r.diff.rstrip(), 1500)} for r in context.remembered[:20]],
                              tokens, budget // 8),
    }


def _within(items: list, tokens: TokenCounter, limit: int) -> list:
    """The first ``items`` (strings, or dicts of strings) whose text fits ``limit`` tokens together."""
    out, used = [], 0
    for item in items:
        n = tokens.count(item if isinstance(item, str) else "\n".join(map(str, item.values())))
        if used + n > limit:
            break
        out.append(item)
        used += n
    return out


def _shown(context: Context, snippets: list[Snippet]) -> dict:
    return {
        "attempts": {_attempt_key(a) for a in context.attempts},
        "code": {s.key: s.code for s in snippets},
        "tests": tuple(sorted(context.task.failing)),
    }


def build_retry(
    context: Context,
    tokens: TokenCounter,
    budget: int,
    shown: dict,
    malformed: str,
    served: dict | None = None,
    notices: list[str] | tuple[str, ...] = (),
) -> tuple[str, dict]:
    """The feedback prompt after an answer, and the new shown state.

    For failing tests (``retry.md.j2``): the ``malformed`` reason if the answer was
    unusable; the newest rejected attempt not yet shown (else the newest accepted one);
    the failing tests if their set changed; code that changed since it was shown.

    For instructions and review comments (``task-follow-up.md.j2``): the ``malformed``
    reason; the files ``served`` for a READ (``{"files": [ReadFile.as_dict()], "notes":
    [str]}``); every rejection not yet shown (a developer's own words quoted); the
    newest accepted patch with "accepted and applied ... continue, or reply DONE"; the
    list of patches accepted so far; changed code; ``notices`` (one line each).
    """
    fresh = [a for a in context.attempts if _attempt_key(a) not in shown["attempts"]]
    snippets, _ = pack(context, tokens, budget // 2)
    changed = [s for s in snippets if s.key in shown["code"] and shown["code"][s.key] != s.code]
    test_ids = tuple(sorted(context.task.failing))
    code = dict(shown["code"])
    code.update({s.key: s.code for s in changed})
    new_shown = {
        "attempts": set(shown["attempts"]) | {_attempt_key(a) for a in fresh},
        "code": code,
        "tests": test_ids,
    }
    if context.task.kind in TASK_KINDS:
        return _follow_up(context, fresh, changed, malformed, served, notices), new_shown
    rejected = [a for a in fresh if not a.accepted]
    rejection = accepted = None
    if rejected:
        a = rejected[-1]
        rejection = {"description": a.description, "reason": _clip(stable_text(a.reason, context.root), MAX_REASON_CHARS)}
    kept = [a for a in fresh if a.accepted]
    if kept:
        accepted = {"description": kept[-1].description, "reason": _clip(kept[-1].reason, 600)}
    tests = _tests(context) if test_ids != shown["tests"] else []
    text = render(
        "retry.md.j2",
        malformed=malformed,
        rejection=rejection,
        accepted=accepted,
        tests=tests,
        snippets=[s.as_dict() for s in changed],
    )
    return text, new_shown


DEVELOPER = "rejected by the developer: "
ACCEPTED = "accepted and applied: "


def _follow_up(context: Context, fresh: list[Attempt], changed: list[Snippet], malformed: str,
               served: dict | None, notices: list[str] | tuple[str, ...]) -> str:
    """Render ``task-follow-up.md.j2`` (see :func:`build_retry`)."""
    rejections = []
    for a in fresh:
        if a.accepted:
            continue
        developer = a.reason.startswith(DEVELOPER)
        reason = _clip(stable_text(a.reason.removeprefix(DEVELOPER), context.root), MAX_REASON_CHARS)
        rejections.append({
            "description": a.description,
            "developer": developer,
            "reason": reason.replace("\n", "\n> ") if developer else reason,
        })
    kept = [a for a in fresh if a.accepted]
    accepted = None
    if kept:
        accepted = {"description": kept[-1].description, "reason": _clip(kept[-1].reason.removeprefix(ACCEPTED), 600)}
    return render(
        "task-follow-up.md.j2",
        kind=context.task.kind,
        malformed=malformed,
        read=served,
        rejections=rejections,
        accepted=accepted,
        accepted_all=[_clip(a.description or "a patch", 300) for a in context.attempts if a.accepted],
        snippets=[s.as_dict() for s in changed],
        notices=list(notices),
    )


def _attempt_key(a: Attempt) -> str:
    return a.digest or f"{a.description}\n{a.reason}"


def _task(context: Context) -> dict:
    t = context.task
    return {"kind": t.kind, "instruction": t.instruction, "path": t.path, "line": t.line}


def _tests(context: Context) -> list[dict]:
    out = []
    for test_id, result in list(context.task.failing.items())[:MAX_TESTS]:
        frames = [
            {
                "path": f.path,
                "line": f.line,
                "function": f.function,
                "source": _source_line(context.root, f.path, f.line),
            }
            for f in _repo_frames(result.frames)
        ]
        out.append(
            {
                "id": test_id,
                "outcome": result.outcome,
                "message": _clip(stable_text(result.message, context.root), MAX_MESSAGE_CHARS),
                "frames": frames,
            }
        )
    return out


def _repo_frames(frames: tuple) -> list:
    """The innermost frames in the repository (relative paths); runner frames such as
    pytest's or pluggy's (absolute paths) are left out unless nothing else is there."""
    inside = [f for f in frames if f.path and not Path(f.path).is_absolute()]
    return (inside or list(frames))[-MAX_FRAMES:]


#: pytest's per-session temporary directories (``tmp_path``): a new number every run.
_PYTEST_TMP = re.compile(r"""/[^\s'"]*?/pytest-of-[^/\s'"]+/pytest-\d+""")


def stable_text(text: str, root: Path | str) -> str:
    """``text`` without what changes from run to run: worktree paths, the run's and its
    validator slots' (paths become repository-relative) and pytest's temporary directories (``<pytest tmp>``).
    Prompts then depend on the code and the failure only, so a recorded run replays."""
    text = text.replace(str(root).rstrip("/") + "/", "")
    text = re.sub(re.escape(str(worktree_root())) + r"""/[^/\s'"]+/""", "", text)  # validator slots
    return _PYTEST_TMP.sub("<pytest tmp>", text)


def _clip(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 20].rstrip() + "\n[... truncated ...]"


def _clip_tokens(text: str, tokens: TokenCounter, limit: int) -> str:
    if not text or tokens.count(text) <= limit:
        return text
    return (
        text[: max(limit, 0) * 3].rstrip() + "\n\n[... AGENTS.md truncated to fit the budget ...]"
    )


def _source_line(root: Path, path: str, line: int) -> str:
    lines = read_lines(root, path)
    if not lines or not 1 <= line <= len(lines):
        return ""
    return lines[line - 1].strip()[:160]
