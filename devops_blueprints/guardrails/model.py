"""Policy model: parse (with line and column for bad JSON), validate the structure, minify, size.

An SCP's size is the number of characters of its minified JSON (all whitespace outside strings
removed), which is what AWS Organizations counts against the policy size quota.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devops_blueprints._json_input import JsonInputError, loads, read_text

VERSIONS = ("2012-10-17", "2008-10-17")
STATEMENT_KEYS = frozenset(
    {
        "Sid",
        "Effect",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Condition",
        "Principal",
        "NotPrincipal",
    }
)
BASE_OPERATORS = frozenset(
    {
        "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase",
        "StringLike", "StringNotLike",
        "NumericEquals", "NumericNotEquals", "NumericLessThan", "NumericLessThanEquals",
        "NumericGreaterThan", "NumericGreaterThanEquals",
        "DateEquals", "DateNotEquals", "DateLessThan", "DateLessThanEquals",
        "DateGreaterThan", "DateGreaterThanEquals",
        "Bool", "BinaryEquals", "IpAddress", "NotIpAddress",
        "ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike",
        "Null",
    }
)  # fmt: skip
SET_QUALIFIERS = ("ForAllValues", "ForAnyValue")
# An SCP is at most 10,240 characters minified (5,120 legacy); a file of 1 MiB leaves room for any
# indentation and --max-size a user would pass, and bounds what one bad path can make us read.
MAX_POLICY_FILE_BYTES = 1024 * 1024


class PolicyError(ValueError):
    """A policy that cannot be used: bad JSON or a bad structure. ``str()`` is one line."""


class PolicyParseError(PolicyError):
    """Text that is not JSON, or JSON beyond the reader's bounds (``line`` 0: no position)."""

    def __init__(self, source: str, message: str, line: int, column: int) -> None:
        where = f" at line {line}, column {column}" if line else ""
        super().__init__(f"{source}: invalid JSON{where}: {message}")
        self.source, self.reason, self.line, self.column = source, message, line, column


@dataclass(frozen=True)
class ConditionOperator:
    """``ForAnyValue:StringNotLikeIfExists`` -> qualifier ForAnyValue, base StringNotLike, if_exists."""

    text: str
    base: str
    qualifier: str | None
    if_exists: bool

    @classmethod
    def parse(cls, text: str) -> ConditionOperator | None:
        qualifier, colon, rest = text.partition(":")
        if not colon:
            qualifier, rest = "", text
        elif qualifier not in SET_QUALIFIERS:
            return None
        if_exists = rest.endswith("IfExists") and rest != "IfExists"
        base = rest[: -len("IfExists")] if if_exists else rest
        if base not in BASE_OPERATORS or (base == "Null" and (if_exists or qualifier)):
            return None
        return cls(text=text, base=base, qualifier=qualifier or None, if_exists=if_exists)


@dataclass(frozen=True)
class Condition:
    operator: ConditionOperator
    key: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Statement:
    index: int
    sid: str | None
    effect: str  # "Allow" | "Deny"
    actions: tuple[str, ...] | None
    not_actions: tuple[str, ...] | None
    resources: tuple[str, ...] | None
    not_resources: tuple[str, ...] | None
    conditions: tuple[Condition, ...]

    @property
    def label(self) -> str:
        """The Sid, or ``Statement[i]`` for a statement without one."""
        return self.sid or f"Statement[{self.index}]"


@dataclass(frozen=True)
class Policy:
    name: str
    document: Mapping[str, Any]
    statements: tuple[Statement, ...]

    def minified(self) -> str:
        return minify(self.document)

    @property
    def size(self) -> int:
        return policy_size(self.document)


def minify(document: Any) -> str:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def policy_size(document: Any) -> int:
    """Characters of the minified JSON (what the SCP size quota counts)."""
    return len(minify(document))


def parse_json(text: str, source: str = "<policy>") -> Any:
    """Parse within the bounds of :mod:`devops_blueprints._json_input` (nesting depth, integer digits, no
    NaN/Infinity, no lone surrogates): a policy beyond them is not one AWS would accept either."""
    try:
        return loads(text, source)
    except JsonInputError as exc:
        raise PolicyParseError(source, exc.reason, exc.line, exc.column) from None


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statement_label(raw: Any, index: int) -> str:
    if isinstance(raw, Mapping) and isinstance(raw.get("Sid"), str) and raw["Sid"]:
        return str(raw["Sid"])
    return f"Statement[{index}]"


def raw_statements(document: Any) -> list[Any]:
    if not isinstance(document, Mapping):
        return []
    statements = document.get("Statement")
    return _as_list(statements) if statements is not None else []


def _string_list(raw: Mapping[str, Any], key: str, label: str, problems: list[tuple[str | None, str]]) -> None:
    if key not in raw:
        return
    items = _as_list(raw[key])
    if not items or not all(isinstance(item, str) and item for item in items):
        problems.append((label, f"{key} must be a non-empty string or list of non-empty strings"))


def _condition_problems(condition: Any, label: str) -> list[tuple[str | None, str]]:
    if not isinstance(condition, Mapping) or not condition:
        return [(label, "Condition must be a non-empty object of operator -> {key: value(s)}")]
    problems: list[tuple[str | None, str]] = []
    for operator, block in condition.items():
        if ConditionOperator.parse(str(operator)) is None:
            problems.append((label, f"unknown condition operator {operator!r}"))
            continue
        if not isinstance(block, Mapping) or not block:
            problems.append((label, f"Condition {operator} must map condition keys to values"))
            continue
        for key, values in block.items():
            items = _as_list(values)
            if not items or not all(isinstance(v, str | bool | int | float) for v in items):
                problems.append((label, f"Condition {operator} {key}: values must be strings, numbers or booleans"))
    return problems


def structure_problems(document: Any) -> list[tuple[str | None, str]]:
    """Everything that makes ``document`` not a policy, as ``(statement label or None, message)``."""
    if not isinstance(document, Mapping):
        return [(None, f"a policy must be a JSON object, got {type(document).__name__}")]
    problems: list[tuple[str | None, str]] = []
    unknown = sorted(set(document) - {"Version", "Statement", "Id"})
    if unknown:
        problems.append((None, f"unknown top-level element(s) {', '.join(unknown)}; allowed: Version, Id, Statement"))
    version = document.get("Version")
    if version is not None and version not in VERSIONS:
        problems.append((None, f"Version must be one of {', '.join(VERSIONS)}, got {version!r}"))
    if "Statement" not in document:
        return [*problems, (None, "missing Statement")]
    statements = raw_statements(document)
    if not statements:
        problems.append((None, "Statement must be an object or a non-empty list of objects"))
    sids: set[str] = set()
    for index, raw in enumerate(statements):
        label = statement_label(raw, index)
        if not isinstance(raw, Mapping):
            problems.append((label, "a statement must be a JSON object"))
            continue
        extra = sorted(set(raw) - STATEMENT_KEYS)
        if extra:
            problems.append((label, f"unknown statement element(s) {', '.join(extra)}"))
        sid = raw.get("Sid")
        if sid is not None:
            if not isinstance(sid, str):
                problems.append((label, "Sid must be a string"))
            elif sid in sids:
                problems.append((label, f"duplicate Sid {sid!r}"))
            else:
                sids.add(sid)
        if raw.get("Effect") not in ("Allow", "Deny"):
            problems.append((label, f"Effect must be Allow or Deny, got {raw.get('Effect')!r}"))
        for first, second in (("Action", "NotAction"), ("Resource", "NotResource")):
            if (first in raw) == (second in raw):
                problems.append((label, f"a statement needs exactly one of {first} and {second}"))
            _string_list(raw, first, label, problems)
            _string_list(raw, second, label, problems)
        if "Condition" in raw:
            problems.extend(_condition_problems(raw["Condition"], label))
    return problems


def _strings(raw: Mapping[str, Any], key: str) -> tuple[str, ...] | None:
    return tuple(str(v) for v in _as_list(raw[key])) if key in raw else None


def _value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def policy_from_document(document: Any, name: str = "<policy>") -> Policy:
    """A validated :class:`Policy`; raises :class:`PolicyError` naming the first structural problem."""
    problems = structure_problems(document)
    if problems:
        label, message = problems[0]
        where = f"{name}#{label}" if label else name
        raise PolicyError(f"{where}: invalid policy structure: {message}")
    statements = []
    for index, raw in enumerate(raw_statements(document)):
        conditions = tuple(
            Condition(
                operator=ConditionOperator.parse(operator),  # type: ignore[arg-type]  # validated above
                key=str(key),
                values=tuple(_value_text(v) for v in _as_list(values)),
            )
            for operator, block in raw.get("Condition", {}).items()
            for key, values in block.items()
        )
        statements.append(
            Statement(
                index=index,
                sid=raw.get("Sid") or None,
                effect=raw["Effect"],
                actions=_strings(raw, "Action"),
                not_actions=_strings(raw, "NotAction"),
                resources=_strings(raw, "Resource"),
                not_resources=_strings(raw, "NotResource"),
                conditions=conditions,
            )
        )
    return Policy(name=name, document=document, statements=tuple(statements))


def parse_policy(text: str, name: str = "<policy>") -> Policy:
    return policy_from_document(parse_json(text, name), name)


def read_policy_file(path: Path) -> str:
    """The text of a policy file (UTF-8, at most :data:`MAX_POLICY_FILE_BYTES`); a missing, unreadable or
    oversized file is a one-line :class:`PolicyError`."""
    try:
        return read_text(path, str(path), max_bytes=MAX_POLICY_FILE_BYTES)
    except FileNotFoundError:
        raise PolicyError(f"{path}: no such policy file") from None
    except JsonInputError as exc:
        raise PolicyError(f"{path}: cannot read policy file: {exc.reason}") from None


def load_policy(path: str | Path) -> Policy:
    """Read and validate a policy file; every failure is a one-line :class:`PolicyError`."""
    path = Path(path)
    return parse_policy(read_policy_file(path), str(path))


FULL_AWS_ACCESS: Mapping[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


def full_aws_access() -> Policy:
    """AWS's default ``FullAWSAccess`` SCP."""
    return policy_from_document(FULL_AWS_ACCESS, "FullAWSAccess")


def names(policies: Sequence[Policy]) -> list[str]:
    return [p.name for p in policies]
