"""Glob-style wildcard matching in linear time: ``*`` matches any run of characters (also none) and, where the
caller's syntax has it, ``?`` exactly one. Every other character is literal. Plain Python, no CDK import.

One engine for the two syntaxes the project evaluates:

* IAM policies (``devops_blueprints.guardrails``: the SCP linter, simulator and ``ServiceControlPolicy``):
  ``*`` and ``?`` (``question_mark=True``, the default);
* CloudWatch Logs filter patterns (``devops_blueprints.constructs.observability.log_filter_pattern``): ``*``
  only, ``?`` is a literal character inside a value (``question_mark=False``; "Filter pattern syntax",
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html, names ``*`` as the
  wildcard of JSON and space-delimited values).

Both read patterns from untrusted input, so matching must not be exploitable: no regular expressions (a
backtracking regex engine takes exponential time on ``*a*a*a*a*b``), and the work is bounded by the lengths
of the pattern and the value.

The algorithm (:class:`Glob`) is greedy segment matching. The pattern splits at its ``*`` runs into
segments of literals (and ``?``): the first segment must match at the start of the value, the last at
its end, and every segment in between is placed at its leftmost occurrence after the previous one.
Leftmost placement is optimal (any later placement leaves less room for the segments after it), so
nothing is ever undone: every character of the value is scanned by at most one segment search.
A literal segment is found with ``str.find`` (CPython's fastsearch, linear time); a segment with
``?`` is found by a bit-parallel shift-and scan, one loop iteration per value character. Every match
reports its *steps* — value characters scanned plus segment pieces compared — and
:func:`match_steps` exposes them, so tests can assert the bound
``steps <= len(pattern) + len(value) + 1`` without timing anything.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

Matcher = Callable[[str], bool]


class _Segment:
    """A run of literals (and ``?``), no ``*``: compares at a position or finds its leftmost occurrence."""

    __slots__ = ("any_mask", "chunks", "found_bit", "length", "literal", "masks")

    def __init__(self, text: str, question_mark: bool) -> None:
        self.length = len(text)
        wild = question_mark and "?" in text
        self.literal = None if wild else text
        # (offset, literal chunk) pairs between the '?'s, for comparing at a fixed position
        offset = 0
        chunks = []
        for chunk in text.split("?") if wild else [text]:
            if chunk:
                chunks.append((offset, chunk))
            offset += len(chunk) + 1
        self.chunks: tuple[tuple[int, str], ...] = tuple(chunks)
        # shift-and masks: bit i is set for the characters that may stand at position i
        self.any_mask = sum(1 << i for i, char in enumerate(text) if char == "?") if wild else 0
        masks: dict[str, int] = {}
        if wild:
            for i, char in enumerate(text):
                if char != "?":
                    masks[char] = masks.get(char, self.any_mask) | (1 << i)
        self.masks = masks
        self.found_bit = 1 << (self.length - 1) if self.length else 0

    def matches_at(self, value: str, start: int) -> tuple[bool, int]:
        """Does the segment match ``value[start:start + length]``? (and the pieces compared)"""
        if self.literal is not None:
            return value.startswith(self.literal, start), 1
        steps = 0
        for offset, chunk in self.chunks:
            steps += 1
            if not value.startswith(chunk, start + offset):
                return False, steps
        return True, max(steps, 1)

    def find(self, value: str, start: int, end: int) -> tuple[int, int]:
        """Leftmost index ``i >= start`` with the segment matching ``value[i:i + length]`` inside
        ``[start, end)``, or -1; and the number of value characters scanned."""
        if self.literal is not None:
            index = value.find(self.literal, start, end)
            scanned = (index + self.length - start) if index >= 0 else max(end - start, 0)
            return index, scanned
        state = 0
        masks, any_mask, found = self.masks, self.any_mask, self.found_bit
        for index in range(start, end):
            state = ((state << 1) | 1) & masks.get(value[index], any_mask)
            if state & found:
                return index - self.length + 1, index - start + 1
        return -1, max(end - start, 0)


class Glob:
    """One compiled wildcard pattern (see the module docstring for the algorithm).

    :param question_mark: ``?`` matches any one character (IAM); with False it is a literal character
        (CloudWatch Logs filter patterns). Default: True.

    Calling it answers the match; the common shapes (a literal, ``prefix*``, ``*suffix``,
    ``prefix*suffix`` without ``?``) are answered by one or two ``str`` methods, everything else by
    :meth:`match_steps`. The property tests check that both give the same answers.
    """

    __slots__ = ("first", "last", "match", "middle", "min_length", "pattern", "question_mark", "starred")

    def __init__(self, pattern: str, *, question_mark: bool = True) -> None:
        self.pattern = pattern
        self.question_mark = question_mark
        parts = pattern.split("*")
        self.starred = len(parts) > 1
        self.first = _Segment(parts[0], question_mark)
        self.last = _Segment(parts[-1], question_mark) if self.starred else self.first
        self.middle = tuple(_Segment(part, question_mark) for part in parts[1:-1] if part)
        self.min_length = len(parts[0]) + (len(parts[-1]) if self.starred else 0) + sum(s.length for s in self.middle)
        self.match: Matcher = self._fast_path() or (lambda value: self.match_steps(value)[0])

    def _fast_path(self) -> Matcher | None:
        if (self.question_mark and "?" in self.pattern) or self.middle:
            return None
        if not self.starred:
            return self.pattern.__eq__
        head, tail = self.first.literal or "", self.last.literal or ""
        if not tail:
            return (lambda value: value.startswith(head)) if head else (lambda _value: True)
        if not head:
            return lambda value: value.endswith(tail)
        size = len(head) + len(tail)
        return lambda value: len(value) >= size and value.startswith(head) and value.endswith(tail)

    def match_steps(self, value: str) -> tuple[bool, int]:
        """Whether ``value`` matches as a whole, and the steps it took (see the module docstring)."""
        size = len(value)
        if not self.starred:
            if size != self.first.length:
                return False, 1
            return self.first.matches_at(value, 0)
        if size < self.min_length:
            return False, 1
        ok, steps = self.first.matches_at(value, 0)
        if not ok:
            return False, steps
        end = size - self.last.length
        ok, more = self.last.matches_at(value, end)
        steps += more
        if not ok:
            return False, steps
        position = self.first.length
        for segment in self.middle:
            index, scanned = segment.find(value, position, end)
            steps += scanned + 1
            if index < 0:
                return False, steps
            position = index + segment.length
        return True, steps

    def __call__(self, value: str) -> bool:
        return self.match(value)


@lru_cache(maxsize=65536)
def compile_glob(pattern: str, *, question_mark: bool = True) -> Glob:
    """The compiled :class:`Glob` of ``pattern`` (cached: policies and filter patterns repeat)."""
    return Glob(pattern, question_mark=question_mark)


def match_steps(pattern: str, value: str, *, ignore_case: bool = False, question_mark: bool = True) -> tuple[bool, int]:
    """:func:`glob_match` with the number of steps it took (the instrumentation hook for tests)."""
    if ignore_case:
        pattern, value = pattern.lower(), value.lower()
    return compile_glob(pattern, question_mark=question_mark).match_steps(value)


def glob_match(pattern: str, value: str, *, ignore_case: bool = False, question_mark: bool = True) -> bool:
    """True when ``value`` matches the wildcard ``pattern`` as a whole."""
    return match_steps(pattern, value, ignore_case=ignore_case, question_mark=question_mark)[0]
