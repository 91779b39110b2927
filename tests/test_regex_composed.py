"""``regex_composed``: a pattern the module composes from named pieces (``+``, ``%``,
``str.format`` with keywords or ``**globals()``, f-strings, ``sep.join``) evaluated with each
character's literal, edited as a whole (widened or narrowed against the tests' strings) and
written back into the one literal the change falls in; on patterns written for these tests,
and end to end on a small config parser whose line pattern rejects spaces around ``=``."""

from __future__ import annotations

import ast

from harness.generators.literal_hints import Hints
from harness.generators.regex_built import bound_names
from harness.generators.regex_composed import compiled_names, composed_regex_mutants, segments
from tests.conftest import fix_offline
from tests.mutant_checks import src

PIECES = src(r'''
    import re

    OWS = r"[ \t]*"
    SIZE = r"[0-9A-Fa-f]+"
    HEADER = re.compile(r"(?P<size>{size})\r\n".format(size=SIZE))
    TRAILER = re.compile(r"{SIZE}{OWS};".format(**globals()))
    HOST = re.compile(r"(?P<host>%s):(?P<port>\d+)" % r"[a-z.]+")
    ITEM = re.compile(f"{SIZE},{SIZE}")
    WORDS = re.compile("|".join([r"\bon\b", r"\boff\b"]))
    OTHER = re.compile(SIZE.lower())
''')


def test_the_composed_value_and_where_each_piece_comes_from():
    tree = ast.parse(PIECES)
    bound = bound_names(tree)
    calls = {node.targets[0].id: node.value.args[0] for node in tree.body
             if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)}
    header = segments(calls["HEADER"], bound)
    assert header is not None and "".join(s.text for s in header) == "(?P<size>[0-9A-Fa-f]+)\\r\\n"
    assert [(s.node.value if s.node else None, s.at, s.text) for s in header] == [
        ("(?P<size>{size})\\r\\n", 0, "(?P<size>"), ("[0-9A-Fa-f]+", 0, "[0-9A-Fa-f]+"),
        ("(?P<size>{size})\\r\\n", 15, ")\\r\\n")]
    assert "".join(s.text for s in segments(calls["TRAILER"], bound) or []) == "[0-9A-Fa-f]+[ \\t]*;"
    assert "".join(s.text for s in segments(calls["HOST"], bound) or []) == "(?P<host>[a-z.]+):(?P<port>\\d+)"
    item = segments(calls["ITEM"], bound) or []
    assert "".join(s.text for s in item) == "[0-9A-Fa-f]+,[0-9A-Fa-f]+" and item[1].node is None  # f-string text
    assert "".join(s.text for s in segments(calls["WORDS"], bound) or []) == "\\bon\\b|\\boff\\b"
    assert segments(calls["OTHER"], bound) is None  # a method call on a piece: not evaluated


def test_an_edit_is_written_back_into_the_literal_it_falls_in():
    got = composed_regex_mutants("m.py", PIECES, Hints(strings=("5 \t\r\n",)))
    assert [(m.operator, m.line, m.replacement) for m in got][0] == (
        "regex_optional_piece", 5, "(?P<size>{size})[ \\t]*\\r\\n")
    # a change only an f-string's own text could take is dropped, never written elsewhere
    assert all(m.line != 8 for m in composed_regex_mutants("m.py", PIECES, Hints(strings=("a;b",))))


CONFIG = src(r'''
    """Settings of a small config format: one ``key=value`` per line."""
    import re

    KEY = r"[A-Za-z_][A-Za-z0-9_]*"
    VALUE = r"\S+"
    LINE = re.compile(r"^(?P<key>" + KEY + r")=(?P<value>" + VALUE + r")$")


    def parse_line(line):
        """``(key, value)`` of one setting line; ValueError for anything else."""
        found = LINE.match(line)
        if found is None:
            raise ValueError(f"not a setting: {line!r}")
        return found.group("key"), found.group("value")
''')
CONFIG_TESTS = src('''
    import pytest

    from config import parse_line


    def test_plain():
        assert parse_line("width=80") == ("width", "80")


    def test_spaces_around_the_sign():
        assert parse_line("name = x") == ("name", "x")


    def test_not_a_setting():
        with pytest.raises(ValueError):
            parse_line("no sign here")
''')


def test_loopwright_fix_widens_the_piece_of_the_composed_pattern(make_repo):
    out, _, _ = fix_offline(make_repo, {"config.py": CONFIG, "test_config.py": CONFIG_TESTS})
    assert out["status"] == "fixed", out
    assert '+LINE = re.compile(r"^(?P<key>" + KEY + r")[ \\t]*=[ \\t]*(?P<value>" + VALUE + r")$")' in out["patch"], out["patch"]


GRAMMAR = src(r'''
    """The grammar of a tiny line protocol, as named pieces composed with ``str.format``."""

    OWS = r"[ \t]*"
    HEXDIG = r"[0-9A-Fa-f]"
    size = r"({HEXDIG}){{1,8}}".format(**globals())
    ext = r";.*"
    header = (
        r"(?P<size>{size})"
        r"(?P<ext>{ext})?"
        r"\r\n".format(**globals())
    )
''')
READER = src(r'''
    """Reads the size line of a chunk: ``b"1a\r\n"``."""
    import re

    from wire.grammar import header

    HEADER_RE = re.compile(header.encode("ascii"))


    def chunk_size(line):
        """The size a chunk's header line gives; ValueError for a line that is no header."""
        found = HEADER_RE.fullmatch(line)
        if found is None:
            raise ValueError(f"illegal chunk header: {line!r}")
        return int(found["size"], base=16)
''')
READER_TESTS = src(r'''
    import pytest

    from wire.reader import chunk_size


    def test_sizes():
        assert chunk_size(b"1a\r\n") == 26
        assert chunk_size(b"5; name=value\r\n") == 5


    def test_trailing_blanks_before_the_line_end():
        assert chunk_size(b"5  \t \r\n") == 5


    def test_garbage():
        with pytest.raises(ValueError):
            chunk_size(b"5x\r\n")
''')


def test_brace_escapes_and_joined_parts_and_a_pattern_another_module_compiles():
    tree = ast.parse(GRAMMAR)
    bound = bound_names(tree)
    pieces = segments(bound["header"], bound)
    assert pieces is not None and "".join(p.text for p in pieces) == "(?P<size>([0-9A-Fa-f]){1,8})(?P<ext>;.*)?\\r\\n"
    assert [p.node for p in pieces if p.text in ("{", "}")] == [None, None]  # `{{`: no literal spells `{`
    assert composed_regex_mutants("wire/grammar.py", GRAMMAR, Hints(), lines=("5  \t \r\n",)) == []  # compiled nowhere here
    got = composed_regex_mutants("wire/grammar.py", GRAMMAR, Hints(), lines=("5  \t \r\n",), compiled={"header"})
    # written into the joined part the insertion ends, its own line; a run of five blanks as one piece
    assert [(m.line, m.source[m.start:m.end], m.replacement) for m in got] == [
        (9, "(?P<ext>{ext})?", "(?P<ext>{ext})?[ \\t]*")]
    assert compiled_names(ast.parse(READER)) == {"header"}


def test_loopwright_fix_widens_a_grammar_piece_that_another_module_compiles_as_bytes(make_repo):
    out, _, _ = fix_offline(make_repo, {"wire/__init__.py": "", "wire/grammar.py": GRAMMAR, "wire/reader.py": READER,
                                        "tests/test_reader.py": READER_TESTS})
    assert out["status"] == "fixed", out
    assert '+    r"(?P<ext>{ext})?[ \\t]*"' in out["patch"], out["patch"]


URLS = src(r'''
    import re

    AUTHORITY_RE = '[^/?#]*'
    PATH_RE = '[^?#]*'
    PIECES = {
        'authority': AUTHORITY_RE,
        'path': PATH_RE,
    }
    URL_RE = re.compile(r'^(?:(?P<scheme>[a-z]+):)?(?://(?P<authority>{authority}))?(?P<path>{path})'.format(**PIECES))


    def host(url):
        authority = URL_RE.match(url).group('authority') or ''
        return authority.rpartition('@')[2].partition(':')[0]
''')
URLS_TESTS = src(r'''
    from urls import host


    def test_host():
        assert host('https://user:pw@example.com:80/a') == 'example.com'
        assert host('http://example.org/b/c') == 'example.org'


    def test_backslash_ends_the_authority():
        assert host('https://u:p@good.example\\evil.test:8080/x') == 'good.example'
''')


def test_a_negated_class_of_a_dict_composed_pattern_stops_at_the_failing_inputs_character():
    hints = Hints(strings=("https://u:p@good.example\\evil.test:8080/x", "good.example"))
    got = composed_regex_mutants("urls.py", URLS, hints, ("https://user:pw@example.com:80/a", "http://example.org/b/c"))
    stops = [m for m in got if m.operator == "regex_narrow" and "stops at" in m.description]
    assert stops and stops[0].replacement == r"[^\\\\/?#]*", [m.description for m in got]  # a backslash spelled twice
    assert r"AUTHORITY_RE = '[^\\\\/?#]*'" in stops[0].new_source
    assert not [m for m in stops if ":" in m.replacement or "@" in m.replacement]  # the passing test's URL keeps its match


def test_loopwright_fix_ends_the_authority_at_a_backslash(make_repo):
    out, _, _ = fix_offline(make_repo, {"urls.py": URLS, "test_urls.py": URLS_TESTS})
    assert out["status"] == "fixed", out
    assert r"+AUTHORITY_RE = '[^\\\\/?#]*'" in out["patch"]


def test_a_pattern_another_module_compiles_through_the_module_name_is_known():
    from harness.generators.data_edits import compiled_by_importers

    files = {
        "pkg/grammar.py": "AUTH = '[^/]*'\nURL = '//({0})'.format(AUTH)\n",
        "pkg/misc.py": "import re\nfrom . import grammar\nURL_MATCHER = re.compile(grammar.URL)\n",
        "pkg/other.py": "import re\nimport pkg.grammar as g\nX = re.compile(g.AUTH, re.I)\n",
    }
    got = compiled_by_importers(["pkg/misc.py", "pkg/other.py"], files.get)
    assert got == {"pkg/grammar.py": {"URL", "AUTH"}}
    assert compiled_names(ast.parse(files["pkg/misc.py"])) == {"grammar.URL"}


CHAIN = {
    "urlkit/__init__.py": "",
    "urlkit/grammar.py": src('''
        AUTHORITY_RE = '[^/?#]*'
        PATH_RE = '[^?#]*'
        PIECES = {
            'authority': AUTHORITY_RE,
            'path': PATH_RE,
        }
        URL_RE = (
            r'^(?:(?P<scheme>[a-z]+):)?'
            r'(?://(?P<authority>{authority}))?(?P<path>{path})'
        ).format(**PIECES)
    '''),
    "urlkit/misc.py": src('''
        import re

        from . import grammar

        URL_MATCHER = re.compile(
            grammar.URL_RE,
        )
    '''),
    "urlkit/parse.py": src('''
        from . import misc


        def host(url):
            authority = misc.URL_MATCHER.match(url).group('authority') or ''
            return authority.rpartition('@')[2].partition(':')[0]
    '''),
    "tests/test_parse.py": src(r'''
        from urlkit.parse import host


        def test_host():
            assert host('https://user:pw@example.com:80/a') == 'example.com'


        def test_backslash_ends_the_authority():
            url = "https://someone:secret@good.example.org\\evil.attacker.test:8080/path/to/something?q=1"
            assert host(url) == 'good.example.org'
    '''),
}


def test_loopwright_fix_edits_a_pattern_composed_in_one_module_and_compiled_in_another(make_repo):
    """misc.URL_MATCHER read in parse.py -> misc.py compiles grammar.URL_RE -> the piece of
    grammar.py; the failing input is a 90-character URL (longer than a table entry)."""
    out, _, _ = fix_offline(make_repo, CHAIN)
    assert out["status"] == "fixed" and not out.get("suspect"), out
    assert r"+AUTHORITY_RE = '[^\\\\/?#]*'" in out["patch"], out["patch"]
