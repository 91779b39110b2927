"""The operators of ``harness.generators.kin_ops`` (issue 21): a method deleted from the
middle of a chain restored from a sibling use in the same file, and a wrong dict key replaced
by a key of the same dict (its literal elsewhere in the file, and inside an f-string); each on
a bug written for it, and end to end through ``loopwright fix``."""

from __future__ import annotations

from pathlib import Path

from harness.generators.mutations import mutants_at
from tests.conftest import fix_offline, snapshot
from tests.mutant_checks import check_all, find, src

ROOT = Path(__file__).resolve().parents[1]

TOKENS = src('''
    import base64


    def encode_id(raw):
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


    def encode_key(raw):
        return base64.urlsafe_b64encode(raw).decode()


    def decode(text):
        pad = "=" * (-len(text) % 4)
        return base64.urlsafe_b64decode(text + pad)
''')
TOKENS_TESTS = src('''
    from tokens import decode, encode_id, encode_key


    def test_id_round_trip():
        assert decode(encode_id(b"ab")) == b"ab"


    def test_key_has_no_padding():
        assert encode_key(b"ab") == "YWI"
''')
USERS = src('''
    def make_user(name, email):
        return {"name": name, "email": email, "active": True}


    def display(user):
        return f"{user['name']} <{user['mail']}>"


    def contact(user):
        return user.get("mail", "")


    def is_active(user):
        return user["active"]
''')
USERS_TESTS = src('''
    from users import display, is_active, make_user


    def test_active():
        assert is_active(make_user("a", "a@x"))


    def test_display():
        assert display(make_user("Ann", "ann@x.org")) == "Ann <ann@x.org>"
''')


def _offered(source: str, line: int, expected: str, operator: str):
    mutants = mutants_at("pkg/mod.py", source, [line])
    check_all(source, mutants)
    m = find(mutants, expected)
    assert m.operator == operator and m.line == line, m
    return m, mutants


def test_a_method_deleted_from_the_middle_of_a_chain_is_restored_from_its_sibling():
    fixed = TOKENS.replace("urlsafe_b64encode(raw).decode()", 'urlsafe_b64encode(raw).rstrip(b"=").decode()')
    m, _ = _offered(TOKENS, 9, fixed, "restore_method")
    assert 'restore `.rstrip(b"=")`' in m.description


def test_a_wrong_key_inside_an_f_string_becomes_a_key_of_the_dict_literal_first():
    fixed = USERS.replace("{user['mail']}", "{user['email']}")
    m, mutants = _offered(USERS, 6, fixed, "dict_key")
    keys = [x for x in mutants if x.operator == "dict_key" and x.description.startswith("line 6: `user['mail']`")]
    assert keys[0] is m  # never read with `user`, so tried before the keys it is read with


def test_a_wrong_lookup_key_becomes_a_key_of_the_literal_of_the_same_shape():
    fixed = USERS.replace('user.get("mail", "")', 'user.get("email", "")')
    _offered(USERS, 10, fixed, "dict_key")
    # a dict literal that shares no key with what `user` is read with says nothing of it
    other = USERS.replace('{"name": name, "email": email, "active": True}', '{"title": name, "email": email}')
    assert all("email" not in x.description for x in mutants_at("m.py", other, [10]) if x.operator == "dict_key")




def test_loopwright_fix_restores_the_deleted_method_of_the_chain(make_repo):
    out, root, before = fix_offline(make_repo, {"tokens.py": TOKENS, "test_tokens.py": TOKENS_TESTS})
    assert out["status"] == "fixed" and not out.get("suspect"), out
    assert '+    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()' in out["patch"]
    assert snapshot(root) == before  # the user's tree is left alone without --apply


def test_loopwright_fix_replaces_the_wrong_dict_key_in_an_f_string(make_repo):
    out, root, before = fix_offline(make_repo, {"users.py": USERS, "test_users.py": USERS_TESTS})
    assert out["status"] == "fixed" and not out.get("suspect"), out
    assert """+    return f"{user['name']} <{user['email']}>\"""" in out["patch"]
    assert snapshot(root) == before
