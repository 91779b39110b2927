"""The release-pair suite's two halves (issue 21): the split rule, and the shipped files obey it."""

from __future__ import annotations

import random

from evals.release_pairs import load_suite, write_suite
from evals.release_trees import MAX_CHANGED_LINES
from evals.release_split import HELD, HELDOUT_FILE, SEED, TUNE_FILE, TUNED, library, main, split


def test_split_keeps_tuned_libraries_in_tune_and_holds_out_half_by_a_seeded_shuffle():
    fresh = [f"lib{i:02}" for i in range(21)]
    names = list(TUNED) + fresh
    got = split(names)
    assert all(got[n] == "tune" for n in TUNED)
    held = sorted(n for n, h in got.items() if h == "heldout")
    want = -(-len(names) // 2)  # ceil: at least half of all libraries
    assert len(held) == want
    order = sorted(fresh)
    random.Random(SEED).shuffle(order)
    assert held == sorted(order[:want])
    assert split(list(reversed(names))) == got  # input order does not matter
    assert split(names, seed=SEED + 1) != got  # the seed does


def test_libraries_held_out_before_stay_held_out_when_the_suite_grows():
    fresh = [f"lib{i:02}" for i in range(30)]
    got = split([*TUNED, *HELD, *fresh])
    assert all(got[n] == "heldout" for n in HELD) and all(got[n] == "tune" for n in TUNED)
    held = [n for n, h in got.items() if h == "heldout"]
    assert len(held) == -(-(len(TUNED) + len(HELD) + len(fresh)) // 2)
    order = sorted(fresh)
    random.Random(SEED).shuffle(order)
    assert sorted(held) == sorted([*HELD, *order[:len(held) - len(HELD)]])


def test_split_with_few_fresh_libraries_holds_out_all_of_them():
    got = split([*TUNED, "a", "b"])
    assert {n for n, h in got.items() if h == "heldout"} == {"a", "b"}


def _task(tid: str, package: str) -> dict:
    return {"id": tid, "repo": {"release_pair": {"package": package, "old": "1", "new": "2", "file": "m.py"}},
            "command": "fix", "python": None, "gold_patch": "--- a/m.py\n+++ b/m.py\n", "tests": ["t"],
            "timeout": 600}


def test_main_adds_mined_tasks_to_the_two_files_by_library(tmp_path, capsys):
    tune, held, mined = tmp_path / "tune.yaml", tmp_path / "held.yaml", tmp_path / "mined.yaml"
    write_suite(tune, {"suite": "release-pairs", "description": "", "tasks": [_task("parse-1", "parse")]})
    write_suite(mined, {"suite": "m", "description": "", "tasks": [_task("a-1", "alib"), _task("a-2", "alib"),
                                                                  _task("b-1", "blib"), _task("parse-1", "parse")]})
    assert main([str(mined), "--tune", str(tune), "--heldout", str(held), "--note", "Grown."]) == 0
    t, h = load_suite(tune), load_suite(held)
    expect = split(["parse", "alib", "blib"])
    assert sorted(x["id"] for x in t["tasks"] + h["tasks"]) == ["a-1", "a-2", "b-1", "parse-1"]
    assert all(expect[library(x)] == "tune" for x in t["tasks"])
    assert all(expect[library(x)] == "heldout" for x in h["tasks"]) and h["tasks"]
    assert "Grown." in t["description"] and "random.Random(21)" in h["description"]
    assert "heldout:" in capsys.readouterr().out
    assert main([str(tmp_path / "nope.txt"), "--tune", str(mined), "--heldout", str(tmp_path / "bad.yaml")]) == 0
    (tmp_path / "bad.yaml").write_text("- not a suite\n")
    assert main(["--tune", str(tune), "--heldout", str(tmp_path / "bad.yaml")]) == 2


def test_shipped_halves_follow_the_rule():
    """Every library of the shipped release-pair suite sits in the half the rule gives it."""
    tune, held = load_suite(TUNE_FILE)["tasks"], load_suite(HELDOUT_FILE)["tasks"]
    where = split({library(t) for t in tune + held})
    assert all(where[library(t)] == "tune" for t in tune)
    assert all(where[library(t)] == "heldout" for t in held)
    assert len({t["id"] for t in tune + held}) == len(tune + held)
    for t in held:  # the held-out tasks are mined the same way as the tune half (test_release_pairs checks it)
        spec = t["repo"]["release_pair"]
        changed = [ln for ln in t["gold_patch"].splitlines() if ln[:1] in "+-" and not ln.startswith(("+++", "---"))]
        assert f"+++ b/{spec['file']}" in t["gold_patch"] and 1 <= len(changed) <= MAX_CHANGED_LINES, t["id"]
        assert t["command"] == "fix" and t["tests"] and spec["old"] != spec["new"]
    assert "random.Random(21)" in load_suite(HELDOUT_FILE)["description"] if held else True
