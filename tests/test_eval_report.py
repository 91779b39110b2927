"""HTML reports rendered in headless Chromium: DOM assertions, no console errors, screenshots.

Screenshots are test artifacts in ``.artifacts/reports/`` (git-ignored; CI can upload them).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_eval import calc_repo, rows

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parents[1] / ".artifacts" / "reports"
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed "
                                "(apt-get install chromium; .ci/run installs it)")
_CONSOLE = re.compile(r"CONSOLE\(\d+\)|Uncaught|console\.(error|warn)", re.IGNORECASE)


def chromium(page: Path, *args: str) -> tuple[str, list[str]]:
    """Render ``page`` headless; returns (stdout, console messages from stderr)."""
    res = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                          "--enable-logging=stderr", "--v=0", f"--user-data-dir={page.parent / '.chromium'}",
                          *args, page.resolve().as_uri()], capture_output=True, text=True, timeout=120)
    return res.stdout, [ln for ln in res.stderr.splitlines() if _CONSOLE.search(ln)]


def screenshot(page: Path, name: str, height: int = 1400) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / name
    shot.unlink(missing_ok=True)
    chromium(page, f"--screenshot={shot}", f"--window-size=1200,{height}")
    assert shot.is_file() and shot.stat().st_size > 5000
    return shot


def test_the_console_check_catches_a_page_error(tmp_path):
    page = tmp_path / "bad.html"
    page.write_text("<html><body><script>console.error('broken report'); undefinedThing();</script></body></html>")
    _, console = chromium(page, "--dump-dom")
    assert console, "the console check must see a page's errors, or it proves nothing"


def test_a_run_report_shows_every_candidate_with_its_verdict(tmp_path, monkeypatch):
    monkeypatch.setenv("LOOPWRIGHT_WORKTREES", str(tmp_path / "worktrees"))
    repo = calc_repo(tmp_path / "repo", 1)  # `a * b + 1`: the templates try a few candidates first
    res = subprocess.run([sys.executable, "-m", "loopwright", "fix", str(repo), "--json", "--jobs", "1"],
                         capture_output=True, text=True, timeout=300)
    summary = json.loads(res.stdout)
    assert summary["status"] == "fixed" and summary["candidates_tried"] >= 2
    page = tmp_path / "run.html"
    rep = subprocess.run([sys.executable, "-m", "loopwright", "report", summary["run_id"], str(repo), "--out", str(page)],
                         capture_output=True, text=True, timeout=120)
    assert rep.returncode == 0, rep.stderr
    dom, console = chromium(page, "--dump-dom")
    assert console == []
    assert dom.count('<tr class="candidate">') == summary["candidates_tried"]
    assert dom.count('class="iteration"') == summary["iterations"]
    assert dom.count(">accepted<") == 1
    assert all(f'class="ok test-fixed">{t}<' in dom for t in summary["fixed_tests"])
    assert "+    return a * b" in dom and "<script" not in dom and "http" not in dom.split("<body", 1)[1]
    screenshot(page, "run-report.png")
    missing = subprocess.run([sys.executable, "-m", "loopwright", "report", "20000101-000000-0000", str(repo)],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "no run 20000101-000000-0000" in missing.stderr


def test_a_suite_report_links_every_task_to_its_run_report(tiny_eval):
    _, out, _ = tiny_eval  # `eval --jobs 2 --html` over three tiny tasks
    dom, console = chromium(out / "report.html", "--dump-dom")
    assert console == []
    assert dom.count('<tr class="task"') == 3 and dom.count('class="run-link"') == 3
    assert dom.count('class="bar"') == 1 and dom.count('class="dot"') == 3
    assert re.search(r'data-metric="fixed_rate"><th>fixed rate</th><td class="num">1</td>', dom)
    for row in rows(out):
        run_page = out / row["run_dir"] / "report.html"
        run_dom, run_console = chromium(run_page, "--dump-dom")
        assert run_console == [] and run_dom.count('<tr class="candidate">') == row["candidates"]
    screenshot(out / "report.html", "suite-report.png")
    screenshot(out / rows(out)[0]["run_dir"] / "report.html", "suite-run-report.png")
    assert not any(p.name.startswith("http") for p in out.rglob("*")) and os.path.getsize(out / "report.html") < 200_000
