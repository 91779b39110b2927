"""``loopwright fix`` end to end on bugs only the operators of issue 21 fix (a statement the
code implies, an accumulator's shape, a call chain's lost method): real repositories, real
pytest runs, the offline repairer."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from loopwright.cli import app
from tests.conftest import PYTHON, git, snapshot

runner = CliRunner()


def fix_json(root) -> tuple[int, dict]:
    result = runner.invoke(app, ["fix", str(root), "--python", PYTHON, "--json", "--max-iterations", "20"])
    return result.exit_code, json.loads(result.stdout)


def fixed_source(root, out: dict, path: str) -> str:
    return git(root, "show", f"{out['branch']}:{path}")


RISES = '''
def count_rises(xs):
    """How many items are larger than the one before them."""
    if not xs:
        return 0
    prev = xs[0]
    n = 0
    for x in xs[1:]:
        if x > prev:
            n += 1
    return n
'''

RISES_TESTS = '''
from seq import count_rises


def test_empty():
    assert count_rises([]) == 0


def test_flat_and_falling():
    assert count_rises([5, 5, 5]) == 0
    assert count_rises([3, 2, 1]) == 0


def test_up_and_down():
    assert count_rises([1, 3, 2, 4]) == 2
'''


def test_a_loop_variable_carried_forward(make_repo):
    root = make_repo({"seq.py": RISES, "test_seq.py": RISES_TESTS})
    before = snapshot(root)
    code, out = fix_json(root)
    assert code == 0 and out["status"].startswith("fixed"), out
    assert "prev = x" in fixed_source(root, out, "seq.py")
    assert snapshot(root) == before


RUN = '''
def longest_run(xs):
    """Length of the longest stretch of truthy items."""
    best = run = 0
    for x in xs:
        run = run + 1 if x else 0
        best = run
    return best
'''

RUN_TESTS = '''
from runs import longest_run


def test_empty_and_full():
    assert longest_run([]) == 0
    assert longest_run([0, 0]) == 0
    assert longest_run([1, 1, 1]) == 3


def test_the_longest_is_not_the_last():
    assert longest_run([1, 1, 0, 1]) == 2
    assert longest_run([1, 1, 1, 0]) == 3
'''


def test_an_accumulator_keeps_its_best_value(make_repo):
    root = make_repo({"runs.py": RUN, "test_runs.py": RUN_TESTS})
    code, out = fix_json(root)
    assert code == 0 and out["status"].startswith("fixed"), out
    assert "best = max(best, run)" in fixed_source(root, out, "runs.py")


TOKENS = '''
import base64


def encode_key(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=")


def encode_token(raw):
    return base64.urlsafe_b64encode(raw)
'''

TOKENS_TESTS = '''
from tokens import encode_key, encode_token


def test_key():
    assert encode_key(b"ab") == b"YWI"


def test_token_has_no_padding():
    assert encode_token(b"abcd") == b"YWJjZA"
'''


def test_a_lost_method_of_a_call_chain_restored(make_repo):
    root = make_repo({"tokens.py": TOKENS, "test_tokens.py": TOKENS_TESTS})
    code, out = fix_json(root)
    assert code == 0 and out["status"].startswith("fixed"), out
    assert 'return base64.urlsafe_b64encode(raw).rstrip(b"=")\n' in fixed_source(root, out, "tokens.py").split(
        "def encode_token")[1]
