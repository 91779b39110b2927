"""The shared LLM generator: prompts from a Context, one model call, edits to a Patch.

:class:`LLMGenerator` holds everything provider-neutral: it renders the prompts
(``prompts/system.md.j2`` and, by task kind, :mod:`harness.generators.prompt`'s first
and follow-up prompts), packs the most suspicious whole functions into a token budget,
keeps the conversation across ``generate()`` calls (so the next request carries the
previous answer and why it failed), retries transient failures with tenacity, parses
the edit blocks (:mod:`harness.generators.edits`) into a :class:`~sandbox.patch.Patch`,
and accounts every call. For instruction and review tasks it also understands the
replies of :mod:`harness.generators.replies`: ``DONE:`` (``Proposal.done``),
``ANSWER:`` (``Proposal.answer``) and ``READ:`` (files served in the next request).
The call itself (retries, deadlines, streaming limits, HTTP errors) is
:class:`~harness.generators.llm_call.ModelCall`'s; subclasses implement its ``_complete``:
one HTTP call with an official SDK, mapping its errors onto ``http_error``.

A request is a plain dict ``{provider, model, system, messages, max_tokens,
temperature}`` and a response a plain dict ``{text, input_tokens, output_tokens,
stop_reason, model, id, latency, attempts, retries, raw}``; ``self.exchange``
(request -> response) is what :mod:`harness.generators.replay` wraps to record or
replay a run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from harness.core.context import Context
from harness.core.protocols import Generator, Proposal, Usage
from harness.generators.edits import EditError, parse_edits
from harness.generators.edits_apply import apply_edits
from harness.generators.llm_call import ModelCall, clean_text
from harness.generators.pricing import Price, cost_usd
from harness.generators.prompt import TASK_KINDS, build_first, build_retry
from harness.generators.replies import Reply, keyword_lines, parse_reply, read_files
from harness.generators.retrying import RetryPolicy
from harness.generators.tokens import TokenCounter
from harness.core.localize import is_protected
from prompts import render
from sandbox.patch import Patch, PatchError, check_relative_path


#: Fewest output tokens worth asking for: with less left of ``--max-tokens`` no call is made.
MIN_OUTPUT_TOKENS = 256


class LLMGenerator(ModelCall, Generator):
    """A generator backed by a chat model; subclasses supply :meth:`_complete`.

    Args:
        model: the provider's model id.
        max_tokens: output tokens allowed per call.
        max_context_tokens: token budget of the first user prompt (code is packed
            into what the task, conventions and lessons leave).
        max_malformed: unusable answers in a row after which ``generate`` returns a
            ``blocked`` Proposal.
        temperature: sampling temperature, or None to send none (provider default;
            some models reject any other value).
        retry: the :class:`RetryPolicy`.
        prices: a price table (``{model: Price}``); None: the packaged one.
        history_turns: earlier answer/feedback pairs kept in the conversation.
        max_read_files: files served per ``READ:`` answer (instruction and review tasks).
        max_read_bytes: bytes shown per file read; longer files are cut at a line end.
        max_read_total: bytes shown per ``READ:`` answer; None: ``4 * max_context_tokens``.
        max_reads_in_row: ``READ:`` answers in a row allowed; one more counts as unusable.

    Attributes:
        name: ``provider:model``.
        messages: the conversation so far (user/assistant dicts, no system).
        exchange: request dict -> response dict; :meth:`call` unless recording/replaying.
        malformed_in_row: consecutive unusable answers (``READ:`` answers neither count nor reset).
        reads_in_row: consecutive ``READ:`` answers.
        stats: ``{"calls", "retries", "waited", "malformed"}`` (waited in seconds).
    """

    provider = "llm"

    def __init__(
        self,
        model: str,
        *,
        max_tokens: int = 4096,
        max_context_tokens: int = 12000,
        max_malformed: int = 3,
        temperature: float | None = None,
        retry: RetryPolicy | None = None,
        prices: dict[str, Price] | None = None,
        history_turns: int = 3,
        max_read_files: int = 5,
        max_read_bytes: int = 20_000,
        max_read_total: int | None = None,
        max_reads_in_row: int = 3,
    ) -> None:
        self.model = model
        self.name = f"{self.provider}:{model}"
        self.base_url = ""
        self.max_tokens = max_tokens
        self.max_context_tokens = max_context_tokens
        self.max_malformed = max_malformed
        self.temperature = temperature
        self.retry = retry or RetryPolicy()
        self.prices = prices
        self.history_turns = history_turns
        self.max_read_files = max_read_files
        self.max_read_bytes = max_read_bytes
        self.max_read_total = max_read_total or 4 * max_context_tokens
        self.max_reads_in_row = max_reads_in_row
        self.tokens = TokenCounter(self.provider, model)
        self.exchange: Callable[[dict], dict] = self.call
        self.sleep: Callable[[float], None] = time.sleep
        self.stats = {"calls": 0, "retries": 0, "waited": 0.0, "malformed": 0}
        self._deadline: float | None = None  # time.monotonic() by which the next call must end
        self._tokens_left: int | None = None  # of --max-tokens, for the next call
        self.reset()

    def reset(self) -> None:
        """Forget the conversation (a new task or run); counters in ``stats`` are kept."""
        self.messages: list[dict] = []
        self.malformed_in_row = 0
        self.reads_in_row = 0
        self._pending = ""  # why the last answer was unusable, for the next request
        self._served: dict | None = None  # files read for the last READ, for the next request
        self._notices: list[str] = []  # other one-line remarks for the next request
        self._shown: dict = {"attempts": set(), "code": {}, "tests": ()}
        self._root: Path | None = None
        self._iteration = 0
        self._last_system = ""

    # -- the protocol ---------------------------------------------------------------

    def generate(self, context: Context) -> Proposal:
        """Ask the model once and turn its answer into at most one candidate Patch.

        Returns:
            ``Proposal([patch])``; or no candidates and ``notes=[reason]`` when the
            answer is malformed, does not apply or edits a protected path; or
            ``blocked`` after ``max_malformed`` such answers in a row. ``usage``
            always counts the call. For instruction and review tasks also:
            ``Proposal(done=summary)`` for ``DONE:``, ``Proposal(answer=text)`` for
            ``ANSWER:``, and for ``READ:`` no candidates with ``notes=["read a.py, b.py"]``
            (the files go into the next request; more than ``max_reads_in_row`` READs
            in a row count as unusable).

        Raises:
            GeneratorError: the provider refused the request (400/401/403/404), retries
                were exhausted, or a replayed request differs from the cassette.
        """
        self._sync(context)
        request, shown = self._request(context)
        response = self.exchange(request)
        self._shown, self._last_system = shown, request["system"]
        self._served, self._notices = None, []  # sent with this request
        text = clean_text(response.get("text"))
        # providers reject an empty assistant turn in the history, so keep a placeholder
        said = text if text.strip() else "(empty answer)"
        self.messages = request["messages"] + [{"role": "assistant", "content": said}]
        usage = self._usage(response)
        notes = [f"retried: {r}" for r in response.get("retries", [])]
        if response.get("cut"):
            notes.append(str(response["cut"]))
        offered = ("done", "answer", "read") if context.task.kind in TASK_KINDS else ()
        reply = parse_reply(text, offered) if offered else None
        try:
            if response.get("malformed"):  # e.g. bytes that are not UTF-8: fed back like a bad edit
                raise EditError(str(response["malformed"]))
            if reply is None:
                patch = self.to_patch(text, context)
            elif reply.kind == "read" and self.reads_in_row >= self.max_reads_in_row:
                raise EditError(
                    f"you asked to read files {self.reads_in_row} times in a row; nothing was read this "
                    "time. Edit now with SEARCH/REPLACE blocks, or reply DONE (or ANSWER)"
                )
            elif reply.kind == "answer" and not reply.text:
                raise EditError("ANSWER: without a reply; write the reply text after 'ANSWER:'")
            else:
                return self._reply(reply, context, usage, notes)
        except EditError as exc:
            return self._unusable(str(exc), response, edited=reply is None, usage=usage, notes=notes)
        self.malformed_in_row = self.reads_in_row = 0
        self._pending = ""
        ignored = [k for k in dict.fromkeys(keyword_lines(text)) if k.lower() in offered]
        if ignored:
            said = " and ".join(ignored)
            self._notices.append(f"your answer had edits, so its {said} line was ignored; "
                                 "DONE, ANSWER and READ only count in an answer without edit blocks")
            notes.append(f"{said} ignored: the answer also had edits")
        return Proposal(candidates=[patch], usage=usage, notes=notes)

    def _unusable(self, reason: str, response: dict, *, edited: bool, usage: Usage, notes: list[str]) -> Proposal:
        """An unusable answer (``reason`` why) as a Proposal without candidates; fed back in the
        next request, ``blocked`` after ``max_malformed`` in a row. ``edited``: the answer tried
        an edit (which ends a READ streak)."""
        if response.get("stop_reason") in ("length", "max_tokens"):
            reason += f" (the answer was cut off at max_tokens={self.max_tokens})"
        self.malformed_in_row += 1
        if edited:
            self.reads_in_row = 0
        self.stats["malformed"] += 1
        self._pending = reason
        notes.append(reason)
        if self.malformed_in_row >= self.max_malformed:
            blocked = f"{self.name} gave {self.malformed_in_row} unusable answers in a row; last: {reason}"
            return Proposal(usage=usage, blocked=blocked, notes=notes)
        return Proposal(usage=usage, notes=notes)

    def _reply(self, reply: Reply, context: Context, usage: Usage, notes: list[str]) -> Proposal:
        """A DONE / ANSWER / READ answer as a Proposal (READ: serve the files for the next request)."""
        self._pending = ""
        if reply.kind == "done":
            self.malformed_in_row = self.reads_in_row = 0
            return Proposal(usage=usage, notes=notes, done=reply.text or "(the model gave no summary)")
        if reply.kind == "answer":
            self.malformed_in_row = self.reads_in_row = 0
            return Proposal(usage=usage, notes=notes, answer=reply.text)
        files, refused = read_files(context.root, reply.paths, max_files=self.max_read_files,
                                    max_bytes=self.max_read_bytes, max_total=self.max_read_total)
        if not reply.paths:
            refused = ["READ named no file; write one path per line, e.g. READ: path/to/file.py"]
        self.reads_in_row += 1
        self._served = {"files": [f.as_dict() for f in files], "notes": refused}
        cut = [f.path for f in files if f.truncated]
        read = f"read {', '.join(f.path for f in files)}" if files else "read nothing"
        notes.append(read + (f" (cut: {', '.join(cut)})" if cut else "")
                     + (f"; refused: {'; '.join(refused)}" if refused else ""))
        return Proposal(usage=usage, notes=notes)

    def estimate(self, context: Context | None = None) -> Usage:
        """An upper bound on the next :meth:`generate` call's usage, without calling.

        With a context, the exact next request is built and its tokens bounded
        (:meth:`TokenCounter.upper`). Without one, the bound is the conversation so
        far plus ``max_context_tokens // 2`` for the feedback message, or
        ``max_context_tokens`` plus the system prompt before the first call.

        Returns:
            ``Usage``: input tokens (upper bound), ``max_tokens`` output tokens, their
            USD cost (None if the price is unknown), latency 0, calls 1.
        """
        if context is not None:
            self._sync(context)
            request, _ = self._request(context)
            tokens_in = self.tokens.count_messages(request["system"], request["messages"], upper=True)
        elif self.messages:
            system = self._last_system
            tokens_in = self.tokens.count_messages(system, self.messages, upper=True)
            tokens_in += self.max_context_tokens // 2
            if self._served:  # the files of a READ go into the next request
                tokens_in += self.tokens.upper("".join(f["code"] for f in self._served["files"]))
        else:
            system = self._system("review_comment", [])  # the longest system prompt
            tokens_in = self.tokens.upper(system) + self.max_context_tokens + 20
        tokens_out = max(self._output_cap(tokens_in), min(MIN_OUTPUT_TOKENS, self.max_tokens))
        cost = cost_usd(self.model, tokens_in, tokens_out, self.prices)
        return Usage(tokens_in, tokens_out, cost, 0.0, 1)

    def _output_cap(self, tokens_in: int) -> int:
        """``max_tokens`` of the next request: the per-call limit, lowered to what the
        token budget (``Context.tokens_left``) leaves after ``tokens_in`` input tokens."""
        if self._tokens_left is None:
            return self.max_tokens
        return max(0, min(self.max_tokens, self._tokens_left - tokens_in))

    # -- prompts and conversation -------------------------------------------------------

    def _sync(self, context: Context) -> None:
        """Start a new conversation when the worktree changes or the iteration goes back;
        take the call's budget (deadline, tokens left) from ``context``."""
        self._deadline, self._tokens_left = context.deadline, context.tokens_left
        root = Path(context.root)
        if self._root is not None and (root != self._root or context.iteration < self._iteration):
            self.reset()
        self._root, self._iteration = root, context.iteration

    def _request(self, context: Context) -> tuple[dict, dict]:
        """The next request and the 'already shown' state to keep if it is sent."""
        system = self._system(context.task.kind, list(context.protected))
        if not self.messages:
            user, shown = build_first(context, self.tokens, self.max_context_tokens)
            messages = [{"role": "user", "content": user}]
        else:
            user, shown = build_retry(context, self.tokens, self.max_context_tokens, self._shown,
                                      self._pending, self._served, self._notices)
            rest = self.messages[1:] + [{"role": "user", "content": user}]
            keep = 2 * self.history_turns + 1
            messages = self.messages[:1] + (rest[-keep:] if len(rest) > keep else rest)
        request = {
            "provider": self.provider,
            "model": self.model,
            "system": system,
            "messages": messages,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
        }
        if self._tokens_left is not None:  # never ask for more than the token budget leaves
            tokens_in = self.tokens.count_messages(system, messages, upper=True)
            request["max_tokens"] = max(1, self._output_cap(tokens_in))
        return request, shown

    def _system(self, kind: str, protected: list[str]) -> str:
        return render("system.md.j2", kind=kind, protected=protected, max_read_files=self.max_read_files,
                      max_reads_in_row=self.max_reads_in_row)

    # -- edits -> patch ---------------------------------------------------------------

    def to_patch(self, answer: str, context: Context) -> Patch:
        """Parse ``answer``'s edits and build the Patch against the files in ``context.root``.

        Raises:
            EditError: no or malformed edits, an unsafe or protected path, a SEARCH
                block that does not match, or edits that change nothing.
        """
        edits = parse_edits(answer)
        for edit in edits:
            try:
                check_relative_path(edit.path)
            except PatchError as exc:
                raise EditError(str(exc)) from None
            pat = next((p for p in context.protected if is_protected(edit.path, (p,))), None)
            if pat:
                raise EditError(
                    f"{edit.path} is protected (matches {pat!r}) and may not be edited; "
                    "change the code under test instead"
                )
        root = Path(context.root).resolve()

        def read(path: str) -> str | None:
            target = (root / path).resolve()
            if root not in target.parents:
                raise EditError(f"{path}: resolves outside the repository")
            if not target.is_file():
                return None
            try:
                return target.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                raise EditError(f"{path}: not a UTF-8 text file") from None

        changes = apply_edits(edits, read)
        meta = {"generator": self.name, "edits": len(edits), "files": sorted(changes)}
        try:
            return Patch.from_texts(changes, _description(answer, self.name, sorted(changes)), meta)
        except PatchError as exc:
            raise EditError(f"the edits do not make a usable patch: {exc}") from None


def _description(answer: str, name: str, files: list[str]) -> str:
    """The answer's first sentence before the edits (for the Patch description), else
    ``<generator> edit to <files>``."""
    head = answer.split("<<<<<<<", 1)[0].split("```", 1)[0]
    lines = [ln.strip() for ln in head.splitlines() if ln.strip()]
    if "<<<<<<<" in answer and lines:
        lines = lines[:-1]  # the line before the first block is its path
    text = " ".join(lines).split(". ")[0].strip()
    if not text:
        return f"{name} edit to {', '.join(files)}"
    return (text[:117] + "...") if len(text) > 120 else text
