"""A tiny library: the example eval suite injects one bug per task into it."""


def clamp(x, lo, hi):
    """``x`` limited to ``[lo, hi]``."""
    if x < lo:
        return lo
    if x > hi:
        return hi
    return x


def mean(xs):
    """Arithmetic mean of a non-empty list."""
    if not xs:
        raise ValueError("mean of an empty list")
    return sum(xs) / len(xs)


def words(text):
    """Lower-cased words of ``text``, punctuation stripped."""
    out = []
    for raw in text.split():
        word = raw.strip(".,;:!?").lower()
        if word:
            out.append(word)
    return out


def is_leap(year):
    """Gregorian leap year."""
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
