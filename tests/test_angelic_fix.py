"""``loopwright fix`` end to end on bugs written for the angelic probe (issue 21): each one a
condition, guard or exit the failing tests' forced runs point at (the probe's own pieces are
tested in ``tests/test_angelic.py``)."""

from __future__ import annotations

import json

from harness.core.loop import ANGELIC_AFTER
from tests.conftest import fix_offline
from tests.test_angelic import ORDERS, ORDERS_TESTS


def test_loopwright_fix_adds_the_missing_conjunct(make_repo):
    """Before the probe, 146 candidates were tried and none fixed it (no operator writes a
    conjunct over another function's check)."""
    out, root, _ = fix_offline(make_repo, {"orders.py": ORDERS, "test_orders.py": ORDERS_TESTS})
    assert out["status"] == "fixed", out
    assert "-        if order.amount > 0:\n+        if order.amount > 0 and not order.refunded:\n" in out["patch"]
    steps = [json.loads(line) for t in (root / ".git" / "loopwright" / "runs").glob("*/trajectory.jsonl")
             for line in t.read_text().splitlines()]
    probe = next(s for s in steps if s["action"] == "angelic")
    assert probe["found"][0][:3] == ["orders.py", 18, "and"] and probe["found"][0][3][0] == "not order.refunded"
    # the probe's test runs are spent only after the first batches found nothing
    before = [s for s in steps if s["step"] < probe["step"]]
    assert probe["iteration"] == ANGELIC_AFTER + 1 == 3
    assert [s["iteration"] for s in before if s["action"] == "generate"] == list(range(1, ANGELIC_AFTER + 1))


REVIEWS = '''\
class Review:
    """A review: its stars (1-5), and whether a moderator hid it."""

    def __init__(self, stars, hidden=False):
        self.stars = stars
        self.hidden = hidden


def shown(reviews):
    """The reviews a visitor sees."""
    return [r for r in reviews if not r.hidden]


def average_rating(reviews):
    """The mean stars of the reviews a visitor sees (0.0 when there are none)."""
    total = count = 0
    for review in reviews:
        total += review.stars
        count += 1
    return total / count if count else 0.0
'''
REVIEWS_TESTS = '''\
from reviews import Review, average_rating, shown


def test_average():
    assert average_rating([Review(4), Review(2)]) == 3.0


def test_no_reviews():
    assert average_rating([]) == 0.0


def test_shown():
    assert len(shown([Review(1, hidden=True), Review(5)])) == 1


def test_hidden_reviews_do_not_count():
    assert average_rating([Review(4), Review(1, hidden=True), Review(2)]) == 3.0
'''


def test_loopwright_fix_adds_the_missing_early_continue(make_repo):
    """Forcing the exit at every review or at the last one fails; where `review.hidden` holds
    (another function's check, renamed) it passes. Before the probe: not fixed, 173 candidates."""
    out, _, _ = fix_offline(make_repo, {"reviews.py": REVIEWS, "test_reviews.py": REVIEWS_TESTS})
    assert out["status"] == "fixed", out
    assert "     for review in reviews:\n+        if review.hidden:\n+            continue\n" in out["patch"], out["patch"]


TODO = '''\
class Task:
    """A task: its title, and whether it is done or cancelled."""

    def __init__(self, title, done=False, cancelled=False):
        self.title = title
        self.done = done
        self.cancelled = cancelled


def cancelled(tasks):
    """The tasks someone cancelled."""
    return [t for t in tasks if t.cancelled]


def open_tasks(tasks):
    """The titles still to do, in order: neither done nor cancelled."""
    return [t.title for t in tasks if not t.done]
'''
TODO_TESTS = '''\
from todo import Task, cancelled, open_tasks


def test_open_tasks():
    assert open_tasks([Task("a"), Task("b", done=True), Task("c")]) == ["a", "c"]


def test_cancelled():
    assert [t.title for t in cancelled([Task("a", cancelled=True), Task("b")])] == ["a"]


def test_cancelled_tasks_are_not_open():
    assert open_tasks([Task("a"), Task("b", cancelled=True)]) == ["a"]
'''


def test_loopwright_fix_adds_a_conjunct_to_a_comprehension_filter(make_repo):
    """The probe forces the filter in the comprehension's own frame. Before: not fixed, 104 candidates."""
    out, _, _ = fix_offline(make_repo, {"todo.py": TODO, "test_todo.py": TODO_TESTS})
    assert out["status"] == "fixed", out
    assert "+    return [t.title for t in tasks if not t.done and not t.cancelled]\n" in out["patch"], out["patch"]


NAMES = '''\
import keyword


def is_reserved(word):
    """A word Python reserves: a keyword."""
    return keyword.iskeyword(word)


def is_identifier(text):
    """``text`` can name a variable: an identifier that is not reserved."""
    return text.isidentifier()
'''
NAMES_TESTS = '''\
from names import is_identifier, is_reserved


def test_plain_names():
    assert is_identifier("total") and is_identifier("_x1")


def test_not_names():
    assert not is_identifier("1x") and not is_identifier("a-b")


def test_reserved():
    assert is_reserved("class")


def test_keywords_cannot_name_a_variable():
    assert not is_identifier("class")
'''


def test_loopwright_fix_tightens_a_predicate_s_returned_value_with_the_module_s_own_predicate(make_repo):
    """A returned truth value is a condition too; the module's `is_reserved` applied to the
    argument is in the grammar (not `is_identifier` itself: the probe never recurses). Before:
    not fixed, 27 candidates."""
    out, root, _ = fix_offline(make_repo, {"names.py": NAMES, "test_names.py": NAMES_TESTS})
    assert out["status"] == "fixed", out
    assert "+    return text.isidentifier() and not is_reserved(text)\n" in out["patch"], out["patch"]
    steps = [json.loads(line) for t in (root / ".git" / "loopwright" / "runs").glob("*/trajectory.jsonl")
             for line in t.read_text().splitlines()]
    probe = next(s for s in steps if s["action"] == "angelic")
    assert probe["found"] == [["names.py", 11, "and", ["not is_reserved(text)"]]]
