import pytest

from tinylib import clamp, is_leap, mean, words


def test_clamp():
    assert clamp(5, 0, 10) == 5
    assert clamp(-1, 0, 10) == 0
    assert clamp(11, 0, 10) == 10


def test_mean():
    assert mean([1, 2, 3, 6]) == 3
    with pytest.raises(ValueError):
        mean([])


def test_words():
    assert words("Hello, World! a") == ["hello", "world", "a"]


def test_leap():
    assert is_leap(2000) and is_leap(2024)
    assert not is_leap(1900) and not is_leap(2023)
