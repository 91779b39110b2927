"""``message_bytes``: ``str`` and ``bytes`` mixed up, read off Python's own ``TypeError``
(the messages below are CPython 3.11's, word for word): a literal of the failing statement or
the constant it reads given the wanted kind, or a name converted; unit tests through
``message_ops.message_mutants`` and end to end through ``loopwright fix``."""

from __future__ import annotations

from pathlib import Path

from harness.core.context import Context, SuspiciousLocation
from harness.core.task import Task
from harness.evaluators.verdict import Frame, TestResult
from harness.generators.message_ops import message_mutants
from tests.conftest import fix_offline
from tests.mutant_checks import src

WIRE = src('''
    """Framing of a line protocol."""
    import json

    CRLF = "\\r\\n"


    def split_lines(data):
        *lines, rest = data.split(CRLF)
        return lines, rest


    def frame(payload, sep=b"\\n"):
        return b"LEN " + str(len(payload)) + sep + payload


    def label(name):
        return "name: " + name


    def dump(value):
        return json.dumps({"v": value})
''')


def offered(tmp_path: Path, message: str, line: int) -> list[tuple[str, str]]:
    """(operator, the changed line of the new text) of the bytes candidates for a failing test
    whose innermost frame is ``wire.py:line``."""
    (tmp_path / "wire.py").write_text(WIRE)
    test_id = "tests/test_wire.py::test_it"
    result = TestResult(test_id, "failed", message, (Frame("tests/test_wire.py", 3), Frame("wire.py", line)))
    context = Context(tmp_path, Task("failing_tests", {test_id: result}), [SuspiciousLocation("wire.py", line, 0.5)],
                      ("tests/*",))
    got = message_mutants(context, lambda rel: (tmp_path / rel).read_text() if (tmp_path / rel).is_file() else None)
    old = WIRE.splitlines()
    return [(m.operator, next(ln for ln in m.new_source.splitlines() if ln not in old).strip())
            for _, m in got if m.operator.startswith("bytes_")]


def test_the_constant_a_bytes_operation_reads_becomes_bytes(tmp_path):
    got = offered(tmp_path, "TypeError: a bytes-like object is required, not 'str'", 8)
    assert got[0] == ("bytes_literal", 'CRLF = b"\\r\\n"')
    assert ("bytes_convert", "*lines, rest = data.split(CRLF.encode())") in got


def test_a_value_surely_of_the_other_kind_is_converted_first(tmp_path):
    got = offered(tmp_path, "TypeError: can't concat str to bytes", 13)
    assert got[0] == ("bytes_convert", 'return b"LEN " + str(len(payload)).encode() + sep + payload')
    assert ("bytes_convert", 'return b"LEN " + str(len(payload)) + sep.encode() + payload') in got
    got = offered(tmp_path, 'TypeError: can only concatenate str (not "bytes") to str', 17)
    assert got == [("bytes_convert", 'return "name: " + name.decode()')]  # its literal is already str


def test_nothing_for_other_errors_or_when_no_literal_or_name_fits(tmp_path):
    assert offered(tmp_path, "TypeError: unsupported operand type(s) for +: 'int' and 'str'", 13) == []
    assert offered(tmp_path, "ValueError: a bytes-like object is required, not 'str'", 8) == []
    got = offered(tmp_path, "TypeError: Object of type bytes is not JSON serializable", 21)
    assert got == [("bytes_convert", 'return json.dumps({"v": value.decode()})')]


READER = src('''
    """Reading the lines of a byte stream (a socket's chunks)."""

    NEWLINE = "\\n"


    class LineReader:
        """Collects chunks of bytes and hands out complete lines (without the line break)."""

        def __init__(self):
            self.buffer = b""

        def feed(self, chunk):
            """Add ``chunk`` (bytes); the complete lines it finished, as a list of bytes."""
            self.buffer += chunk
            *lines, self.buffer = self.buffer.split(NEWLINE)
            return lines
''')
READER_TESTS = src('''
    from reader import LineReader


    def test_nothing_yet():
        assert LineReader().feed(b"") == []


    def test_lines_across_chunks():
        reader = LineReader()
        assert reader.feed(b"GET /\\nHo") == [b"GET /"]
        assert reader.feed(b"st: x\\n\\n") == [b"Host: x", b""]
''')


def test_loopwright_fix_makes_the_separator_bytes(make_repo):
    out, _, _ = fix_offline(make_repo, {"reader.py": READER, "test_reader.py": READER_TESTS})
    assert out["status"] == "fixed" and not out.get("suspect"), out
    assert '-NEWLINE = "\\n"\n+NEWLINE = b"\\n"\n' in out["patch"], out["patch"]
