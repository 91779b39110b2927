"""``normalize_members``: a key normalized before it is looked up in a collection the class
stored as its caller gave it; unit checks and a fix end to end."""

from __future__ import annotations

from harness.generators.mutations import mutants_at
from tests.conftest import fix_offline, snapshot
from tests.mutant_checks import src

HOSTS = src('''
    class HostCheck:
        default_hosts = {"localhost", "example.org"}

        def __init__(self, hosts=None, strict=False):
            self.hosts = hosts or self.default_hosts
            self.strict = strict

        def __call__(self, url):
            host = url.split("//")[1].split("/")[0].lower()
            if host not in self.hosts:
                raise ValueError(f"host {host} is not allowed")
            return url
''')
HOSTS_TESTS = src('''
    import pytest

    from hosts import HostCheck


    def test_default_hosts():
        assert HostCheck()("http://LOCALHOST/x") == "http://LOCALHOST/x"
        with pytest.raises(ValueError):
            HostCheck()("http://evil.test/")


    def test_given_hosts_match_in_any_case():
        assert HostCheck(hosts={"Api.Example.com"})("https://api.example.com/v1") == "https://api.example.com/v1"
''')


def _line(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_the_stored_members_get_the_keys_normalizer():
    got = [m for m in mutants_at("hosts.py", HOSTS, [_line(HOSTS, "not in self.hosts")]) if m.operator == "normalize_members"]
    assert [m.replacement for m in got] == ["{h.lower() for h in hosts} if hosts else self.default_hosts"]
    plain = HOSTS.replace("hosts or self.default_hosts", "hosts")
    got = [m for m in mutants_at("hosts.py", plain, [_line(plain, "not in self.hosts")]) if m.operator == "normalize_members"]
    assert [m.replacement for m in got] == ["{h.lower() for h in hosts}"]


def test_nothing_when_the_key_is_not_normalized_or_the_collection_is_not_a_parameter():
    raw = HOSTS.replace('.split("/")[0].lower()', '.split("/")[0]')
    assert not [m for m in mutants_at("hosts.py", raw, [_line(raw, "not in self.hosts")]) if m.operator == "normalize_members"]
    fixed = HOSTS.replace("hosts or self.default_hosts", "self.default_hosts")
    assert not [m for m in mutants_at("hosts.py", fixed, [_line(fixed, "not in self.hosts")]) if m.operator == "normalize_members"]


def test_loopwright_fix_normalizes_the_stored_hosts(make_repo):
    out, root, before = fix_offline(make_repo, {"hosts.py": HOSTS, "test_hosts.py": HOSTS_TESTS})
    assert out["status"] == "fixed", out
    assert "+        self.hosts = {h.lower() for h in hosts} if hosts else self.default_hosts" in out["patch"], out["patch"]
    assert snapshot(root) == before
