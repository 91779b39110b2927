"""The offline template repairer: generate-and-validate program repair, no network, no key.

Candidates are AST mutations (:mod:`harness.generators.mutations`) at the most
suspicious lines of the context, ranked by ``suspiciousness × operator prior ×
DECAY**n`` (priors reweighted by past lessons; ``n`` counts earlier mutants of the
same operator at the same line), deduplicated, and handed out in batches, best
first. The evaluators decide which one is right; this generator never runs a test.

Mutants are produced lazily, best first: lines are expanded in order of
suspiciousness only while an unexpanded line could still hold a better candidate
than the best one waiting (its score times the highest prior bounds all of its
mutants). The order is the same as sorting every mutant of every line, but a bug
found among the first candidates costs only the mutants of a few lines.

Partial fixes are leads, not commitments: a candidate of this generator that the
evaluators found *viable* (it fixes some failing tests and breaks none) but that was not
accepted (context attempts) gets a search of its own over its patched file, and its
mutants become two-site candidates (the lead's edit plus one more), interleaved with the
search from the unpatched code by score, times :data:`LEAD_WEIGHT` and the share of the
failing tests the lead fixes: a lead that explains little of the failure does not take the
search over. The candidates the failing tests' messages and literals point at are made
from the lead's text too (a second fault the evidence names joins the first). The search from the base goes on, so a right single edit is still found after
a wrong partial one.

Progress leads (:mod:`harness.core.progress`): a candidate of ours that fixes no failing test
and breaks none but moves a failing test's failure forward (decided at stage ``progress``)
is searched from the same way, at most :data:`harness.core.progress.LEADS` of them (the most
progressed), at :data:`PROGRESS_WEIGHT` times the share of the failing tests it moves, below
a partial fix: with one failing test a two-edit fix has no partial fix to start from. In a
lead's search, the lead's own edit at another statement of the lead line's shape comes first
(:mod:`harness.generators.siblings`: a systematic edit's second site).
"""

from __future__ import annotations

import heapq
import os
import posixpath
from dataclasses import replace
from pathlib import Path

from harness.core import progress
from harness.core.context import Context, SuspiciousLocation
from harness.core.protocols import Generator, Proposal
from harness.generators.angelic_ops import angelic_mutants
from harness.generators.case_ops import case_edits
from harness.generators.data_edits import hinted
from harness.generators.guard_evidence import guard_mutants
from harness.generators.message_ops import message_mutants
from harness.generators.mutations import OPERATOR_PRIORS, mutants_at
from harness.generators.nan_ops import nan_edits
from harness.generators.siblings import lead_edit, sibling_first
from harness.generators.type_ops import type_mutants
from harness.generators.feedback import INERT, MARKED, differing_marks, inert_sites, marked, name_parts, near_names
from harness.core.localize import is_protected
from sandbox import safefs
from sandbox.patch import Patch, PatchError

#: weight of each further mutant of the same operator at the same line.
DECAY = 0.6
#: lines in the first expansion; each further expansion takes twice as many (one parse
#: of a file per expansion, so a search that needs every line parses it a few times).
CHUNK = 8
#: leads (partial fixes) searched from at once, the ones fixing the most tests first.
LEADS = 2
#: a candidate that made at least this share of the failing tests pass without being
#: accepted (a partial fix, or one with regressions) marks the names its edit touches as
#: *hot*: the failure flows through their values (tabulate s2: ``numparse`` and -> or fixes
#: 139 of 156; the bug is where ``disable_numparse`` is computed).
HOT_SHARE = 0.25
#: score factor of a candidate whose edit touches a hot name (by name part: ``numparse``
#: matches ``disable_numparse``).
HOT_BOOST = 2.5
#: candidates in the first batch of a search (then ``batch``): the slots start after the few
#: most suspicious lines are expanded, not all of them (with suspiciousness as flat as a
#: table pipeline's, 64 candidates expand every line: 1.5 s of CPU on tabulate, 16 take 0.36 s).
FIRST_BATCH = 16
#: weight of a two-site candidate's score against a single edit's, for a lead that fixes
#: every failing test but one; times the share of the failing tests its lead fixes.
LEAD_WEIGHT = 0.9
#: weight of a progress lead's two-site candidates (times the share of the failing tests whose
#: failure it moved forward): below :data:`LEAD_WEIGHT`, a failure moved is less than a test fixed.
PROGRESS_WEIGHT = 0.5
#: added to the score of a candidate the failing tests' messages point at (message_ops, score in
#: (0, 1]): above every mutant's (suspiciousness <= 1.4 with localize's frame and store weights,
#: prior <= 0.6, HOT_BOOST 2.5: 2.1), so they are tried first.
MESSAGE_FIRST = 2.5


class TemplateGenerator(Generator):
    """Generator ``templates``.

    Args:
        batch: candidates per :meth:`generate` call (one loop iteration).
        max_lines: how many of the most suspicious lines may be mutated.
    """

    name = "templates"
    builds_on_leads = True  # the loop keeps partial fixes as leads instead of applying them
    reads_angelic = True  # the loop probes conditions for it (harness.core.angelic)

    def __init__(self, batch: int = 64, max_lines: int = 200):
        self.batch = batch
        self.max_lines = max_lines
        self._key: tuple | None = None
        self._search: _Search | None = None
        self._leads: dict[str, _Search] = {}  # lead digest -> search over its patched text
        self._progress: dict[str, tuple[int, int]] = {}  # progress leads in _leads: digest -> progress.rank
        self._made: dict[str, tuple[dict[str, tuple[str, str]], str]] = {}  # digest -> (changes, what)
        self._batches = 0  # batches handed out from the current search
        self._near: dict[str, set[str]] = {}  # digest -> name parts its edit changes (single edits)
        self._sites: dict[str, tuple[str, int]] = {}  # digest -> (path, line) of its edit (single edits)

    def generate(self, context: Context) -> Proposal:
        """Next batch of untried candidates for ``context`` (:data:`FIRST_BATCH` at most for a
        new search, then ``batch``); empty when none are left."""
        key = (tuple(context.locations), tuple(sorted(context.task.failing)))
        if key != self._key or self._search is None:
            self._key = key
            self._search = _Search(context, self.max_lines)
            self._leads, self._batches, self._progress = {}, 0, {}
        self._search.take_angelic(context)
        self._add_leads(context)
        hot, inert = self._hot(context), inert_sites(context.attempts, self._sites)
        for search in [self._search, *self._leads.values()]:
            search.heat(hot, inert)
        tried = {attempt.digest for attempt in context.attempts}
        out: list[Patch] = []
        size = self.batch if self._batches else min(self.batch, FIRST_BATCH)
        self._batches += 1
        while len(out) < size:
            item = self._pop()
            if item is None:
                break
            patch = self._patch(*item)
            if patch is not None and patch.digest not in tried:
                tried.add(patch.digest)
                out.append(patch)
        return Proposal(candidates=out)

    def reset(self) -> None:
        """No conversation to forget: a new task's context starts a new search by itself."""

    def candidates(self, context: Context, limit: int | None = None) -> list[tuple]:
        """The candidates for ``context`` as ``(score, mutant)``, best first
        (at most ``limit``; all when None). For inspection and benchmarks."""
        search, out = _Search(context, self.max_lines), list[tuple]()
        while limit is None or len(out) < limit:
            item = search.pop()
            if item is None:
                break
            out.append(item)
        return out

    def _add_leads(self, context: Context) -> None:
        """Start a search from each new viable, unaccepted candidate of ours (best first), and
        from the most progressed of our progress leads."""
        leads = sorted((attempt for attempt in context.attempts if attempt.viable and not attempt.accepted
                        and attempt.digest in self._made and attempt.digest not in self._leads),
                       key=lambda attempt: -len(attempt.fixed))
        failing = max(1, len(context.task.failing))
        for attempt in leads[: max(0, LEADS - (len(self._leads) - len(self._progress)))]:
            changes, what = self._made[attempt.digest]
            self._leads[attempt.digest] = _Search(context, self.max_lines, lead=(attempt.digest, changes, what),
                                            weight=LEAD_WEIGHT * min(1.0, len(attempt.fixed) / max(1, failing - 1)))
        moved = sorted((attempt for attempt in context.attempts if attempt.progress > (0, 0) and not attempt.viable
                        and attempt.digest in self._made and attempt.digest not in self._leads),
                       key=lambda attempt: attempt.progress, reverse=True)
        for attempt in moved:  # the most progressed: a further one takes the least one's place
            if len(self._progress) >= progress.LEADS:
                least = min(self._progress, key=lambda digest: self._progress[digest])
                if attempt.progress <= self._progress[least]:
                    break
                del self._leads[least], self._progress[least]
            changes, what = self._made[attempt.digest]
            self._progress[attempt.digest] = attempt.progress
            self._leads[attempt.digest] = _Search(context, self.max_lines, lead=(attempt.digest, changes, what),
                                                  weight=PROGRESS_WEIGHT * min(1.0, attempt.progress[0] / failing),
                                                  reached=attempt.reached)

    def _hot(self, context: Context) -> set[str]:
        """Name parts touched by our single edits that made :data:`HOT_SHARE` of the failing
        tests pass and were not accepted."""
        need = max(1.0, HOT_SHARE * len(context.task.failing))
        return {part for attempt in context.attempts if not attempt.accepted and len(attempt.fixed) >= need
                for part in self._near.get(attempt.digest, ())}

    def _pop(self) -> tuple | None:
        """The best ``(score, mutant, lead)`` over the base search and the lead searches."""
        best, best_score = None, -1.0
        for search in [self._search, *self._leads.values()]:
            if search is None:
                continue
            top = search.peek()
            if top is not None and top * search.weight > best_score:
                best, best_score = search, top * search.weight
        got = best.pop() if best is not None else None
        if best is None or got is None:
            return None
        score, mutant = got
        return score * best.weight, mutant, best.lead

    def _patch(self, score: float, mutant, lead: tuple | None = None) -> Patch | None:
        changes, what, meta = {mutant.path: (mutant.source, mutant.new_source)}, mutant.description, {}
        if lead is not None:  # a two-site candidate: the lead's edit, then this one
            digest, base, lead_what = lead
            changes = {**base, mutant.path: (base.get(mutant.path, (mutant.source,))[0], mutant.new_source)}
            what, meta = f"{lead_what} + {mutant.description}", {"lead": digest, "sites": 2}
        try:
            patch = Patch.from_texts(
                changes, what,
                {"generator": self.name, "operator": mutant.operator, "path": mutant.path,
                 "line": mutant.line, "score": round(score, 6), **meta},
            )
        except PatchError:
            return None
        if lead is None:
            self._made[patch.digest] = (changes, what)
            self._near[patch.digest] = near_names(mutant, changed=True)
            self._sites[patch.digest] = (mutant.path, mutant.line)
        return patch


class _Search:
    """Lazy best-first enumeration of mutants over the suspicious lines of a context."""

    def __init__(self, context: Context, max_lines: int, lead: tuple | None = None, weight: float = 1.0,
                 reached: tuple[tuple[str, int], ...] = ()):
        self.root = Path(context.root)
        self.failing = context.task.failing  # messages and frames for the failure's operators
        self.lead = lead  # (digest, {path: (old, new)}, description) or None
        self.weight = weight  # its candidates' scores are times this (a lead search's: below 1)
        self.priors = dict(OPERATOR_PRIORS)
        self.priors.update({operator: prior for operator, prior in context.operator_priors.items() if operator in self.priors})
        self.top_prior = max(self.priors.values())
        best: dict[tuple[str, int], float] = {}
        # a progress lead's newly reached lines (where its failure now comes from) first
        top = max((loc.score for loc in context.locations), default=1.0)
        for loc in [SuspiciousLocation(path, line, top) for path, line in reached] + list(context.locations):
            if len(best) >= max_lines:
                break
            if not is_protected(loc.path, context.protected) and loc.path.endswith(".py"):
                key = (loc.path, loc.line)
                best[key] = max(best.get(key, 0.0), loc.score)
        self.lines = sorted(best.items(), key=lambda kv: -kv[1])  # [((path, line), score)]
        self.next = 0
        self.chunk = CHUNK
        self.heap: list[tuple[float, int, object]] = []  # (-score, tie-break, mutant)
        self.seen: set[tuple[str, tuple]] = set()  # (path, Mutant.key)
        self.sources: dict[str, str | None] = {path: new for path, (_, new) in (lead[1] if lead else {}).items()}
        self.sibling = lead_edit(lead)  # the lead's edit, to repeat at statements of its line's shape first
        if self.sibling:
            self.lines = sibling_first(self.lines, self.sibling, self._source(self.sibling.path) or "", top)
        self.order = 0
        self.hot: set[str] = set()
        self.inert: set[tuple[str, int]] = set()  # (path, line) whose edits changed no failing test's result
        self.base: dict[int, float] = {}  # tie-break -> score before the hot boost
        self.marks = differing_marks(self.failing)  # punctuation the failing assertions' values differ by
        self.marked: dict[tuple[str, int], bool] = {}  # (path, line) -> holds a literal of the marks
        # the failing tests' own evidence first: few, precise candidates; from a lead's text too,
        # so that a second fault the evidence names joins a partial fix (a property the test asks
        # for, then a regex the test's input needs)
        self.facts: set = set()  # the angelic facts already pushed
        self.take_angelic(context)
        evident = message_mutants(context, self._source, self._modules) + guard_mutants(context, self._source)
        for score, mutant in evident:
            if (mutant.path, mutant.key) not in self.seen:
                self._push((mutant.path, mutant.key), MESSAGE_FIRST + score, mutant)
        for score, mutant, first in type_mutants(context, self._source):  # classes the tests name
            if (mutant.path, mutant.key) not in self.seen:
                self._push((mutant.path, mutant.key), MESSAGE_FIRST * first + score, mutant)
        # data edits, and a check's missing case: values the failing tests write
        for score, mutant in (hinted(context, self.lines, self._source) + case_edits(context, self.lines, self._source)
                              + nan_edits(context, self.lines, self._source)):
            if (mutant.path, mutant.key) not in self.seen:
                self._push((mutant.path, mutant.key), score, mutant)

    def take_angelic(self, context: Context) -> None:
        """Push the candidates of the angelic facts not pushed yet (they join a search under
        way): a supported condition edit's ahead of the mutants, the others among them. A
        lead's search takes none: the facts' lines are the base text's."""
        new = [fact for fact in context.angelic if fact not in self.facts]
        if not new or self.lead is not None:
            return
        self.facts.update(new)
        suspicious = dict(self.lines)
        for score, mutant, first in angelic_mutants(replace(context, angelic=new), self._source):
            # pushed even when a mutant made the same text (never handed out twice)
            line_score = suspicious.get((mutant.path, mutant.line), 0.0)
            self._push((mutant.path, mutant.key), MESSAGE_FIRST + score if first else line_score * score, mutant)

    def peek(self) -> float | None:
        """Score of the best remaining mutant, or None when exhausted."""
        while self.next < len(self.lines) and (
                not self.heap or -self.heap[0][0] < self.lines[self.next][1] * self.top_prior):
            self._expand()
        return -self.heap[0][0] if self.heap else None

    def pop(self) -> tuple[float, object] | None:
        """The best remaining ``(score, mutant)``, or None when exhausted."""
        if self.peek() is None:
            return None
        neg, _, mutant = heapq.heappop(self.heap)
        return -neg, mutant

    def heat(self, hot: set[str], inert: set[tuple[str, int]] | frozenset = frozenset()) -> None:
        """Boost (:data:`HOT_BOOST`) the mutants whose edit touches a name part in ``hot``;
        the lines not expanded yet whose text names one are expanded now. Lower (:data:`INERT`)
        the mutants at an ``inert`` ``(path, line)``."""
        if hot <= self.hot and inert <= self.inert:
            return
        self.inert = set(inert) | self.inert
        if hot <= self.hot:
            self._reweigh()
            return
        self.hot = set(hot)
        rest = self.lines[self.next:]
        warm = [kv for kv in rest if (src := self._source(kv[0][0])) and name_parts(_line(src, kv[0][1])) & self.hot]
        if warm:
            self.lines[self.next:] = warm + [kv for kv in rest if kv not in warm]
            self._expand(len(warm))
        self._reweigh()

    def _reweigh(self) -> None:
        self.heap = [(-self._boosted(self.base[order], mutant), order, mutant) for _, order, mutant in self.heap]
        heapq.heapify(self.heap)

    def _boosted(self, score: float, mutant) -> float:
        if (mutant.path, mutant.line) in self.inert:
            score *= INERT
        if self.marks and self._marked(mutant.path, mutant.line):
            score *= MARKED
        hot = self.hot and not mutant.operator.startswith("angelic_")  # the probe's order is kept
        return score * HOT_BOOST if hot and near_names(mutant) & self.hot else score

    def _expand(self, size: int | None = None) -> None:
        chunk = self.lines[self.next:self.next + (size or self.chunk)]
        self.next += len(chunk)
        if size is None:
            self.chunk *= 2
        by_file: dict[str, dict[int, float]] = {}
        for (path, line), score in chunk:
            by_file.setdefault(path, {})[line] = score
        for path, lines in by_file.items():
            source = self._source(path)
            if source is None:
                continue
            count: dict[tuple[int, str], int] = {}
            for mutant in mutants_at(path, source, lines, self.failing, self._source):
                if (path, mutant.key) in self.seen:
                    continue
                rank = count[(mutant.line, mutant.operator)] = count.get((mutant.line, mutant.operator), -1) + 1
                score = lines.get(mutant.line, max(lines.values())) * self.priors.get(mutant.operator, 0.1) * DECAY ** rank
                self._push((path, mutant.key), score, mutant)

    def _push(self, key: tuple[str, tuple], score: float, mutant) -> None:
        if self.sibling and self.sibling.repeated_by(mutant, lambda: _line(self._source(mutant.path) or "", mutant.line)):
            score += MESSAGE_FIRST  # the lead's own edit at a statement of its shape (siblings.py)
        self.seen.add(key)
        self.order += 1
        self.base[self.order] = score
        heapq.heappush(self.heap, (-self._boosted(score, mutant), self.order, mutant))

    def _marked(self, path: str, line: int) -> bool:
        if (path, line) not in self.marked:
            self.marked[(path, line)] = marked(_line(self._source(path) or "", line), self.marks)
        return self.marked[(path, line)]

    def _source(self, path: str) -> str | None:
        if path not in self.sources:
            try:
                # bytes decoded, not read_text: universal newlines would turn a CRLF file's line
                # ends into LF, and every patch would rewrite the whole file; no link followed
                # (code under test ran in this worktree: safefs.UnsafePath is an OSError)
                data = safefs.read_bytes(self.root, path)
                self.sources[path] = None if data is None else data.decode("utf-8")
            except (OSError, UnicodeDecodeError, PatchError):
                self.sources[path] = None
        return self.sources[path]


    def _modules(self, directory: str) -> list[str]:
        """The ``.py`` files directly in ``directory`` (repo-relative; regular files only, no
        link followed), [] when it cannot be listed."""
        try:
            with os.scandir(self.root / directory) as entries:
                return [posixpath.join(directory, e.name) for e in entries
                        if e.name.endswith(".py") and e.is_file(follow_symlinks=False)]
        except OSError:
            return []


def _line(source: str, line: int) -> str:
    """Line ``line`` (1-based) of ``source``, '' past the end."""
    lines = source.splitlines()
    return lines[line - 1] if 0 < line <= len(lines) else ""
