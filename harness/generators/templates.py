"""The offline template repairer: generate-and-validate program repair, no network, no key.

Candidates are AST mutations (:mod:`harness.generators.mutations`) at the most
suspicious lines of the context, ranked by ``suspiciousness × operator prior``
(priors reweighted by past lessons), deduplicated, and handed out in batches,
best first. The evaluators decide which one is right; this generator never runs
a test.
"""

from __future__ import annotations

from pathlib import Path

from harness.context import Context
from harness.generators.base import Proposal
from harness.generators.mutations import OPERATOR_PRIORS, mutants_at
from harness.localize import is_protected
from sandbox.patch import Patch, PatchError


class TemplateGenerator:
    """Generator ``templates``.

    Args:
        batch: candidates per :meth:`generate` call (one loop iteration).
        max_lines: how many of the most suspicious lines are mutated.
    """

    name = "templates"

    def __init__(self, batch: int = 40, max_lines: int = 60):
        self.batch = batch
        self.max_lines = max_lines
        self._key: tuple | None = None
        self._queue: list[tuple] = []

    def generate(self, context: Context) -> Proposal:
        """Next batch of untried candidates for ``context``; empty when none are left."""
        key = (tuple(context.locations), tuple(sorted(context.task.failing)))
        if key != self._key:
            self._key = key
            self._queue = self.candidates(context)
        tried = {a.digest for a in context.attempts}
        out: list[Patch] = []
        while self._queue and len(out) < self.batch:
            patch = self._patch(*self._queue.pop(0))
            if patch is None or patch.digest in tried:
                continue
            out.append(patch)
        return Proposal(candidates=out)

    def candidates(self, context: Context) -> list[tuple]:
        """All candidates for the context as ``(score, mutant, old_source)``, best first,
        deduplicated by resulting source. Patches are built lazily (:meth:`_patch`):
        diffing every mutant of a large file up front would dominate the run."""
        by_file: dict[str, dict[int, float]] = {}
        for loc in context.locations[: self.max_lines]:
            if is_protected(loc.path, context.protected):
                continue
            lines = by_file.setdefault(loc.path, {})
            lines[loc.line] = max(lines.get(loc.line, 0.0), loc.score)
        priors = dict(OPERATOR_PRIORS)
        priors.update({k: v for k, v in context.operator_priors.items() if k in priors})
        scored: dict[tuple[str, str], tuple[float, int, object]] = {}
        order = 0
        for path, lines in by_file.items():
            try:
                source = (Path(context.root) / path).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            for m in mutants_at(path, source, lines):
                score = lines.get(m.line, max(lines.values())) * priors.get(m.operator, 0.1)
                k = (path, m.new_source)
                order += 1
                if k not in scored or score > scored[k][0]:
                    scored[k] = (score, order, (m, source))
        ranked = sorted(scored.values(), key=lambda t: (-t[0], t[1]))
        return [(score, m, source) for score, _, (m, source) in ranked]

    def _patch(self, score: float, m, source: str) -> Patch | None:
        try:
            return Patch.from_texts(
                {m.path: (source, m.new_source)}, m.description,
                {"generator": self.name, "operator": m.operator, "path": m.path,
                 "line": m.line, "score": round(score, 6)},
            )
        except PatchError:
            return None
