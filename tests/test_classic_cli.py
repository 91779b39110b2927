"""``python -m evals.classic``'s arguments: a ``--workdir`` holding a task of an earlier run, or an
unknown task name, is refused before anything runs (exit 2), and the folder is left as it was."""

from __future__ import annotations

from evals.classic import main


def test_a_workdir_with_an_earlier_task_is_refused_and_left_alone(tmp_path, capsys):
    (tmp_path / "bfs").mkdir()
    (tmp_path / "bfs" / "notes.txt").write_text("mine")
    assert main(["--workdir", str(tmp_path), "--only", "bfs", "gcd"]) == 2
    assert "already holds bfs from an earlier run" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bfs"]  # nothing made, nothing removed
    assert (tmp_path / "bfs" / "notes.txt").read_text() == "mine"


def test_an_unknown_task_name_is_refused(tmp_path, capsys):
    assert main(["--workdir", str(tmp_path), "--only", "no_such_task"]) == 2
    assert "unknown task(s): no_such_task (known: " in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
