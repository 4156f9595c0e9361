"""IAM wildcard matching: ``*`` matches any run of characters (also none), ``?`` exactly one.

Every other character is literal. Patterns are translated once into compiled regular expressions
(cached), which is what makes the simulator fast; :func:`glob_match_slow` is the direct
character-by-character algorithm kept as the un-compiled baseline for the benchmark.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import lru_cache

Matcher = Callable[[str], bool]


def has_wildcard(pattern: str) -> bool:
    return "*" in pattern or "?" in pattern


def glob_to_regex(pattern: str, *, any_char: str = ".", anchor: bool = True) -> str:
    """The regular-expression source (DOTALL, anchored at the end unless ``anchor`` is false)
    for one IAM wildcard pattern; ``any_char`` is what one wildcard character may match."""
    parts: list[str] = []
    star = any_char + "*"
    for char in pattern:
        if char == "*":
            if not parts or parts[-1] != star:
                parts.append(star)
        elif char == "?":
            parts.append(any_char)
        else:
            parts.append(re.escape(char))
    return "(?s:" + "".join(parts) + (r")\Z" if anchor else ")")


@lru_cache(maxsize=65536)
def _compiled(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    return re.compile(glob_to_regex(pattern), re.IGNORECASE if ignore_case else 0)


def glob_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """True when ``value`` matches the IAM wildcard ``pattern`` as a whole."""
    return _compiled(pattern, ignore_case).match(value) is not None


def compile_any(patterns: Iterable[str], *, ignore_case: bool = False) -> Matcher:
    """One matcher that is true when the value matches any of ``patterns`` (a single regex)."""
    unique = sorted(set(patterns))
    if not unique:
        return lambda _value: False
    if "*" in unique:
        return lambda _value: True
    literals = [p for p in unique if not has_wildcard(p)]
    wild = [p for p in unique if has_wildcard(p)]
    if not wild:
        if ignore_case:
            folded = frozenset(p.lower() for p in literals)
            return lambda value: value.lower() in folded
        exact = frozenset(literals)
        return exact.__contains__
    source = "|".join(glob_to_regex(p) for p in unique)
    regex = re.compile(source, re.IGNORECASE if ignore_case else 0)
    match = regex.match
    return lambda value: match(value) is not None


def glob_match_slow(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """The classic two-pointer wildcard match with backtracking to the last ``*`` (no regex)."""
    if ignore_case:
        pattern, value = pattern.lower(), value.lower()
    p = v = 0
    star_p, star_v = -1, 0
    while v < len(value):
        if p < len(pattern) and (pattern[p] == "?" or pattern[p] == value[v]):
            p += 1
            v += 1
        elif p < len(pattern) and pattern[p] == "*":
            star_p, star_v = p, v
            p += 1
        elif star_p != -1:
            p = star_p + 1
            star_v += 1
            v = star_v
        else:
            return False
    while p < len(pattern) and pattern[p] == "*":
        p += 1
    return p == len(pattern)
