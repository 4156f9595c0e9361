"""Text from untrusted input, made safe to print on one terminal line."""

from __future__ import annotations

import re

# C0 and C1 control characters (newline, carriage return, escape, ...), DEL, lone surrogates (a file name
# that is not UTF-8, a JSON "\ud800" escape: printing them raises UnicodeEncodeError) and the Unicode line
# and paragraph separators.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with every control character, line separator and lone surrogate backslash-escaped."""
    return _UNPRINTABLE.sub(_escape, text)


_TABLE_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escaped(text: str) -> str:
    """Stricter than :func:`printable`, for values shown in a table: also every other character
    ``str.isprintable()`` refuses (format characters such as the bidi override U+202E, private-use and
    unassigned code points, non-ASCII spaces) and the backslash itself, so that no value can move, reorder or
    disguise what is printed around it and an escape in the output is never ambiguous."""
    if text.isprintable() and "\\" not in text:
        return text
    parts = []
    for char in text:
        if char in _TABLE_ESCAPES:
            parts.append(_TABLE_ESCAPES[char])
        elif char.isprintable():
            parts.append(char)
        else:
            code = ord(char)
            parts.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    return "".join(parts)
