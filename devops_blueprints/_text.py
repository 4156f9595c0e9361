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
