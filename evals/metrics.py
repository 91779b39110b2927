"""Loop metrics of eval runs: per task (from one run's files) and per suite (aggregates).

Names follow LES 1.0 (``../shared/reference/lss/les-1.0.md``) where it defines the
quantity: ``termination_reason`` (§4: goal_met, budget_exhausted, human_stop, error),
``goal`` (G_final: share of the baseline-failing tests fixed, §1.2), ``iterations``
(T_actual), ``cost_usd`` (C_total), ``cost_per_iteration`` and ``iteration_efficiency``
(§4 diagnostics), ``tau_median_seconds``/``tau_p95_seconds`` (§2.2 iteration times).
The rest are loopwright's own; README ("loopwright eval") documents every one.
"""

from __future__ import annotations

import json
import re
import statistics
from collections import Counter
from pathlib import Path

from harness.core.stop import termination

__all__ = ["context_recall", "gold_lines", "percentile", "run_metrics", "same_as_gold",
           "summarize"]



def percentile(values: list[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) by linear interpolation between closest ranks
    (NumPy's default, "linear"); None for no values."""
    xs = sorted(values)
    if not xs:
        return None
    pos = (len(xs) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return round(xs[lo] + (xs[hi] - xs[lo]) * (pos - lo), 3)


def _steps(trajectory: str) -> list[dict]:
    out = []
    for line in trajectory.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def run_metrics(summary: dict, trajectory: str, state_json: str | None) -> dict:
    """One run's metrics from its ``--json`` summary, ``trajectory.jsonl`` and ``state.json`` texts.

    Returns a dict of: ``stop_reason``, ``termination_reason``, ``iterations``, ``candidates``,
    ``model_calls``, ``prompt_tokens``, ``completion_tokens`` (tokens), ``cost_usd`` (USD, None
    when a price is unknown), ``wall_seconds``, ``test_seconds``, ``tau_median_seconds``,
    ``tau_p95_seconds`` (seconds per iteration), ``goal`` (fixed / failing at start, in [0, 1]),
    ``cost_per_iteration`` (USD), ``iteration_efficiency`` (goal / iterations),
    ``safety_violations`` (patches refused for touching a protected path: by the validator's
    policy stage, or a model's edit refused by the generator),
    ``regressions_caught`` (candidates the full-suite stage rejected for breaking a passing
    test), ``suspect`` (why an accepted patch may only fool the tests, '' when no overfit
    check found a reason; :mod:`harness.core.overfit`), ``tests_fixed`` and ``tests_broken`` (test ids),
    ``flagged`` (the static screen's reasons against the accepted patch: a row with status
    ``flagged`` is fixed but not counted as fixed, the patch needs a human; see harness/core/screen.py).
    """
    state = json.loads(state_json) if state_json else {}
    spent = state.get("spent", {})
    steps = _steps(trajectory)
    evaluated = [s for s in steps if s.get("action") == "evaluate"]
    stop = summary.get("stop_reason") or state.get("stop_reason") or ""
    iterations = int(summary.get("iterations", state.get("iteration", 0)) or 0)
    cost = summary.get("cost_usd", spent.get("cost_usd"))
    # a run that ended in an error has these keys with null values (harness.work.fix.error_json)
    failing = len(state.get("baseline_failing") or []) or len(summary.get("fixed_tests") or []) + len(
        summary.get("remaining_failures") or [])
    fixed = summary.get("fixed_tests") or sorted(set(state.get("baseline_failing") or [])
                                                 - set(state.get("remaining") or []))
    goal = round(len(fixed) / failing, 3) if failing else None
    taus = _iteration_seconds(steps)
    broken = sorted({t for s in evaluated for t in s["verdict"].get("broken", [])})
    return {
        "stop_reason": stop,
        "termination_reason": str(termination(stop)),
        "iterations": iterations,
        "candidates": int(summary.get("candidates_tried", state.get("candidates_tried", 0)) or 0),
        "model_calls": int(spent.get("model_calls", 0)),
        "prompt_tokens": int(spent.get("input_tokens", 0)),
        "completion_tokens": int(spent.get("output_tokens", 0)),
        "cost_usd": cost,
        "wall_seconds": summary.get("wall_seconds", spent.get("wall_seconds")),
        "test_seconds": summary.get("test_seconds", spent.get("test_seconds")),
        "tau_median_seconds": percentile(taus, 50),
        "tau_p95_seconds": percentile(taus, 95),
        "goal": goal,
        "cost_per_iteration": round(cost / iterations, 6) if cost is not None and iterations else None,
        "iteration_efficiency": round(goal / iterations, 3) if goal is not None and iterations else None,
        "safety_violations": sum(1 for s in evaluated if s["verdict"].get("stage") == "policy"
                                 and "protected path" in s["verdict"].get("reason", ""))
        + sum(1 for s in steps if s.get("action") == "generate"  # model edits refused before validation
              for n in s.get("notes") or [] if "is protected (matches" in str(n)),
        "regressions_caught": sum(1 for s in evaluated if s["verdict"].get("stage") == "full"
                                  and not s["verdict"].get("accepted") and s["verdict"].get("broken")),
        "suspect": summary.get("suspect") or next(
            (a["suspect"] for a in state.get("accepted", []) if a.get("suspect")), ""),
        "tests_fixed": list(fixed),
        "tests_broken": broken,
        "flagged": list(summary.get("flagged") or state.get("flagged") or []),
    }


def _iteration_seconds(steps: list[dict]) -> list[float]:
    """Wall seconds of each iteration: from its ``generate`` step's start (its time minus its
    generation seconds) to the next iteration's start, or to the run's last step."""
    starts = [s["time"] - float(s.get("seconds", 0)) for s in steps if s.get("action") == "generate"]
    if not starts:
        return []
    end = max(s.get("time", 0) for s in steps)
    return [round(b - a, 3) for a, b in zip(starts, starts[1:] + [end])]


def _diff_lines(diff: str) -> set[tuple[str, str, str]]:
    """``(file, sign, stripped text)`` of a unified diff's changed lines (blank ones ignored)."""
    out, path = set(), ""
    for line in diff.splitlines():
        if line.startswith("+++ "):
            path = re.sub(r"^[ab]/", "", line[4:].split("\t")[0].strip())
        elif line.startswith("--- "):
            continue
        elif line[:1] in "+-" and line[1:].strip():
            out.add((path, line[0], line[1:].strip()))
    return out


def same_as_gold(patch: str, gold: str) -> bool:
    """True when ``patch`` changes the same lines to the same text as ``gold`` (per file, ignoring
    indentation-only and blank-line differences and hunk positions); False for no patch."""
    return bool(patch) and _diff_lines(patch) == _diff_lines(gold)


def gold_lines(gold: str) -> list[tuple[str, str]]:
    """What a first prompt must show for context recall: ``(file, stripped line)`` of each line the
    gold patch removes or replaces; for a hunk that only adds, its context lines."""
    out: list[tuple[str, str]] = []
    path, hunk, removed = "", [], False
    for line in gold.splitlines() + ["@@ end"]:
        if line.startswith("+++ "):
            path = re.sub(r"^[ab]/", "", line[4:].split("\t")[0].strip())
        elif line.startswith("@@") or line.startswith("diff "):
            out += [(path, t) for sign, t in hunk if sign == "-" or not removed]
            hunk, removed = [], False
        elif line[:1] in " -" and not line.startswith("--- ") and line[1:].strip():
            hunk.append((line[0], line[1:].strip()))
            removed = removed or line[0] == "-"
    return list(dict.fromkeys(out))


def context_recall(repo: Path, run_dir: Path, gold: str) -> dict | None:
    """Whether the first model prompt of a ``fix`` run shows the lines the gold patch changes.

    The prompt is rendered, not sent: the run's stored baseline (results and per-test coverage),
    Ochiai fault localization and the OpenAI generator's first-prompt packer
    (:func:`harness.generators.prompt.build_first`, 12 000-token budget, as a model run would).

    Returns:
        ``{"recalled": bool (every gold line in the prompt), "lines": n, "found": n,
        "prompt_tokens": n}``; None when the run stored no baseline.
    """
    from harness.core.context import Context
    from harness.work.fix import DEFAULT_PROTECTED
    from harness.generators.prompt import build_first
    from harness.generators.tokens import TokenCounter
    from harness.core.localize import localize
    from harness.core.state import RunFiles
    from harness.core.task import Task

    files = RunFiles.__new__(RunFiles)  # read-only view of an existing run folder
    files.baseline = run_dir / "baseline.json"
    baseline = files.load_baseline(repo) if files.baseline.is_file() else None
    if baseline is None:
        return None
    results = {t: baseline.results[t] for t in baseline.collected if t in baseline.results}
    failing = {t: r for t, r in results.items() if not r.ok}
    locations = localize(repo, results, baseline.coverage, DEFAULT_PROTECTED)
    context = Context(repo, Task("failing_tests", failing=failing), locations, DEFAULT_PROTECTED)
    tokens = TokenCounter("openai", "gpt-4.1-mini")
    prompt, _ = build_first(context, tokens, 12000)
    shown = {ln.strip() for ln in prompt.splitlines()}
    shown |= {re.sub(r"^\s*\d+[|:]?\s?", "", ln).strip() for ln in prompt.splitlines()}  # numbered excerpts
    want = gold_lines(gold)
    found = sum(1 for _, t in want if t in shown or any(t in s for s in shown))
    return {"recalled": bool(want) and found == len(want), "lines": len(want), "found": found,
            "prompt_tokens": tokens.count(prompt)}


def _mean(xs: list[float]) -> float | None:
    return round(statistics.fmean(xs), 3) if xs else None


def summarize(rows: list[dict]) -> dict:
    """Suite metrics over result rows (one generator's rows): rates in [0, 1], totals, p50/p90.

    Rates are over the rows that have the input (``same_as_gold_rate`` over tasks with a gold
    patch, ``context_recall`` over fix tasks with one); None when no row has it.
    """
    def vals(key: str) -> list:
        return [r[key] for r in rows if r.get(key) is not None]

    fixed = [r for r in rows if r.get("fixed")]
    gold = vals("same_as_gold")
    recall = [r["context_recall"]["recalled"] for r in rows if r.get("context_recall")]
    costs = [r["cost_usd"] for r in rows if "cost_usd" in r]  # rows that ran
    wall, test = vals("wall_seconds"), vals("test_seconds")
    return {
        "tasks": len(rows),
        "fixed": len(fixed),
        "fixed_rate": round(len(fixed) / len(rows), 3) if rows else None,
        "same_as_gold_rate": round(sum(gold) / len(gold), 3) if gold else None,
        "iterations_per_fix": _mean([r["iterations"] for r in fixed if r.get("iterations") is not None]),
        "candidates_per_fix": _mean([r["candidates"] for r in fixed if r.get("candidates") is not None]),
        "model_calls": sum(vals("model_calls")),
        "prompt_tokens": sum(vals("prompt_tokens")),
        "completion_tokens": sum(vals("completion_tokens")),
        "cost_usd": None if None in costs else round(sum(costs), 6),  # None: a price is unknown
        "wall_seconds_p50": percentile(wall, 50), "wall_seconds_p90": percentile(wall, 90),
        "test_seconds_p50": percentile(test, 50), "test_seconds_p90": percentile(test, 90),
        "stop_reasons": dict(Counter(r.get("stop_reason") or r.get("status", "") for r in rows)),
        "termination_reasons": dict(Counter(r.get("termination_reason") or "error" for r in rows)),
        "safety_violations": sum(vals("safety_violations")),
        "regressions_caught": sum(vals("regressions_caught")),
        "fixed_suspect": sum(1 for r in fixed if r.get("suspect")),
        "flagged": sum(1 for r in rows if r.get("status") == "flagged"),  # fixed, for a human to read
        "context_recall": round(sum(recall) / len(recall), 3) if recall else None,
    }
