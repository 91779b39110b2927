"""The confirmation run: fresh, plain, sandboxed pytest processes re-check what validation saw.

Validation runs tests through fork servers whose preloaded interpreter a candidate's code
could have tampered with, and reads verdicts from a pipe that code running in the test
process can find. Before a run commits anything, :func:`confirm` re-runs the tests that
must pass in new interpreters (no fork server), split by test file into up to ``jobs``
processes run at once (the validation slots are idle by then), and checks three witnesses
per process: the results pipe, pytest's own terminal summary, and its exit status; and two
canaries per process, test functions with random names that loopwright's plugin (outside the
worktree) adds to a test module: one must pass, one must fail. A blanket stub of pytest's
runner, or a forged summary or exit status, gets at least one of them wrong: the candidate
is then rejected as "verdict forged" (:data:`FORGED`).
"""

from __future__ import annotations

import re
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from harness.evaluators.verdict import renamed_ids

#: seconds a confirmation process costs beyond its tests (start-up, collection), per file
#: and per test: weights for splitting the tests into processes of about equal length.
FILE_SECONDS, TEST_SECONDS = 0.3, 0.01
#: how a confirmation's answer starts when its canaries were wrong (the session rejects the patch)
FORGED = "verdict forged"
#: the re-run alone of a test that timed out in the confirmation run gets ALONE_FACTOR times its
#: limit, at least ALONE_MIN_SECONDS: validation already saw it pass within its limit, so a
#: timeout now is the machine's load (a 0.2 s test limited to 2 s on a 2-core box at load 10),
#: while a hang is still cut; other tests keep their limits (or ALONE_MIN_SECONDS without one).
ALONE_FACTOR, ALONE_MIN_SECONDS = 4.0, 30.0


@dataclass
class _Check:
    """What one confirmation process showed: an error (it did not run), the tests that
    did not pass (``timed_out``: those of them cut by their time limit), and a disagreement
    between its witnesses ('' when they agree)."""

    error: str = ""
    not_ok: list[str] = field(default_factory=list)
    timed_out: list[str] = field(default_factory=list)
    disagreement: str = ""
    forged: str = ""


def chunks(ids: list[str], durations: dict[str, float], jobs: int) -> list[list[str]]:
    """``ids`` split by test file into at most ``jobs`` groups of about equal estimated
    seconds (baseline ``durations`` plus :data:`FILE_SECONDS`/:data:`TEST_SECONDS`); a
    file is never split (its module is collected once), and each group keeps the ids'
    order. Returns ``[ids]`` for one job or one file."""
    files: dict[str, list[str]] = {}
    for t in ids:
        files.setdefault(t.split("::", 1)[0], []).append(t)
    n = max(1, min(jobs, len(files)))
    if n == 1:
        return [list(ids)]
    cost = {f: FILE_SECONDS + sum(TEST_SECONDS + durations.get(t, 0.0) for t in ts) for f, ts in files.items()}
    load, groups = [0.0] * n, [set() for _ in range(n)]
    for f in sorted(files, key=lambda f: -cost[f]):  # longest first, onto the least loaded
        i = load.index(min(load))
        load[i] += cost[f]
        groups[i].add(f)
    return [[t for t in ids if t.split("::", 1)[0] in g] for g in groups if g]


def confirm(ev, root: Path, must_pass: list[str], *, timeouts: dict[str, float] | None = None,
            process_timeout: float = 600.0, flaky: set[str] | None = None,
            durations: dict[str, float] | None = None, jobs: int = 1) -> str:
    """Re-run ``must_pass`` with :class:`~harness.evaluators.pytest_runner.PytestEvaluator` ``ev`` in fresh
    plain sandboxed processes (no fork server) in ``root``; '' when the evidence agrees,
    else what disagrees. See :meth:`PytestEvaluator.confirm` for what agreeing means;
    ``durations`` (test id -> baseline seconds) balance the split into ``jobs`` processes,
    each with ``process_timeout`` seconds."""
    if not must_pass:
        return ""
    groups = chunks(list(must_pass), durations or {}, jobs)
    if len(groups) == 1:
        checks = [_check(ev, root, groups[0], timeouts, process_timeout)]
    else:
        with ThreadPoolExecutor(len(groups), thread_name_prefix="confirm") as pool:
            checks = list(pool.map(lambda g: _check(ev, root, g, timeouts, process_timeout), groups))
    error = next((c.error for c in checks if c.error), "")
    if error:
        return error
    forged = next((c.forged for c in checks if c.forged), "")
    if forged:
        return forged
    not_ok = [t for c in checks for t in c.not_ok]
    if not_ok and flaky is not None and all("::" in t for t in not_ok):
        timed_out = {t for c in checks for t in c.timed_out}
        alone = {t: max(ALONE_FACTOR * (timeouts or {}).get(t, ALONE_MIN_SECONDS), ALONE_MIN_SECONDS)
                 if t in timed_out else (timeouts or {}).get(t, ALONE_MIN_SECONDS) for t in not_ok}
        again, _ = ev.fresh_run(root, not_ok, sorted({t.split("::", 1)[0] for t in not_ok}), alone,
                                 process_timeout)
        flipped = {t for t in not_ok if t in again.results and again.results[t].ok}
        flaky.update(flipped)
        not_ok = [t for t in not_ok if t not in flipped]
    if not_ok:
        return f"{len(not_ok)} test(s) validation saw pass do not pass in a fresh run: {not_ok[:5]}"
    return next((c.disagreement for c in checks if c.disagreement), "")


def _check(ev, root: Path, must_pass: list[str], timeouts, process_timeout: float) -> _Check:
    """One fresh process over ``must_pass`` (whole files when one of them is a file id:
    a file that failed to collect at baseline must now collect without error)."""
    collectors = [t for t in must_pass if "::" not in t]
    canaries = {"pass": f"test_{secrets.token_hex(5)}", "fail": f"test_{secrets.token_hex(5)}"}
    out, res = ev.fresh_run(root, None if collectors else list(must_pass),
                            sorted({t.split("::", 1)[0] for t in must_pass}), timeouts, process_timeout,
                            canaries=canaries)
    if out.error or res.timed_out:
        return _Check(error=out.error or f"the confirmation run timed out after {process_timeout:.0f} s")
    forged = canary_check(out.results, canaries)
    if forged:
        return _Check(forged=forged)

    def passes(t: str) -> bool:
        if t in out.results:
            return out.results[t].ok
        return "::" not in t  # a file that failed to collect at baseline: no error now

    not_ok = [t for t in must_pass if not passes(t)]
    renamed = renamed_ids([t for t in not_ok if t not in out.results], out.results, must_pass)
    check = _Check(not_ok=[t for t in not_ok if t not in renamed])
    check.timed_out = [t for t in check.not_ok if t in out.results and out.results[t].outcome == "timeout"]
    summary = summary_counts(res.stdout)
    passed = sum(r.outcome == "passed" for r in out.results.values())
    failed = sum(r.outcome in ("failed", "error", "timeout") for r in out.results.values())
    if summary.get("passed", 0) != passed:
        check.disagreement = (f"the results pipe says {passed} passed, pytest's summary says "
                              f"{summary.get('passed', 0)}: {res.stdout.strip().splitlines()[-1:]}")
    elif (res.returncode == 0) != (failed == 0) or res.returncode not in (0, 1):
        check.disagreement = f"pytest exited with {res.returncode} but the results pipe reports {failed} failure(s)"
    return check


def canary_check(results: dict, canaries: dict[str, str]) -> str:
    """'' when the canaries ran honestly, else ``"verdict forged: ..."`` saying which is wrong.
    ``results``: test id -> result of one process; ``canaries``: ``{"pass": name, "fail": name}``.
    When nothing passed the canaries may be missing (no test module collected: the tests that
    must pass say so themselves); otherwise a missing canary is a forged verdict too."""
    found = {key: next((r for t, r in results.items() if t.rsplit("::", 1)[-1] == name), None)
             for key, name in canaries.items()}
    if not any(r.ok for r in results.values()) and None in found.values():
        return ""
    if all(r is not None and r.outcome == "skipped" for r in found.values()):
        return ""  # their module skipped them (a setup_module skip): no evidence either way, and a
        # skip is never a pass, so a forger gains nothing from it
    want = {"pass": "passed", "fail": "failed"}
    wrong = [f"the canary test that must {key} {'is missing' if r is None else 'reports ' + r.outcome}"
             for key, r in found.items() if r is None or r.outcome != want[key]]
    return f"{FORGED}: {'; '.join(wrong)} (a stub of the test runner or a forged summary)" if wrong else ""


def summary_counts(stdout: str) -> dict[str, int]:
    """Counts from pytest's final summary line (``2 failed, 5 passed in 0.12s``)."""
    lines = [ln for ln in stdout.strip().splitlines() if re.search(r" in [\d.]+s", ln)]
    counts: dict[str, int] = {}
    for n, word in re.findall(r"(\d+) (\w+)", lines[-1] if lines else ""):
        counts[{"errors": "error", "warnings": "warning"}.get(word, word)] = int(n)
    return counts
