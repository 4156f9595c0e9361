"""Checks of construct props that several capabilities share (below all of them: imports none)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import aws_cdk as cdk


def string_list(
    prop: str,
    values: Sequence[str],
    *,
    noun: str,
    max_items: int,
    if_empty: str,
    check: Callable[[str], None],
) -> list[str]:
    """``values`` as a list: a sequence of strings (a lone string is refused, not split into characters) of
    1 to ``max_items`` entries. ``check`` raises ``ValueError`` for a bad entry; unresolved tokens are skipped.

    :param prop: the prop's name, first word of every message.
    :param noun: what the entries are, plural (``"values"``, ``"domains"``): "at most 5 domains".
    :param if_empty: what to do instead of an empty list, in the message: ``use ["*"] to ...``.
    """
    if isinstance(values, str):
        raise ValueError(f"{prop} must be a list of strings, got the string {values!r}")
    result = list(values)
    if not result:
        raise ValueError(f"{prop} must not be empty ({if_empty})")
    if len(result) > max_items:
        raise ValueError(f"{prop} allows at most {max_items} {noun}, got {len(result)}")
    for value in result:
        if not cdk.Token.is_unresolved(value):
            check(value)
    return result
