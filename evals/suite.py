"""Task suites as data: the YAML/JSONL suite file, its pydantic models and its loader.

The format (shared contract, also used by the release-pair miner)::

    suite: NAME
    description: "..."
    tasks:
      - id: TASK-ID                 # unique in the suite
        repo: {path: DIR}           # or {prepare: {spec, seed}} or {release_pair: {...}}
        command: fix                # or "run LOOP.yaml" | "do INSTRUCTION" | "review --comments FILE"
        python: null                # target interpreter (null: the default)
        gold_patch: "..."           # optional unified diff of the developer's fix
        tests: [tests/test_x.py::test_y]   # tests that must pass after the fix
        timeout: 600                # wall seconds for the whole task

A JSONL suite holds one task object per line (the suite is named after the file).
Relative ``repo.path``, ``run LOOP.yaml`` and ``review --comments FILE`` paths are
resolved against the suite file's folder.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from loops.yaml_errors import dotted, locate

__all__ = ["RepoSpec", "Suite", "SuiteError", "TaskSpec", "load_suite"]

COMMANDS = ("fix", "run", "do", "review")


class SuiteError(ValueError):
    """An unusable suite file; each line of the message is ``FILE:LINE: field.path: what (what to do)``."""

    def __init__(self, errors: list[str]):
        self.errors = errors
        super().__init__("\n".join(errors))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PrepareSource(_Strict):
    """An injected-bug task: :func:`evals.prepare.prepare_task` ``(spec, seed)``."""

    spec: str = Field(min_length=1)
    seed: int


class RepoSpec(_Strict):
    """Where a task's repository comes from: exactly one of ``path``, ``prepare``, ``release_pair``."""

    path: str | None = None
    prepare: PrepareSource | None = None
    release_pair: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one(self) -> RepoSpec:
        given = [k for k in ("path", "prepare", "release_pair") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of path, prepare, release_pair (got {', '.join(given) or 'none'})")
        return self

    def to_spec(self) -> dict:
        """The plain dict :func:`evals.materialize.materialize` takes."""
        return self.model_dump(exclude_none=True)


class TaskSpec(_Strict):
    """One task: a repository, the command to run on it, and how to judge the result.

    ``timeout`` is wall seconds for the whole task (clone, run, metrics).
    """

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._+-]*$", max_length=120)
    repo: RepoSpec
    command: str = "fix"
    python: str | None = None
    gold_patch: str | None = None
    tests: list[str] = Field(default_factory=list)
    timeout: float = Field(default=600.0, gt=0)

    @field_validator("command")
    @classmethod
    def _command(cls, v: str) -> str:
        try:
            words = shlex.split(v)
        except ValueError as exc:
            raise ValueError(f"cannot split {v!r}: {exc} (quote it like a shell command)") from None
        if not words or words[0] not in COMMANDS:
            raise ValueError(f"{v!r} is not a task command (use fix, 'run LOOP.yaml', "
                             "'do INSTRUCTION' or 'review --comments FILE')")
        if words[0] in ("run", "do") and len(words) < 2:
            raise ValueError(f"'{words[0]}' needs an argument (e.g. '{words[0]} "
                             f"{'LOOP.yaml' if words[0] == 'run' else 'INSTRUCTION'}')")
        return v

    def argv(self) -> list[str]:
        """The command's words, e.g. ``["run", "loop.yaml"]``."""
        return shlex.split(self.command)


class Suite(_Strict):
    """A named list of tasks; ``source`` is the file it was read from (set by :func:`load_suite`)."""

    suite: str = Field(min_length=1)
    description: str = ""
    tasks: list[TaskSpec] = Field(min_length=1)
    source: str = ""

    @field_validator("tasks")
    @classmethod
    def _unique(cls, tasks: list[TaskSpec]) -> list[TaskSpec]:
        seen: set[str] = set()
        dupes = [t.id for t in tasks if t.id in seen or seen.add(t.id)]
        if dupes:
            raise ValueError(f"task ids must be unique in a suite: {', '.join(sorted(set(dupes)))} repeated "
                             "(rename one)")
        return tasks


def load_suite(path: str | Path) -> Suite:
    """Read and validate a suite file (``.yaml``/``.yml``, or ``.jsonl``: one task per line).

    Relative paths in ``repo.path`` and in ``run``/``review`` commands are made absolute
    against the suite file's folder.

    Raises:
        SuiteError: unreadable file, bad YAML/JSON, or schema violations; every problem
            is listed as ``FILE:LINE: field.path: what``.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteError([f"{path}:1: (file): cannot read it: {exc} (check the path)"]) from None
    suite = _load_jsonl(path, text) if path.suffix == ".jsonl" else _load_yaml(path, text)
    suite.source = str(path.resolve())
    _resolve_paths(suite, path.resolve().parent)
    return suite


def _load_yaml(path: Path, text: str) -> Suite:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise SuiteError([f"{path}:{mark.line + 1 if mark else 1}: (yaml): {exc.problem or exc.context} "
                          "(fix the YAML syntax)"]) from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise SuiteError([f"{path}:1: (document): expected a mapping with 'suite:' and 'tasks:' "
                          f"(got {type(data).__name__})"])
    try:
        return Suite.model_validate(data)
    except ValidationError as exc:
        raise SuiteError([_format(str(path), *locate(node, tuple(e["loc"])), e) for e in exc.errors()]) from None


def _load_jsonl(path: Path, text: str) -> Suite:
    tasks, errors = [], []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError as exc:
            errors.append(f"{path}:{n}: (json): not JSON: {exc} (one task object per line)")
            continue
        try:
            tasks.append(TaskSpec.model_validate(item))
        except ValidationError as exc:
            errors += [_format(str(path), n, tuple(e["loc"]), e) for e in exc.errors()]
    if errors:
        raise SuiteError(errors)
    try:
        return Suite(suite=path.stem, tasks=tasks)
    except ValidationError as exc:
        raise SuiteError([f"{path}:1: tasks: {e['msg'].removeprefix('Value error, ')}" for e in exc.errors()]) from None


def _format(file: str, line: int, loc: tuple, err: dict) -> str:
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = f"unknown field '{loc[-1]}' (see the suite format in README: id, repo, command, python, " \
              "gold_patch, tests, timeout)"
    elif err["type"] == "missing":
        msg = f"missing (add '{err['loc'][-1]}:')"
    elif not msg.endswith(")") and isinstance(err.get("input"), (str, int, float, bool)):
        msg = f"{msg} (got {err['input']!r})"
    return f"{file}:{line}: {dotted(tuple(err['loc']))}: {msg}"


def _resolve_paths(suite: Suite, base: Path) -> None:
    for task in suite.tasks:
        if task.repo.path is not None:
            task.repo.path = str((base / task.repo.path).resolve())
        if task.repo.prepare is not None and "==" not in task.repo.prepare.spec:  # a local source
            task.repo.prepare.spec = str((base / task.repo.prepare.spec).resolve())
        words = task.argv()
        if words[0] == "run" and not Path(words[1]).is_absolute() and (base / words[1]).exists():
            words[1] = str((base / words[1]).resolve())
        if words[0] == "review" and "--comments" in words[:-1]:
            i = words.index("--comments") + 1
            words[i] = str((base / words[i]).resolve())
        task.command = shlex.join(words)
