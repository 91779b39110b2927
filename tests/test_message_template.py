"""``message_template``: a failing test's f-string, built with the code's template and other
fields, written into the code's f-string (``template_from_test``); unit tests through
``message_ops.message_mutants`` and end to end through ``loopwright fix``."""

from __future__ import annotations

import ast
from pathlib import Path

from harness.core.context import Context, SuspiciousLocation
from harness.core.task import Task
from harness.evaluators.verdict import Frame, TestResult
from harness.generators.message_ops import message_mutants
from harness.generators.message_template import call_names
from harness.generators.string_templates import template_of
from tests.conftest import fix_offline
from tests.mutant_checks import src

NOTICE = src('''
    """Notices of finished jobs."""


    def describe(job):
        return job["name"].title()


    def notice(job, unit="s"):
        label = describe(job) + unit
        return f"Job {label} took {job['seconds']} seconds, {job['tries']} tries."
''')
NOTICE_TESTS = src('''
    from notice import describe, notice


    def test_notice():
        job = {"name": "backup", "seconds": 12, "tries": 2}
        assert notice(job) == f"Job {describe(job)} took {round(job['seconds'])} seconds, {job['tries']} tries."
''')


def offered(tmp_path: Path, tests: str = NOTICE_TESTS, test_id: str = "tests/test_notice.py::test_notice",
            code: str = NOTICE) -> list[str]:
    """The new texts of the ``template_from_test`` candidates for the failing test (of
    ``tests``, on ``notice.py`` holding ``code``)."""
    (tmp_path / "tests").mkdir(exist_ok=True)
    (tmp_path / "notice.py").write_text(code)
    (tmp_path / "tests" / "test_notice.py").write_text(tests)
    result = TestResult(test_id, "failed", "AssertionError: assert 'Job Backups took 12 seconds, 2 tries.' == "
                        "'Job Backup took 12s seconds, 2 tries.'", (Frame("tests/test_notice.py", 6),))
    context = Context(tmp_path, Task("failing_tests", {test_id: result}), [SuspiciousLocation("notice.py", 10, 0.5)],
                      ("tests/*",))
    got = message_mutants(context, lambda rel: (tmp_path / rel).read_text() if (tmp_path / rel).is_file() else None)
    return [m.new_source for _, m in got if m.operator == "template_from_test"]


def test_the_tests_fields_replace_the_codes_and_the_dead_assignment_goes(tmp_path):
    got = offered(tmp_path)
    # all differing fields at once, the assignment `label` no longer read deleted, first
    both = "{describe(job)} took {round(job['seconds'])} seconds"
    assert got[0] == NOTICE.replace("    label = describe(job) + unit\n", "").replace(
        "{label} took {job['seconds']} seconds", both)
    assert got[1] == NOTICE.replace("{label} took {job['seconds']} seconds", both)
    # then each field alone; the field both build alike ({job['tries']}) is never touched
    assert any("{label} took {round(job['seconds'])} seconds" in text for text in got[2:])
    assert all("{job['tries']} tries" in text for text in got) and len(got) == 4


def test_a_field_with_the_other_quote_is_written_with_the_codes(tmp_path):
    tests = NOTICE_TESTS.replace("""f"Job {describe(job)} took {round(job['seconds'])} seconds, {job['tries']} tries.\"""",
                                 """f'Job {describe(job)} took {round(job["seconds"])} seconds, {job["tries"]} tries.'""")
    assert tests != NOTICE_TESTS
    assert offered(tmp_path, tests) == offered(tmp_path)


def test_a_field_naming_what_the_code_cannot_see_or_the_tests_self_is_not_copied(tmp_path):
    tests = NOTICE_TESTS.replace("{describe(job)}", "{expected_name}").replace(
        "    job = {", '    expected_name = "Backup"\n    job = {')
    got = offered(tmp_path, tests)
    assert got and all("expected_name" not in text for text in got)  # only the other field moves
    method = src('''
        from notice import notice


        class TestNotice:
            name = "Backup"

            def test_notice(self):
                job = {"name": "backup", "seconds": 12, "tries": 2}
                assert notice(job) == f"Job {self.name} took {job['seconds']} seconds, {job['tries']} tries."
    ''')
    assert offered(tmp_path, method, "tests/test_notice.py::TestNotice::test_notice") == []


def test_a_different_template_is_not_a_donor(tmp_path):
    tests = NOTICE_TESTS.replace("f\"Job {describe(job)} took", "f\"Started by {describe(job)} at")
    assert offered(tmp_path, tests) == []


AFTER = src('''
    """Logging what a retried call did."""
    import logging


    def callback_name(fn):
        return getattr(fn, "__name__", repr(fn))


    def after_log(logger, level, sec_format="%0.3f"):
        def log_it(state):
            sec = sec_format % callback_name(state["fn"])
            logger.log(level, f"Finished call to '{sec}' after {state['seconds']}(s).")
        return log_it
''')
AFTER_TESTS = src('''
    import logging

    from after import after_log, callback_name


    class Recorder:
        def __init__(self):
            self.lines = []

        def log(self, level, line):
            self.lines.append((level, line))


    def test_the_name_and_the_formatted_seconds_are_logged():
        recorder, sec_format = Recorder(), "%.1f"
        state = {"fn": test_the_name_and_the_formatted_seconds_are_logged, "seconds": 0.25}
        after_log(recorder, logging.INFO, sec_format)(state)
        assert recorder.lines == [(logging.INFO, f"Finished call to '{callback_name(state['fn'])}' "
                                                 f"after {sec_format % state['seconds']}(s).")]


    def test_the_default_format():
        recorder = Recorder()
        state = {"fn": len, "seconds": 2}
        after_log(recorder, logging.INFO)(state)
        assert recorder.lines[0][1].endswith("after 2.000(s).")
''')


def test_loopwright_fix_writes_the_logged_line_as_the_test_builds_it(make_repo):
    """The bug (tenacity 8.0.1's, rewritten): the time format applied to the name, which
    crashes for a name; the fix moves it to the seconds and drops the dead assignment."""
    out, _, _ = fix_offline(make_repo, {"after.py": AFTER, "tests/test_after.py": AFTER_TESTS})
    assert out["status"] == "fixed" and not out.get("suspect"), out
    assert "-        sec = sec_format % callback_name(state[\"fn\"])\n" in out["patch"], out["patch"]
    assert "{callback_name(state['fn'])}' after {sec_format % state['seconds']}(s)" in out["patch"], out["patch"]


def test_the_three_spellings_of_a_template_read_alike():
    for source in ('f"took {t:.1f}s of {n!r}"', '"took {:.1f}s of {!r}".format(t, n)', '"took {1:.1f}s of {n!r}".format(0, t, n=n)',
                   '"took %.1fs of %r" % (t, n)'):
        got = template_of(ast.parse(source, mode="eval").body)
        assert got is not None, source
        assert got.text == ("took ", "s of ", "") and [f.form for f in got.fields] == [("", ".1f"), ("r", "")], source
        assert [ast.unparse(f.expr) for f in got.fields] == ["t", "n"], source
    percent = template_of(ast.parse('"100%% of %d" % total', mode="eval").body)
    assert percent is not None and percent.text == ("100% of ", "") and percent.fields[0].form == ("", "d")
    for source in ('"%(a)s" % d', '"{0.x}".format(a)', '"%s and %s" % pair', '"{}".format(*xs)', '"no field".format()'):
        assert template_of(ast.parse(source, mode="eval").body) is None, source


def test_a_percent_template_gets_the_fields_of_the_tests_f_string(tmp_path):
    code = NOTICE.replace('''return f"Job {label} took {job['seconds']} seconds, {job['tries']} tries."''',
                          '''return "Job %s took %s seconds, %s tries." % (label, job["seconds"], job["tries"])''')
    got = offered(tmp_path, code=code)
    assert got[0] == code.replace("    label = describe(job) + unit\n", "").replace(
        '% (label, job["seconds"], job["tries"])', """% (describe(job), round(job['seconds']), job["tries"])""")
    single = NOTICE.replace('''return f"Job {label} took {job['seconds']} seconds, {job['tries']} tries."''',
                            '''return "Job took %s seconds." % job["seconds"]''')
    tests = NOTICE_TESTS.replace("""f"Job {describe(job)} took {round(job['seconds'])} seconds, {job['tries']} tries.\"""",
                                 """f"Job took {job['seconds'] / 60} seconds.\"""")
    assert """% (job['seconds'] / 60)""" in offered(tmp_path, tests, code=single)[0]  # an operand is parenthesized


def test_the_tests_names_for_the_functions_parameters_are_mapped(tmp_path):
    """``repr(p)`` makes the test's ``p`` the ``self`` of ``__repr__``; ``notice(backup)`` makes
    ``backup`` the ``job`` of ``notice``."""
    point = src('''
        class Point:
            def __init__(self, x, y):
                self.x, self.y = x, y

            def __repr__(self):
                return f"Point(x={self.x}, y={self.x})"
    ''')
    point_tests = src('''
        from notice import Point


        def test_repr():
            p = Point(1, 2)
            assert repr(p) == f"Point(x={p.x}, y={p.y})"
    ''')
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_point.py").write_text(point_tests)
    (tmp_path / "notice.py").write_text(point)
    test_id = "tests/test_point.py::test_repr"
    result = TestResult(test_id, "failed", "AssertionError: assert 'Point(x=1, y=1)' == 'Point(x=1, y=2)'",
                        (Frame("tests/test_point.py", 6),))
    context = Context(tmp_path, Task("failing_tests", {test_id: result}), [SuspiciousLocation("notice.py", 6, 0.5)],
                      ("tests/*",))
    got = message_mutants(context, lambda rel: (tmp_path / rel).read_text() if (tmp_path / rel).is_file() else None)
    assert [m.new_source for _, m in got if m.operator == "template_from_test"] == [
        point.replace("y={self.x}", "y={self.y}")]
    tests = NOTICE_TESTS.replace("job = {", "backup = {").replace("notice(job)", "notice(backup)").replace(
        "describe(job)", "describe(backup)").replace("job['", "backup['")
    assert offered(tmp_path, tests)[:2] == offered(tmp_path)[:2]  # `backup` written as `job`
    assert call_names(ast.parse(tests).body[1], ast.parse(NOTICE).body[2]) == {"backup": "job"}


def test_a_dict_display_with_the_same_keys_gives_its_values(tmp_path):
    code = src('''
        class User:
            def __init__(self, name, email):
                self.name, self.email = name, email

            def to_dict(self):
                return {"name": self.name, "email": self.name, "kind": "user"}
    ''')
    tests = src('''
        from notice import User


        def test_to_dict():
            u = User("ada", "ada@example.com")
            assert u.to_dict() == {"kind": "user", "email": u.email, "name": u.name}
    ''')
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_user.py").write_text(tests)
    (tmp_path / "notice.py").write_text(code)
    test_id = "tests/test_user.py::test_to_dict"
    result = TestResult(test_id, "failed", "AssertionError: assert {...} == {...}", (Frame("tests/test_user.py", 6),))
    context = Context(tmp_path, Task("failing_tests", {test_id: result}), [SuspiciousLocation("notice.py", 6, 0.5)],
                      ("tests/*",))
    got = message_mutants(context, lambda rel: (tmp_path / rel).read_text() if (tmp_path / rel).is_file() else None)
    # keys in another order, a constant value not copied (the test's "user" is no field to copy)
    assert [m.new_source for _, m in got if m.operator == "template_from_test"] == [
        code.replace('"email": self.name', '"email": self.email')]
