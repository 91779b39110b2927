"""Opening a run: the repository, the target interpreter (and why), the static evaluators'
checks, the sandbox notes -- what :meth:`harness.core.session.RunSession.start` and
:meth:`~harness.core.session.RunSession.reopen` do before a run has any file."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import git

from harness.core.config import RunConfig
from harness.core.errors import UsageError
from harness.core.gates import EvaluatorCheck, check_evaluators
from harness.evaluators.interpreter import EvaluatorError, check_pytest, choose_python
from sandbox.process import network_isolation
from sandbox.worktree import RepoError, open_repo


def open_for_run(path: Path, say: Callable[[str], None]) -> tuple[git.Repo, list[str], Callable[[str], None]]:
    """``(repo, messages, note)``: the repository at ``path`` and a ``note`` that both records a
    message (in ``messages``) and says it (``say``). Raises :class:`UsageError` for a path that is
    not a git repository with commits."""
    try:
        repo = open_repo(path)
    except RepoError as exc:
        raise UsageError(str(exc)) from None
    messages: list[str] = []

    def note(msg: str) -> None:
        messages.append(msg)
        say(msg)

    return repo, messages, note


def target_python(root: Path, python: str | None) -> tuple[str, str, str]:
    """``(interpreter, why it was chosen, "pytest X.Y")`` (:func:`choose_python`)."""
    try:
        found, why = choose_python(root, python)
        version = check_pytest(found, root)
    except EvaluatorError as exc:
        raise UsageError(str(exc)) from None
    return found, why, f"pytest {version}"


def check_static(config: RunConfig, repo: git.Repo, python: str, run_id: str,
           note: Callable[[str], None]) -> dict[str, EvaluatorCheck]:
    """The static evaluators' checks (:func:`check_evaluators`), a skipped one said loudly."""
    config.policy = replace(config.policy, git_dir=Path(repo.common_dir))  # as the session's
    checks = check_evaluators(config, python, Path(repo.working_tree_dir), run_id)
    for check in checks.values():
        if check.skipped:
            note(check.warning())
    return checks


def sandbox_notes(config: RunConfig, note: Callable[[str], None]) -> None:
    """Say loudly, through ``note``, what a weak sandbox does not hold (files, processes, network)."""
    if config.policy.mode() == "weak":
        note("WARNING: weak sandbox: bubblewrap is not in use, so tests can write outside the "
             "worktree and setsid children can outlive the run (apt-get install bubblewrap)")
    if not config.policy.network and config.policy.mode() == "weak" and network_isolation() is None:
        note("network isolation is not available on this system (no unprivileged network "
             "namespaces): tests run with network access")
