"""The benchmark's replay mode: how many prompt tokens a model-driven fix costs.

Two steps, both over the tasks of a suite (see :mod:`evals.bench`):

``python -m evals.bench_replay --record-oracle DIR``
    For each task, a local server speaking the OpenAI Chat Completions wire format
    (:mod:`evals.model_server`) answers every request with the *oracle* edit: one
    SEARCH/REPLACE block that turns the injected line back into the original.
    ``loopwright fix --model openai:MODEL --base-url … --record DIR/TASK.jsonl`` runs
    against it, so each cassette holds the real prompts our context packer built.
    The answers are an oracle on purpose: this measures prompt size, not model skill.

``python -m evals.bench_replay --replay DIR``
    Replays every cassette (``--model replay:DIR/TASK.jsonl``, offline, no key) and
    reports per task: model requests, prompt tokens (system + messages of each
    recorded request, counted as the generator counts them:
    :meth:`harness.generators.tokens.TokenCounter.count_messages` for the recorded
    provider and model), and *whole-file tokens*: the tokens of every tracked
    non-test repository file whose path appears in those prompts, counted in full,
    i.e. what a prompt sending whole files instead of packed excerpts would have
    carried. The ratio packed / whole-file is reported next to them.

Counts are exact (``tiktoken``) when the model's encoding is cached locally, else
the ``ceil(bytes / 4)`` estimate; the summary names which (``token_counter``).
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from evals.bench import Row, run_task
from evals.inject import is_test_path
from evals.model_server import FakeLLMServer
from harness.generators.replay import load_cassette
from harness.generators.tokens import TokenCounter

ORACLE_MODEL = "gpt-4.1-mini"


@dataclass
class ReplayRow:
    """One task's replayed run.

    Attributes:
        task: the task's slug. status: the replayed run's status (``fixed``, …).
        requests: model requests (calls) in the cassette.
        prompt_tokens: their total, in tokens (system + messages with per-message
            overhead, :meth:`TokenCounter.count_messages` for the recorded model).
        whole_file_tokens: tokens of the whole source files the prompts name.
        same_patch: the replayed patch equals the recorded run's patch.
        request_tokens: prompt tokens of each request, in order.
        files: the repository paths counted in ``whole_file_tokens``.
    """

    task: str
    status: str
    requests: int
    prompt_tokens: int
    whole_file_tokens: int
    same_patch: bool
    request_tokens: list[int] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    @property
    def per_request(self) -> float:
        """Prompt tokens per request (0 when there was none)."""
        return self.prompt_tokens / self.requests if self.requests else 0.0

    @property
    def ratio(self) -> float | None:
        """Packed prompt tokens / whole-file tokens (None without whole files)."""
        return self.prompt_tokens / self.whole_file_tokens if self.whole_file_tokens else None


def oracle_reply(info: dict) -> str:
    """The SEARCH/REPLACE answer that undoes the task's injected bug.

    The SEARCH part is the buggy line, widened by neighbouring lines until it occurs
    exactly once in the file (the edit format requires a unique match).

    Raises:
        ValueError: the task's file no longer holds the injected line.
    """
    path = Path(info["repo"]) / info["file"]
    lines = path.read_text(encoding="utf-8").splitlines()
    i = int(info["line"]) - 1
    if i >= len(lines) or lines[i] != info["new_line"]:
        raise ValueError(f"{info['file']}:{info['line']} is not the injected line {info['new_line']!r}")
    text = "\n".join(lines)
    for k in range(0, 20):
        lo, hi = max(0, i - k), min(len(lines), i + k + 1)
        search = "\n".join(lines[lo:hi])
        if text.count(search) == 1:
            break
    replace = "\n".join(lines[lo:i] + [info["old_line"]] + lines[i + 1:hi])
    return (f"The injected change at line {info['line']} is the bug; restore the line.\n\n"
            f"{info['file']}\n<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE\n")


def record_oracle(info: dict, run_dir: Path, cassette: Path, run_task, timeout: float = 300.0):
    """Run ``fix`` on the task against the oracle server, recording ``cassette``.

    Args:
        run_task: :func:`evals.bench.run_task` (passed in to keep the import one-way).

    Returns:
        the run's :class:`evals.bench.Row`.
    """
    cassette.parent.mkdir(parents=True, exist_ok=True)
    cassette.unlink(missing_ok=True)
    reply = oracle_reply(info)
    with FakeLLMServer([reply] * 8) as server:
        row = run_task(info, run_dir, timeout, verify=False,
                       fix_args=["--model", f"openai:{ORACLE_MODEL}", "--base-url", server.openai_url,
                                 "--record", str(cassette)],
                       env={"OPENAI_API_KEY": "oracle-benchmark-key"})
    (cassette.parent / f"{cassette.stem}.patch").write_text(row.patch)
    return row


def prompt_texts(cassette: Path) -> list[tuple[str, str]]:
    """``(model, prompt text)`` of each recorded request: system prompt and every message."""
    out = []
    for ex in load_cassette(cassette):
        req = ex["request"]
        system, messages = _system_and_messages(req)
        out.append((str(req.get("model") or ORACLE_MODEL),
                    "\n".join([system, *(m["content"] for m in messages)])))
    return out


def _system_and_messages(req: dict) -> tuple[str, list[dict]]:
    """A recorded request's system text and messages, content blocks flattened to text."""
    messages = []
    for m in req.get("messages") or []:
        content = m.get("content")
        if isinstance(content, list):  # content blocks
            content = "\n".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
        messages.append({"role": m.get("role", ""), "content": str(content or "")})
    return str(req.get("system") or ""), messages


def request_tokens(cassette: Path) -> tuple[list[int], TokenCounter]:
    """Prompt tokens of each recorded request, and the counter of the first one.

    Each request is counted as the generator counts it: :class:`TokenCounter` for
    the request's ``provider``/``model``, :meth:`TokenCounter.count_messages` over
    the system text and messages (per-message overhead included).
    """
    counts, first = [], None
    for ex in load_cassette(cassette):
        req = ex["request"]
        counter = TokenCounter(str(req.get("provider") or "openai"), str(req.get("model") or ORACLE_MODEL))
        first = first or counter
        counts.append(counter.count_messages(*_system_and_messages(req)))
    return counts, first or TokenCounter("openai", ORACLE_MODEL)


def whole_files(repo: Path, prompts: list[str]) -> list[str]:
    """Tracked non-test files of ``repo`` whose code a prompt shows (posix paths).

    A file counts when a prompt shows an excerpt of it: every excerpt (packed code,
    a READ, a changed region) has the header "`PATH`, lines A-B". Files only
    mentioned (in the repository's AGENTS.md, a traceback) are not what a whole-file
    prompt would have sent. Files that are not UTF-8 text are skipped.
    """
    joined = "\n".join(prompts)
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=repo, capture_output=True, text=True,
                            check=True).stdout.split("\0")
    files = []
    for rel in sorted(f for f in listed if f):
        if is_test_path(rel) or rel.startswith(".loopwright/") or not (repo / rel).is_file():
            continue
        if re.search(rf"`{re.escape(rel)}`, lines \d", joined):
            files.append(rel)
    return files


def replay_task(info: dict, run_dir: Path, cassette: Path, run_task, slug: str,
                timeout: float = 300.0) -> ReplayRow:
    """Replay ``cassette`` on the task and measure its prompts (see the module docstring).

    Args:
        info: the TaskInfo dict (:func:`evals.bench.ensure_prepared`).
        run_dir: where the clone and logs go. slug: the row's task name.
        run_task: :func:`evals.bench.run_task` (passed in to keep the import one-way).
        timeout: wall seconds for the replayed ``loopwright fix``.
    """
    row = run_task(info, run_dir, timeout, verify=False, fix_args=["--model", f"replay:{cassette}"])
    recorded = cassette.parent / f"{cassette.stem}.patch"
    counts, counter = request_tokens(cassette)
    repo = run_dir / "repo"
    files = whole_files(repo, [t for _, t in prompt_texts(cassette)])
    whole = 0
    for rel in files:
        try:
            whole += counter.count((repo / rel).read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            continue
    return ReplayRow(slug, row.status, len(counts), sum(counts), whole,
                     recorded.is_file() and recorded.read_text() == row.patch, counts, files)


def summarize(rows: list[ReplayRow]) -> dict:
    """Suite figures, in tokens (None where undefined).

    ``median_prompt_tokens_per_request`` (over every request of every task),
    ``mean_prompt_tokens_per_fixed_task`` (tasks whose replay is ``fixed``),
    ``mean_whole_file_tokens_per_task`` (every task), plus ``tasks``, ``fixed`` and
    ``token_counter`` (``tiktoken:…`` when exact, else ``estimate:bytes/4``).
    """
    fixed = [r for r in rows if r.status == "fixed"]
    per_request = [n for r in rows for n in r.request_tokens] or [r.per_request for r in rows if r.requests]
    return {
        "tasks": len(rows), "fixed": len(fixed),
        "median_prompt_tokens_per_request": round(statistics.median(per_request)) if per_request else None,
        "mean_prompt_tokens_per_fixed_task": round(statistics.mean(r.prompt_tokens for r in fixed)) if fixed else None,
        "mean_whole_file_tokens_per_task": round(statistics.mean(r.whole_file_tokens for r in rows)) if rows else None,
        "token_counter": TokenCounter("openai", ORACLE_MODEL).method,
    }


def render(rows: list[ReplayRow], summary: dict) -> tuple[Table, Table]:
    """The per-task table and the summary table."""
    table = Table(title="loopwright bench --replay (prompt tokens)")
    for col in ("task", "status", "requests", "prompt tokens", "per request", "whole-file tokens",
                "packed / whole", "same patch"):
        table.add_column(col, justify="left" if col in ("task", "status") else "right")
    for r in rows:
        table.add_row(r.task, r.status, str(r.requests), str(r.prompt_tokens), f"{r.per_request:.0f}",
                      str(r.whole_file_tokens), f"{r.ratio:.2f}" if r.ratio is not None else "-",
                      "yes" if r.same_patch else "no")
    side = Table(title="summary")
    side.add_column("figure")
    side.add_column("value", justify="right")
    for k, v in summary.items():
        side.add_row(k.replace("_", " "), "-" if v is None else str(v))
    return table, side


def to_json(rows: list[ReplayRow], summary: dict) -> str:
    """Rows (with per-request and ratio figures) and the summary, as JSON text."""
    return json.dumps({"rows": [asdict(r) | {"per_request": round(r.per_request, 1), "ratio": r.ratio}
                                for r in rows], "summary": summary}, indent=2)


def replay_mode(args, items: list[tuple[str, dict | Row]], run_root: Path, console: Console,
                 err: Console) -> int:
    """What ``python -m evals.bench_replay`` runs for ``--record-oracle``/``--replay`` (called by
    :func:`evals.bench.main` with the prepared tasks).

    ``--record-oracle DIR``: one cassette per task (exit 1 when a recorded run is not
    ``fixed``); ``--replay DIR``: the token table (exit 2 when DIR holds no cassette)."""
    ready = [(slug, info) for slug, info in items if isinstance(info, dict)]
    if args.record_oracle:
        failed = 0
        for slug, info in ready:
            try:
                row = record_oracle(info, run_root / slug, args.record_oracle / f"{slug}.jsonl",
                                                 run_task, args.timeout)
            except ValueError as exc:
                failed += 1
                err.print(f"[red]cannot record[/] {slug}: {exc}")
                continue
            failed += row.status != "fixed"
            err.print(f"recorded {slug}: {row.status} -> {args.record_oracle / slug}.jsonl")
        return 1 if failed else 0
    rows = []
    for slug, info in ready:
        cassette = args.replay / f"{slug}.jsonl"
        if not cassette.is_file():
            err.print(f"[yellow]no cassette[/] for {slug} in {args.replay} (record it with --record-oracle)")
            continue
        rows.append(replay_task(info, run_root / slug, cassette, run_task, slug, args.timeout))
        err.print(f"replayed {slug}: {rows[-1].status}")
    if not rows:
        err.print(f"[red]error:[/] no cassettes in {args.replay}")
        return 2
    summary = summarize(rows)
    for table in render(rows, summary):
        console.print(table)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(to_json(rows, summary) + "\n")
    return 0


if __name__ == "__main__":
    import sys

    from evals.bench import main

    sys.exit(main(replay_mode=replay_mode))
