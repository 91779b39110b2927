"""``restore_init``: a ``__setstate__`` that restores the saved fields but not what
``__init__`` computes (pickle never runs ``__init__``); unit checks and a fix end to end."""

from __future__ import annotations

from harness.generators.mutations import mutants_at
from tests.conftest import fix_offline, snapshot
from tests.mutant_checks import src

KEYS = src('''
    import threading


    class Key:
        __slots__ = ("n", "e", "cache", "lock")

        def __init__(self, n, e):
            self.n = n
            self.e = e
            self.cache = {}
            self.lock = threading.Lock()

        def __getstate__(self):
            return self.n, self.e

        def __setstate__(self, state):
            self.n, self.e = state

        def __eq__(self, other):
            return (self.n, self.e) == (other.n, other.e)

        def blinded(self, x):
            with self.lock:
                return self.cache.setdefault(x, x * self.e % self.n)


    class PrivateKey(Key):
        __slots__ = ("d",)

        def __init__(self, n, e, d):
            Key.__init__(self, n, e)
            self.d = d

        def __getstate__(self):
            return self.n, self.e, self.d

        def __setstate__(self, state):
            self.n, self.e, self.d = state
''')
KEYS_TESTS = src('''
    import pickle

    from keys import Key


    def test_roundtrip_equal():
        k = Key(33, 3)
        assert pickle.loads(pickle.dumps(k)) == k


    def test_unpickled_key_works():
        k = pickle.loads(pickle.dumps(Key(33, 3)))
        assert k.blinded(4) == 12
''')



def test_the_base_init_call_and_the_copied_statements_are_offered_after_the_restore():
    line = KEYS.splitlines().index("        self.n, self.e = state") + 1
    got = [m.description for m in mutants_at("keys.py", KEYS, [line]) if m.operator == "restore_init"]
    assert "insert `Key.__init__(self, self.n, self.e)`" in got[0]
    assert "self.cache = {} self.lock = threading.Lock()" in got[1]
    sub = KEYS.splitlines().index("        self.n, self.e, self.d = state") + 1
    got = [m.description for m in mutants_at("keys.py", KEYS, [sub]) if m.operator == "restore_init"]
    assert "`Key.__init__(self, self.n, self.e)`" in got[0]  # the fewest parameters first
    assert "`PrivateKey.__init__(self, self.n, self.e, self.d)`" in got[1]


def test_nothing_when_setstate_restores_everything_or_updates_the_dict():
    whole = KEYS.replace("        self.n, self.e = state\n",
                         "        self.n, self.e = state\n        self.cache = {}\n        self.lock = threading.Lock()\n")
    assert whole != KEYS
    line = whole.splitlines().index("        self.n, self.e = state") + 1
    assert not [m for m in mutants_at("keys.py", whole, [line]) if m.operator == "restore_init"]
    by_dict = KEYS.replace("        self.n, self.e = state\n", "        self.__dict__.update(state)\n")
    line = by_dict.splitlines().index("        self.__dict__.update(state)") + 1
    assert not [m for m in mutants_at("keys.py", by_dict, [line]) if m.operator == "restore_init"]


def test_loopwright_fix_runs_the_init_after_the_state_is_restored(make_repo):
    out, root, before = fix_offline(make_repo, {"keys.py": KEYS, "test_keys.py": KEYS_TESTS})
    assert out["status"] == "fixed" and not out.get("suspect"), out
    assert "+        Key.__init__(self, self.n, self.e)" in out["patch"]
    assert snapshot(root) == before
