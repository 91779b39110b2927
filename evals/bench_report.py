"""The benchmark's results: one :class:`Row` per task, the suite's figures and the tables.

:mod:`evals.bench` fills the rows (and :mod:`evals.bench_replay` reads them); this
module only computes and prints.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table

__all__ = ["Row", "figure", "render", "summarize"]


@dataclass
class Row:
    """One task's benchmark result (times in wall seconds; None when unknown).

    ``status`` is the harness's (``fixed``, ``partial``, ``not_fixed``,
    ``nothing_to_fix``, ``error``) or the bench's own ``timeout``,
    ``bad_output`` (no JSON summary on stdout) or ``prepare_error``.
    ``verified`` is the bench's own check of a ``fixed`` claim (patch applied to a
    clean clone, tests rerun, no test file touched); None when not checked.
    ``wall_seconds`` is the harness's figure when it reported one, else the bench's.
    ``unprotected`` is the harness's own flag: the fix changes lines no test that
    passed at the start executes (None when not reported). ``suspect``: why the harness
    thinks the fix may only fool the tests ('' when it found no reason; issue 21).
    """

    library: str
    version: str
    seed: int
    status: str
    stop_reason: str = ""
    wall_seconds: float | None = None
    test_seconds: float | None = None
    candidates_tried: int | None = None
    iterations: int | None = None
    exit_code: int | None = None
    verified: bool | None = None
    unprotected: bool | None = None
    suspect: str = ""
    bench_seconds: float = 0.0
    run_id: str = ""
    bug: str = ""
    patch_files: list[str] = field(default_factory=list)
    note: str = ""
    patch: str = field(default="", repr=False)

    @property
    def test_share(self) -> float | None:
        """test_seconds / wall_seconds, or None when either is missing or wall is 0."""
        if self.test_seconds is None or not self.wall_seconds:
            return None
        return self.test_seconds / self.wall_seconds


def _pct(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..1) of a non-empty list, else None."""
    if not values:
        return None
    s = sorted(values)
    return s[max(0, math.ceil(p * len(s)) - 1)]


def summarize(rows: list[Row]) -> dict:
    """Suite figures: counts, wall-time quantiles, candidates per fix, test-time share.

    Returns a dict: ``total``, ``fixed`` (status ``fixed``), ``verified`` (fixed and
    confirmed by the bench; equals ``fixed`` when verification was off), ``unprotected``
    (fixed, with changed lines no baseline-passing test executes),
    ``fix_rate`` (fixed/total), ``median_wall_s`` and ``p90_wall_s`` (nearest
    rank, over every task), ``mean_candidates_per_fix`` (over fixed tasks that
    report it), ``test_share`` (sum test_seconds / sum wall_seconds over tasks
    reporting both) and ``harness_overhead`` (1 - test_share). None where undefined.
    When the harness validates candidates in parallel, test_seconds adds up the
    processes' wall times and can exceed the run's wall time (share above 100%).
    """
    fixed = [r for r in rows if r.status == "fixed"]
    walls = [r.wall_seconds for r in rows if r.wall_seconds is not None]
    cands = [r.candidates_tried for r in fixed if r.candidates_tried is not None]
    both = [r for r in rows if r.wall_seconds and r.test_seconds is not None]
    wall_sum = sum(r.wall_seconds for r in both)
    share = sum(r.test_seconds for r in both) / wall_sum if wall_sum else None
    return {
        "total": len(rows),
        "fixed": len(fixed),
        "verified": sum(1 for r in fixed if r.verified is not False),
        "unprotected": sum(1 for r in fixed if r.unprotected),
        "suspect": sum(1 for r in fixed if r.suspect),
        "fix_rate": len(fixed) / len(rows) if rows else None,
        "median_wall_s": statistics.median(walls) if walls else None,
        "p90_wall_s": _pct(walls, 0.9),
        "mean_candidates_per_fix": statistics.mean(cands) if cands else None,
        "test_share": share,
        "harness_overhead": None if share is None else 1.0 - share,
    }


def figure(x, fmt: str = "{:.1f}") -> str:
    """``x`` formatted with ``fmt`` for a table cell, ``-`` when None."""
    return "-" if x is None else fmt.format(x)


def render(rows: list[Row], summary: dict, console: Console) -> None:
    """Print the per-task table and the summary table."""
    table = Table(title="loopwright bench", show_lines=False)
    for col, just in (("library", "left"), ("seed", "right"), ("bug", "left"), ("status", "left"),
                      ("stop reason", "left"), ("wall s", "right"), ("candidates", "right"),
                      ("test share", "right"), ("verified", "center")):
        table.add_column(col, justify=just)
    colors = {"fixed": "green", "partial": "yellow", "not_fixed": "red"}
    for r in rows:
        status = f"[{colors.get(r.status, 'magenta')}]{r.status}[/]"
        ver = {True: "yes", False: "[red]NO[/]", None: ""}[r.verified] + (
            " [yellow](unprotected)[/]" if r.unprotected else "") + (" [yellow](suspect)[/]" if r.suspect else "")
        table.add_row(f"{r.library} {r.version}", str(r.seed), r.bug.split(":")[0], status,
                      r.stop_reason or r.note,
                      figure(r.wall_seconds), figure(r.candidates_tried, "{}"),
                      figure(r.test_share, "{:.0%}"), ver)
    console.print(table)
    s = summary
    tot = Table(title="summary", show_header=False)
    tot.add_column(justify="left")
    tot.add_column(justify="right")
    tot.add_row("fixed / total", f"{s['fixed']} / {s['total']}" + (
        f"  ({s['fix_rate']:.0%})" if s["fix_rate"] is not None else ""))
    if s["verified"] != s["fixed"]:
        tot.add_row("fixes confirmed by the bench", f"{s['verified']} / {s['fixed']}")
    tot.add_row("fixes unprotected (no passing test runs the changed lines)",
                f"{s.get('unprotected', 0)} / {s['fixed']}")
    tot.add_row("fixes suspect (may only fool the tests)", f"{s.get('suspect', 0)} / {s['fixed']}")
    tot.add_row("median wall s per task", figure(s["median_wall_s"]))
    tot.add_row("p90 wall s per task", figure(s["p90_wall_s"]))
    tot.add_row("mean candidates tried per fix", figure(s["mean_candidates_per_fix"]))
    tot.add_row("wall time inside test processes", figure(s["test_share"], "{:.0%}"))
    tot.add_row("harness overhead", figure(s["harness_overhead"], "{:.0%}"))
    console.print(tot)
