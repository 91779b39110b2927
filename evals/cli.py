"""``loopwright eval`` and ``loopwright report`` (:mod:`loopwright.cli` imports this module only for them).

This module imports only typer at load time; the runner, Ray, Jinja2 and the metrics load
when a command runs.

Exit codes: ``eval`` 0 every job fixed/done, 1 some job not, 2 bad usage or input
(unreadable suite, unknown generator, no Ray); ``report`` 0 written, 2 no such run.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

_EXIT_BAD_INPUT = 2


def _err():
    """stderr console that does not wrap messages (paths stay greppable) or colour values."""
    from rich.console import Console

    return Console(stderr=True, soft_wrap=True, highlight=False)


commands = typer.Typer(rich_markup_mode=None)  # found by harness.cli.COMMANDS


@commands.command("eval")
def eval_cmd(
    suite: Path = typer.Argument(..., help="A suite file (YAML, or JSONL: one task per line)."),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Tasks run at once on this machine (process pool)."),
    ray: bool = typer.Option(False, "--ray", help="Run the tasks as Ray tasks (pip install 'loopwright[ray]')."),
    ray_address: str = typer.Option(None, "--ray-address", help="A Ray cluster (ray://HOST:10001 or auto); "
                                    "default with --ray: a local Ray instance."),
    num_cpus: float = typer.Option(1.0, "--cpus-per-task", help="CPUs each Ray task declares."),
    generator: list[str] = typer.Option(["templates"], "--generator", "--model", help="A generator spec; repeat "
                                        "to compare several on the same tasks (templates, replay:DIR, a chain "
                                        "A,B, or 'default')."),
    out: Path = typer.Option(Path("eval-out"), "--out", help="Results folder (results.jsonl, runs/, report)."),
    html: bool = typer.Option(False, "--html", help="Write OUT/report.html and a report per run."),
    export_traces: Path = typer.Option(None, "--export-traces", help="Write one trace record per run (JSONL)."),
    as_json: bool = typer.Option(False, "--json", help="Print the suite metrics as JSON."),
    only: list[str] = typer.Option(None, "--task", help="Run only this task id (repeatable)."),
) -> None:
    """Run a suite of tasks, each in a fresh clone and process, and measure the loop.

    Results stream to OUT/results.jsonl as tasks finish; rerunning resumes where an
    interrupted eval stopped. Exit codes: 0 all fixed, 1 some not, 2 bad input.
    """
    from rich.console import Console
    from rich.markup import escape

    from evals.runner import EvalError, run_eval
    from evals.suite import SuiteError, load_suite

    console = Console(stderr=True, quiet=as_json)
    try:
        loaded = load_suite(suite)
    except SuiteError as exc:
        _err().print(f"[red]invalid suite:[/]\n{exc}")
        raise typer.Exit(_EXIT_BAD_INPUT) from None

    if only:
        unknown = sorted(set(only) - {t.id for t in loaded.tasks})
        if unknown:
            _err().print(f"[red]error:[/] no task {', '.join(unknown)} in {suite} (see its ids with --json)")
            raise typer.Exit(_EXIT_BAD_INPUT)
        loaded.tasks = [t for t in loaded.tasks if t.id in only]

    def show(row: dict) -> None:
        mark = "[green]✓[/]" if row.get("fixed") else "[red]✗[/]"
        why = row.get("error") or row.get("verify_error") or ""
        console.print(f"{mark} {row['task_id']} [dim]{row['generator']}[/] {row.get('status')} "
                      f"{row.get('task_seconds') or 0:.1f}s" + (f" [dim]{escape(_one_line(why))}[/]" if why else ""))

    try:
        run = run_eval(loaded, list(dict.fromkeys(generator)), out, jobs=jobs, ray=ray or bool(ray_address),
                       ray_address=ray_address, num_cpus=num_cpus, on_row=show)
    except EvalError as exc:
        _err().print(f"[red]error:[/] {exc}")
        raise typer.Exit(_EXIT_BAD_INPUT) from None
    _finish(loaded, run, list(dict.fromkeys(generator)), out, html, export_traces, as_json, console)


def _finish(suite, run, generators: list[str], out: Path, html: bool, traces: Path | None, as_json: bool,
            console) -> None:
    from evals.metrics import summarize
    from evals.report import print_table, write_suite_report
    from evals.task import ERROR_STATUSES
    from evals.traces import export_traces

    keys = {f"{t.id}@{g}" for t in suite.tasks for g in generators}
    rows = [r for r in run.rows if r["key"] in keys]
    per_gen = {g: summarize([r for r in rows if r["generator"] == g]) for g in generators}
    timing = {"backend": run.backend, "ran": run.ran, "resumed_from": run.skipped, "wall_seconds": run.wall_seconds,
              "busy_seconds": run.busy_seconds, "overhead_seconds": run.overhead_seconds}
    (out / "summary.json").write_text(json.dumps({"suite": suite.suite, "generators": per_gen, "eval": timing},
                                                 indent=2))
    if traces:
        n = export_traces(rows, out, traces)
        console.print(f"traces: {n} records in {traces}")
    if html:
        path = write_suite_report(suite, rows, per_gen, timing, out)
        console.print(f"report: {path}")
    if as_json:
        print(json.dumps({"suite": suite.suite, "generators": per_gen, "eval": timing}, indent=2))
    else:
        print_table(console, suite.suite, per_gen, timing)
    failed = [r for r in rows if r.get("status") in ERROR_STATUSES]
    if rows and len(failed) == len(rows):  # one line, never a traceback
        _err().print(f"error: every task errored ({len(rows)}); first: {failed[0]['task_id']}: "
                     f"{_one_line(failed[0].get('error') or failed[0]['status'])} (details in {out / 'runs'})",
                     markup=False)
    raise typer.Exit(0 if rows and all(r.get("fixed") for r in rows) else 1)


def _one_line(text: str, width: int = 160) -> str:
    """``text``'s last non-empty line (an error's reason is usually last), cut to ``width`` characters."""
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    line = lines[-1] if lines else ""
    if len(lines) > 1 and ":" in lines[0] and len(lines[0]) < width // 2:  # "Type: message" keeps its type
        line = f"{lines[0]} … {line}"
    return line if len(line) <= width else line[: width - 1] + "…"


@commands.command("report")
def report_cmd(
    run_id: str = typer.Argument(..., help="The run (see `loopwright status`)."),
    repo: Path = typer.Argument(Path("."), help="The git repository the run belongs to."),
    out: Path = typer.Option(None, "--out", help="The HTML file (default: ./loopwright-report-RUN_ID.html)."),
) -> None:
    """Write one run's HTML report: iterations timeline, candidates with diffs and verdicts, cost, time."""
    from rich.console import Console

    from evals.report import RunNotFound, write_run_report

    try:
        path = write_run_report(run_id, repo, out or Path(f"loopwright-report-{run_id}.html"))
    except RunNotFound as exc:
        _err().print(f"[red]error:[/] {exc}")
        raise typer.Exit(_EXIT_BAD_INPUT) from None
    Console(stderr=True).print(f"report: {path}")
