"""IAM wildcard matching: ``*`` matches any run of characters (also none), ``?`` exactly one.

Every other character is literal. A policy is untrusted input (to the linter, the simulator and the
synth of ``ServiceControlPolicy``), so matching must not be exploitable: the engine is the shared
linear-time one of :mod:`devops_blueprints._wildcards` (greedy segment matching, no regular expressions,
work bounded by the lengths of the pattern and the value, counted by :func:`match_steps`), with IAM's
``?``. This module adds what policies need on top: :func:`compile_any` (one matcher for a list of
patterns, optionally case-insensitive, as action names are).

:func:`glob_match_slow` is the classic two-pointer algorithm with backtracking to the last ``*``
(quadratic in the worst case), kept as an independent reference and as the benchmark baseline.
"""

from __future__ import annotations

from collections.abc import Iterable

from devops_blueprints._wildcards import Glob, Matcher, compile_glob, glob_match, match_steps

__all__ = [
    "Glob",
    "Matcher",
    "compile_any",
    "compile_glob",
    "glob_match",
    "glob_match_slow",
    "has_wildcard",
    "match_steps",
]


def has_wildcard(pattern: str) -> bool:
    return "*" in pattern or "?" in pattern


def compile_any(patterns: Iterable[str], *, ignore_case: bool = False) -> Matcher:
    """One matcher that is true when the value matches any of ``patterns``.

    Literal patterns become one set lookup, ``prefix*`` patterns one ``str.startswith`` over a tuple,
    and the rest are :class:`Glob` objects tried in turn; all of it is linear in the value's length.
    """
    unique = sorted({p.lower() for p in patterns} if ignore_case else set(patterns))
    if not unique:
        return lambda _value: False
    if "*" in unique:
        return lambda _value: True
    exact = frozenset(p for p in unique if not has_wildcard(p))
    prefix_form = [p for p in unique if p.endswith("*") and not has_wildcard(p[:-1])]
    prefixes = tuple(p[:-1] for p in prefix_form)
    globs = tuple(compile_glob(p).match for p in unique if has_wildcard(p) and p not in prefix_form)

    if not globs and not prefixes:
        if not ignore_case:
            return exact.__contains__
        return lambda value: value.lower() in exact
    if not globs and not exact:
        if not ignore_case:
            return lambda value: value.startswith(prefixes)
        return lambda value: value.lower().startswith(prefixes)
    if len(globs) == 1 and not exact and not prefixes and not ignore_case:
        return globs[0]

    def match(value: str) -> bool:
        if ignore_case:
            value = value.lower()
        if value in exact or (prefixes and value.startswith(prefixes)):
            return True
        return any(glob(value) for glob in globs)

    return match


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
