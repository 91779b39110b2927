"""``donor`` (harness/generators/donor_ops.py): a difference copied from the most similar code
of the same file, its variables mapped onto the suspicious code's (SimFix), on code written
for it; and ``loopwright fix`` end to end on a bug no other operator reaches."""

from __future__ import annotations

import ast

import pytest

from harness.generators import donor_ops
from harness.generators.index import Index
from harness.generators.mutations import mutants_at
from tests.conftest import fix_offline


def donor_cands(source: str, line: int) -> list[tuple[str, str]]:
    """(description, the line after the edit) of every ``donor`` candidate at ``line``."""
    cx = Index(source, ast.parse(source), [line])
    got = []
    for node in cx.exprs_by_line.get(line, ()):
        for cand in donor_ops.expr_mutants(cx, node):
            text = source
            for s, e, new in sorted(cand.edits, reverse=True):
                text = text[:s] + new + text[e:]
            assert cand.op == "donor"
            got.append((cand.desc, text.splitlines()[line - 1].strip()))
    return got


READINGS = '''\
"""Readings from a weather station's log lines: hex-encoded tenths after a key."""


def temperature(line):
    """Degrees Celsius after 'T='."""
    field = line.split("T=", 1)[1]
    return int(field.split(";")[0].strip(), 16) / 10


def humidity(line):
    """Percent after 'H='."""
    part = line.split("H=", 1)[1]
    return int(part.split(";")[0].strip()) / 10
'''


def test_an_argument_the_donor_passes_is_added_with_its_variables_renamed():
    got = donor_cands(READINGS, 13)
    assert ('return int(part.split(";")[0].strip(), 16) / 10') in [after for _, after in got]
    desc = next(d for d, after in got if after.endswith(", 16) / 10"))
    assert "as line 7 writes it" in desc and "field" not in desc


def test_a_sub_expression_the_donor_writes_otherwise():
    source = '''\
import random


class Jitter:
    def __init__(self, low):
        self.low = low

    def first(self, state):
        top = state.limit
        return random.uniform(self.low, top)

    def later(self, state):
        high = state.limit * 2
        return random.uniform(0, high)
'''
    assert "return random.uniform(self.low, high)" in [after for _, after in donor_cands(source, 14)]


def test_a_wrapper_the_donor_puts_around_the_same_code():
    source = '''\
def kind(node):
    if isinstance(node, (Block, Compound)):
        return "block"
    if isinstance(node, Block):
        return "other"


def encode(raw):
    return b64encode(raw).rstrip(b"=").decode()


def encode_key(key):
    return b64encode(key).decode()
'''
    assert 'if isinstance(node, (Block, Compound)):' in [after for _, after in donor_cands(source, 4)]
    assert 'return b64encode(key).rstrip(b"=").decode()' in [after for _, after in donor_cands(source, 13)]


def test_a_keyword_the_donor_passes():
    source = '''\
def save(path, text, encoding):
    with open(path, "w", encoding=encoding, newline="") as out:
        out.write(text)


def append(path, text, encoding):
    with open(path, "a", encoding=encoding) as out:
        out.write(text)
'''
    assert 'with open(path, "a", encoding=encoding, newline="") as out:' in [after for _, after in donor_cands(source, 7)]


def test_nothing_when_the_only_difference_is_a_renaming_or_out_of_scope():
    renamed = '''\
def a(xs):
    return sorted(xs, key=len)[0]


def b(ys):
    return sorted(ys, key=len)[0]
'''
    assert donor_cands(renamed, 6) == []
    # the donor's `limit` is a local of the other function: not in scope here
    scoped = '''\
def a(xs):
    limit = 3
    return sorted(xs, key=len)[:limit]


def b(ys):
    return sorted(ys, key=len)[:1]
'''
    assert all("limit" not in after for _, after in donor_cands(scoped, 7))


def test_the_donor_is_never_the_target_or_code_around_it():
    source = '''\
def f(xs):
    return max(len(x) for x in xs) + max(len(x) for x in xs)
'''
    assert donor_cands(source, 2) == []


def test_registered_behind_mutants_at_with_a_prior():
    descs = [m.description for m in mutants_at("readings.py", READINGS, [13]) if m.operator == "donor"]
    assert any(", 16) / 10" in d for d in descs)


READINGS_TESTS = '''\
from readings import humidity, temperature


def test_temperature():
    assert temperature("T=0FA;H=1C2") == 25.0


def test_humidity():
    assert humidity("T=0FA;H=1C2") == 45.0


def test_humidity_last():
    assert humidity("H=64") == 10.0
'''


def test_loopwright_fix_copies_the_argument_from_the_similar_line(make_repo):
    """No other operator passes the base: without ``donor``, the search ends with no fix."""
    out, _, _ = fix_offline(make_repo, {"readings.py": READINGS, "test_readings.py": READINGS_TESTS})
    assert out["status"] == "fixed", out
    assert '-    return int(part.split(";")[0].strip()) / 10\n+    return int(part.split(";")[0].strip(), 16) / 10\n' in out["patch"]


def test_a_donor_in_a_module_the_file_imports():
    """SimFix searches the whole program; here the repository modules the file imports."""
    client = '''\
"""A client of a service: its session, its time limit (seconds).

Longer than the module that imports it: the donor's positions are its own file's.
"""


class Client:
    def __init__(self, session, timeout):
        self.session = session
        self.timeout = timeout

    def get(self, url):
        return self.session.request("GET", url, timeout=self.timeout)
'''
    aio = '''\
from .client import Client


class AsyncClient(Client):
    async def get(self, url):
        return await self.session.request("GET", url)
'''
    files = {"pkg/client.py": client, "pkg/aio.py": aio}
    got = [m.description for m in mutants_at("pkg/aio.py", aio, [6], read=files.get) if m.operator == "donor"]
    assert got == ['line 6: `self.session.request("GET", url)` -> `self.session.request("GET", url, timeout=self.timeout)` '
                   '(as line 13 of pkg/client.py writes it)']
    assert [m for m in mutants_at("pkg/aio.py", aio, [6]) if m.operator == "donor"] == []  # no reader: this file only


READER = '''\
class Reader:
    """A cursor over a config text: position and line number (1-based)."""

    def __init__(self, text):
        self.text = text
        self.pos = 0
        self.line = 1

    def skip_line(self):
        end = self.text.find("\\n", self.pos)
        self.pos = len(self.text) if end < 0 else end + 1
        self.line += 1

    def skip_comment(self):
        stop = self.text.find("\\n", self.pos)
        self.pos = len(self.text) if stop < 0 else stop + 1

    def word(self):
        start = self.pos
        while self.pos < len(self.text) and not self.text[self.pos].isspace():
            self.pos += 1
        return self.text[start:self.pos]
'''
READER_TESTS = '''\
from reader import Reader


def test_lines_counted_past_comments():
    r = Reader("# a comment\\nkey\\n")
    r.skip_comment()
    assert (r.word(), r.line) == ("key", 2)


def test_lines_counted():
    r = Reader("first\\nsecond\\n")
    r.skip_line()
    assert (r.word(), r.line) == ("second", 2)
'''


def test_a_statement_beside_the_donor_statement_is_inserted():
    descs = [m.description for m in mutants_at("reader.py", READER, [16]) if m.operator == "donor_statement"]
    assert descs == ["line 16: insert `self.line += 1` after (as beside line 11)"]
    # the statement aligned must be the same one, its variables renamed: `start = self.pos` has no donor
    assert [m for m in mutants_at("reader.py", READER, [19]) if m.operator == "donor_statement"] == []


def test_loopwright_fix_inserts_the_forgotten_increment(make_repo):
    out, _, _ = fix_offline(make_repo, {"reader.py": READER, "test_reader.py": READER_TESTS})
    assert out["status"] == "fixed", out
    assert "         self.pos = len(self.text) if stop < 0 else stop + 1\n+        self.line += 1\n" in out["patch"]


def test_an_operator_that_raises_is_reported_not_fatal(monkeypatch):
    """A bug in one operator on code nobody tried it on costs its candidates, not the run."""
    from harness.generators import mutations

    def broken(cx, node):
        raise IndexError("list index out of range")

    monkeypatch.setattr(mutations, "_EXPR_OPS", (*mutations._EXPR_OPS, broken))
    monkeypatch.setattr(mutations, "CRASHES", [])
    with pytest.raises(IndexError):  # the test suite runs strict
        mutants_at("readings.py", READINGS, [13])
    monkeypatch.delenv("LOOPWRIGHT_STRICT_OPERATORS")
    got = mutants_at("readings.py", READINGS, [13])
    assert any(m.operator == "donor" for m in got)  # the other operators' candidates stay
    assert mutations.CRASHES[0] == "test_donor_ops.broken at readings.py:13: IndexError: list index out of range"
    assert mutations.take_crashes() == [
        "internal error, skipped: the repair operator test_donor_ops.broken at readings.py:13: IndexError: list index "
        "out of range; its candidates there were not tried (please report it)"]
    assert mutations.CRASHES == []
