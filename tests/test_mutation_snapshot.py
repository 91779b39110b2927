"""The mutation engine's behaviour on a fixed corpus of real modules, byte for byte (issue 23).

``evals/mutation_snapshot.py`` runs ``mutants_at`` on 20 real modules (``tests/data/mutation_corpus``)
at fixed line sets, the ``templates`` generator's first 300 candidates over 5 of them, and the syntax
repairs of 3 broken ones, and hashes every candidate in order; the golden file
``tests/data/mutation_snapshot.json`` was written before the engine was retyped. A refactor that
changes one candidate, its order, its description or its span fails here, naming the file and line.
"""

from __future__ import annotations

import json

from evals.mutation_snapshot import GOLDEN, LINES_PER_FILE, broken, corpus, snapshot


def test_the_corpus_is_twenty_real_modules_with_their_line_sets():
    golden = json.loads(GOLDEN.read_text())
    files = corpus()
    assert len(files) == 20 and set(golden["lines"]) == set(files)
    for stem, lines in golden["lines"].items():
        assert len(lines) == LINES_PER_FILE and all(1 <= n <= files[stem].count("\n") + 1 for n in lines)
    text, line = broken(files["stdlib_bisect"])
    assert text != files["stdlib_bisect"] and line > 20


def test_mutants_and_candidate_order_match_the_golden_snapshot():
    golden = json.loads(GOLDEN.read_text())
    got = snapshot(golden["lines"])
    for stem, by_line in golden["mutants"].items():
        for line, want in by_line.items():
            assert got["mutants"][stem][line] == want, f"{stem}.py line {line}: [count, digest] changed"
    assert sum(c for f in got["mutants"].values() for c, _ in f.values()) > 10_000  # the corpus is exercised
    assert got["templates"] == golden["templates"], "templates candidate order changed"
    assert got["templates"][0] == 300
    assert got["syntax"] == golden["syntax"], "syntax repairs changed"
    assert got == golden
