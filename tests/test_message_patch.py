"""``message_patch``: a name the failing test patches in its home module (``mock.patch``,
``patch.object``, ``monkeypatch.setattr``, ``@patch``) while the code bound it at import with a
top-level ``from M import name``; the import moves into the functions that read it. Unit tests
through ``message_ops.message_mutants`` and end to end through ``loopwright fix``."""

from __future__ import annotations

from pathlib import Path

from harness.core.context import Context, SuspiciousLocation
from harness.core.task import Task
from harness.evaluators.verdict import Frame, TestResult
from harness.generators.message_ops import message_mutants
from tests.conftest import fix_offline
from tests.mutant_checks import src

CLIENT = src('''
    """A small HTTP client."""
    import json
    from urllib.request import Request, urlopen

    from shop.prices import convert


    def fetch(url):
        """The JSON document at ``url``."""
        if url.startswith("data:"):
            return json.loads(url[5:])
        else:
            with urlopen(Request(url)) as response:
                return json.loads(response.read())


    def head(url):
        response = urlopen(url)
        status = response.status
        response.close()
        return status


    def local(url):
        from urllib.request import urlopen
        return urlopen(url)


    def price(amount):
        return convert(amount, "EUR")
''')
PRICES = 'def convert(amount, currency):\n    return amount\n'


def offered(tmp_path: Path, test_source: str, test_name: str = "test_it", client: str = CLIENT) -> list[str]:
    """The new texts of the ``patch_lookup`` candidates for a failing ``test_name`` in
    ``tests/test_client.py`` (``test_source``) that fails inside ``shop/client.py``."""
    (tmp_path / "shop").mkdir(exist_ok=True)
    (tmp_path / "tests").mkdir(exist_ok=True)
    (tmp_path / "shop" / "__init__.py").write_text("")
    (tmp_path / "shop" / "client.py").write_text(client)
    (tmp_path / "shop" / "prices.py").write_text(PRICES)
    (tmp_path / "tests" / "test_client.py").write_text(test_source)
    test_id = f"tests/test_client.py::{test_name}"
    result = TestResult(test_id, "failed", "urllib.error.URLError: <urlopen error [Errno 111] Connection refused>",
                        (Frame("tests/test_client.py", 3), Frame("shop/client.py", 13)))
    context = Context(tmp_path, Task("failing_tests", {test_id: result}),
                      [SuspiciousLocation("shop/client.py", 13, 0.5)], ("tests/*",))
    got = message_mutants(context, lambda rel: (tmp_path / rel).read_text() if (tmp_path / rel).is_file() else None)
    return [m.new_source for _, m in got if m.operator == "patch_lookup"]


def test_mock_patch_string_moves_the_import_before_each_use(tmp_path):
    [new] = offered(tmp_path, src('''
        from unittest import mock
        from shop.client import fetch
        def test_it():
            with mock.patch("urllib.request.urlopen", new=lambda r: None):
                fetch("http://127.0.0.1:9/")
    '''))
    assert "from urllib.request import Request\n" in new  # the other name stays at the top
    assert "    else:\n        from urllib.request import urlopen\n        with urlopen(Request(url))" in new
    assert "def head(url):\n    from urllib.request import urlopen\n    response = urlopen(url)" in new
    assert "def local(url):\n    from urllib.request import urlopen\n    return" in new  # its own import, untouched
    assert new.count("from urllib.request import urlopen") == 3


def test_patch_object_monkeypatch_and_decorators_name_the_same_target(tmp_path):
    forms = {
        "patch.object on a module alias": '''
            import urllib.request as request
            from unittest.mock import patch
            def test_it():
                with patch.object(request, "urlopen"):
                    pass
        ''',
        "monkeypatch.setattr(module, name)": '''
            import urllib.request
            def test_it(monkeypatch):
                monkeypatch.setattr(urllib.request, "urlopen", lambda r: None)
        ''',
        "monkeypatch.setattr(dotted string)": '''
            def test_it(monkeypatch):
                monkeypatch.setattr("urllib.request.urlopen", lambda r: None)
        ''',
        "a decorator of the test's class": '''
            from unittest import TestCase, mock
            @mock.patch("urllib.request.urlopen")
            class TestClient(TestCase):
                def test_it(self, fake):
                    pass
        ''',
    }
    for form, source in forms.items():
        name = "TestClient::test_it" if "class" in source else "test_it"
        assert len(offered(tmp_path, src(source), name)) == 1, form


def test_a_repository_module_patched_where_it_is_defined(tmp_path):
    [new] = offered(tmp_path, src('''
        from unittest import mock
        def test_it():
            with mock.patch("shop.prices.convert", return_value=2):
                pass
    '''))
    assert "\nfrom shop.prices import convert\n" not in new
    assert "def price(amount):\n    from shop.prices import convert\n    return convert" in new


def test_nothing_when_no_test_patches_it_or_the_name_is_read_at_module_level(tmp_path):
    assert offered(tmp_path, "def test_it():\n    assert False\n") == []
    assert offered(tmp_path, src('''
        from unittest import mock
        def test_other():
            with mock.patch("urllib.request.urlopen"):
                pass
        def test_it():
            pass
    ''')) == []  # another test of the file patches it, not the failing one
    patched = 'from unittest import mock\ndef test_it():\n    mock.patch("urllib.request.urlopen")\n'
    assert len(offered(tmp_path, patched)) == 1
    assert offered(tmp_path, patched, client=CLIENT + "\nDEFAULT_OPENER = urlopen\n") == []


FETCH = src('''
    """Fetch JSON documents."""
    import json
    from urllib.request import urlopen


    def fetch(url):
        """The JSON document at ``url``: a ``data:`` URL's own text, otherwise its body."""
        if url.startswith("data:"):
            return json.loads(url[5:])
        else:
            with urlopen(url) as response:
                return json.loads(response.read().decode("utf-8"))


    def size(url):
        """How many items the document at ``url`` has."""
        return len(fetch(url))
''')
FETCH_TESTS = src('''
    import io
    from contextlib import contextmanager
    from unittest import mock

    from fetch import fetch, size


    def test_data_url():
        assert fetch('data:{"a": 1}') == {"a": 1}


    def test_size():
        assert size("data:[1, 2, 3]") == 3


    def test_fetch_over_http():
        @contextmanager
        def fake(url):
            assert url == "http://127.0.0.1:9/doc"
            yield io.BytesIO(b'{"b": 2}')

        with mock.patch("urllib.request.urlopen", new=fake):
            assert fetch("http://127.0.0.1:9/doc") == {"b": 2}
''')


def test_loopwright_fix_looks_the_patched_name_up_at_call_time(make_repo):
    out, _, _ = fix_offline(make_repo, {"fetch.py": FETCH, "test_fetch.py": FETCH_TESTS})
    assert out["status"] == "fixed" and not out.get("suspect"), out
    assert "-from urllib.request import urlopen\n" in out["patch"], out["patch"]
    assert "     else:\n+        from urllib.request import urlopen\n         with urlopen(url)" in out["patch"], out["patch"]
