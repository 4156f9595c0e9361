"""SCP linter: findings with stable codes (see ARCHITECTURE.md section 4).

Codes: ``invalid-json`` (with line and column), ``invalid-structure``, ``principal-not-supported``,
``size-limit`` (size and limit reported), ``unknown-action``, ``arn-format``,
``condition-value-type`` (how a condition's operator, key and values fit together: a value that can
never parse for its operator is an error, because the simulator and AWS never match it, so the
statement quietly never applies; a single-valued operator on a multivalued key and ``IfExists`` on a
set operator are warnings). Action names and ARN formats come from the bundled IAM definitions
(:mod:`devops_blueprints.guardrails.iamdb`); the global ``aws:`` condition keys and their types come
from :mod:`devops_blueprints.guardrails.keys`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from devops_blueprints.guardrails.conditions import parse_date, parse_number
from devops_blueprints.guardrails.iamdb import database
from devops_blueprints.guardrails.keys import ACCOUNT_ID, key_type
from devops_blueprints.guardrails.model import (
    ConditionOperator,
    PolicyParseError,
    parse_json,
    policy_size,
    raw_statements,
    read_policy_file,
    statement_label,
    structure_problems,
)
from devops_blueprints.guardrails.wildcards import has_wildcard

ERROR = "error"
WARNING = "warning"
CODES = (
    "invalid-json",
    "invalid-structure",
    "principal-not-supported",
    "size-limit",
    "unknown-action",
    "arn-format",
    "condition-value-type",
)
PARTITIONS = frozenset({"aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f", "aws-eusc"})
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
_ACCOUNT = re.compile(r"^\d{12}$")
_ACCOUNT_PATTERN = re.compile(r"^[\d*?]{1,12}$")
_VARIABLE = re.compile(r"\$\{[^}]*\}")


@dataclass(frozen=True)
class Limits:
    """Organizations quotas the linter checks: SCP size in characters and SCPs per target."""

    max_size: int = 10_240
    max_policies_per_target: int = 10

    @classmethod
    def legacy(cls) -> Limits:
        """The quotas before AWS raised them (5,120 characters, 5 SCPs per target)."""
        return cls(max_size=5_120, max_policies_per_target=5)

    def __post_init__(self) -> None:
        if self.max_size < 1:
            raise ValueError(f"max_size must be a positive number of characters, got {self.max_size}")
        if self.max_policies_per_target < 1:
            raise ValueError(f"max_policies_per_target must be at least 1, got {self.max_policies_per_target}")


@dataclass(frozen=True)
class Finding:
    file: str
    code: str
    severity: str
    message: str
    statement: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        where = f"{self.file}#{self.statement}" if self.statement else self.file
        return f"{where}: {self.severity} {self.code}: {self.message}"


def has_errors(findings: Sequence[Finding]) -> bool:
    return any(f.severity == ERROR for f in findings)


def lint_file(path: str | Path, limits: Limits | None = None) -> list[Finding]:
    """Lint one policy file; an unreadable file raises a one-line :class:`PolicyError`."""
    path = Path(path)
    return lint_text(read_policy_file(path), str(path), limits)


def lint_text(text: str, file: str = "<policy>", limits: Limits | None = None) -> list[Finding]:
    try:
        document = parse_json(text, file)
    except PolicyParseError as exc:
        message = f"line {exc.line}, column {exc.column}: {exc.reason}" if exc.line else exc.reason
        return [Finding(file, "invalid-json", ERROR, message)]
    return lint_document(document, file, limits)


def lint_document(document: Any, file: str = "<policy>", limits: Limits | None = None) -> list[Finding]:
    """Every finding for an already-parsed policy document."""
    limits = limits or Limits()
    findings = [
        Finding(file, "invalid-structure", ERROR, message, label) for label, message in structure_problems(document)
    ]
    if not isinstance(document, Mapping):
        return findings
    if "Version" not in document:
        findings.append(
            Finding(
                file,
                "invalid-structure",
                WARNING,
                'no Version: policy variables need "Version": "2012-10-17"',
            )
        )
    size = policy_size(document)
    if size > limits.max_size:
        findings.append(
            Finding(
                file,
                "size-limit",
                ERROR,
                f"minified size {size:,} characters exceeds the limit of {limits.max_size:,} characters",
            )
        )
    for index, raw in enumerate(raw_statements(document)):
        if not isinstance(raw, Mapping):
            continue
        label = statement_label(raw, index)
        for key in ("Principal", "NotPrincipal"):
            if key in raw:
                message = f"{key} is not supported in a service control policy (SCPs apply to every principal)"
                findings.append(Finding(file, "principal-not-supported", ERROR, message, label))
        for key in ("Action", "NotAction"):
            for action in _strings(raw.get(key)):
                problem = _action_problem(action)
                if problem:
                    findings.append(Finding(file, "unknown-action", ERROR, f"{key} {action!r}: {problem}", label))
        for key in ("Resource", "NotResource"):
            for resource in _strings(raw.get(key)):
                problem, severity = _arn_problem(resource)
                if problem:
                    findings.append(Finding(file, "arn-format", severity, f"{key} {resource!r}: {problem}", label))
        condition = raw.get("Condition")
        if isinstance(condition, Mapping):
            for operator, block in condition.items():
                parsed = ConditionOperator.parse(str(operator))
                if parsed is None or not isinstance(block, Mapping):
                    continue
                for key, values in block.items():
                    for severity, problem in _condition_problems(parsed, str(key), _strings(values, keep_all=True)):
                        findings.append(Finding(file, "condition-value-type", severity, problem, label))
    return findings


def _strings(value: Any, *, keep_all: bool = False) -> list[str]:
    items = value if isinstance(value, list) else [value] if value is not None else []
    if keep_all:
        return [("true" if v else "false") if isinstance(v, bool) else str(v) for v in items]
    return [v for v in items if isinstance(v, str) and v]


def _action_problem(action: str) -> str | None:
    if action == "*":
        return None
    service, colon, name = action.partition(":")
    if not colon or not service or not name:
        return "expected service:Action (for example ec2:RunInstances)"
    db = database()
    if not has_wildcard(service) and not db.is_service(service):
        return f"unknown service prefix {service!r}"
    if not db.action_exists(action):
        return f"no {service} action matches {name!r}"
    return None


def _arn_problem(resource: str) -> tuple[str | None, str]:
    if resource == "*":
        return None, ERROR
    arn = _VARIABLE.sub("*", resource)
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return "expected an ARN arn:partition:service:region:account:resource or *", ERROR
    _arn, partition, service, region, account, rest = parts
    if not has_wildcard(partition) and partition not in PARTITIONS:
        return f"unknown partition {partition!r}", ERROR
    if not has_wildcard(region) and region and not _REGION.match(region):
        return f"region {region!r} is not a region name", ERROR
    if not has_wildcard(account) and account and account != "aws" and not _ACCOUNT.match(account):
        return f"account {account!r} is not a 12-digit account ID", ERROR
    if has_wildcard(service):
        return None, ERROR
    templates = database().arn_templates.get(service)
    if not templates:
        return f"no known ARN format for service {service!r}", WARNING
    literal = re.split(r"[*?]", rest, maxsplit=1)[0]
    candidates = [
        t for t in templates if literal.startswith(t.resource_prefix) or t.resource_prefix.startswith(literal)
    ]
    if not candidates:
        known = ", ".join(sorted({t.arn for t in templates})[:4])
        return f"resource {rest!r} matches no {service} resource type (formats: {known})", ERROR
    for segment, name, needed in (
        (region, "region", "region_required"),
        (account, "account", "account_required"),
    ):
        if has_wildcard(segment):
            continue
        if segment == "" and all(getattr(t, needed) for t in candidates):
            example = candidates[0]
            return (
                f"empty {name} never matches a {service} {example.resource_type} ARN ({example.arn}); "
                f"use * or a {name}",
                ERROR,
            )
        if segment and not any(getattr(t, needed) for t in candidates):
            example = candidates[0]
            return f"{service} {example.resource_type} ARNs have no {name} ({example.arn})", ERROR
    return None, ERROR


_FAMILY_TYPES = {
    "Arn": {"ARN", "ArrayOfARN"},
    "Numeric": {"Numeric", "ArrayOfNumeric"},
    "Date": {"Date", "ArrayOfDate", "Numeric"},
    "Bool": {"Bool", "ArrayOfBool"},
    "IpAddress": {"IPAddress", "ArrayOfIPAddress"},
    "NotIpAddress": {"IPAddress", "ArrayOfIPAddress"},
}


def _family(base: str) -> str:
    for family in ("Arn", "Numeric", "Date", "Bool", "String", "Binary"):
        if base.startswith(family):
            return family
    return base


def _value_problem(family: str, kind: str | None, key: str, value: str, like: bool) -> str | None:
    if "${" in value:
        return None
    if kind == ACCOUNT_ID and family in ("String", "Arn"):
        ok = _ACCOUNT_PATTERN.match(value) if like else _ACCOUNT.match(value)
        if not ok:
            hint = (
                " (an ARN never equals an account ID; compare aws:PrincipalArn instead)"
                if value.startswith("arn:")
                else ""
            )
            return f"{key} holds a 12-digit account ID, {value!r} is not one{hint}"
    elif (kind in ("ARN", "ArrayOfARN") or family == "Arn") and (
        value != "*" and (not value.startswith("arn:") or value.count(":") < 5)
    ):
        return f"{key} is compared as an ARN, {value!r} is not an ARN"
    if family == "Bool" and value.lower() not in ("true", "false"):
        return f"Bool values are true or false, got {value!r}"
    if family == "Numeric" and parse_number(value) is None:
        return f"{key} is compared as a number, {value!r} is not a number"
    if family == "Date" and parse_date(value) is None:
        return f"{key} is compared as a date, {value!r} is not an ISO 8601 date or epoch time"
    if family in ("IpAddress", "NotIpAddress") and not _is_network(value):
        return f"{key} is compared as an IP address, {value!r} is not an IPv4 or IPv6 address or CIDR block"
    if key.lower() == "aws:requestedregion" and not has_wildcard(value) and not _REGION.match(value):
        return f"aws:RequestedRegion values are region names, {value!r} is not one"
    return None


def _is_network(value: str) -> bool:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return True


# Multivalued keys and set operators, from the IAM user guide's "Single-valued vs. multivalued context
# keys" page (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html):
# "Multivalued context keys require a condition set operator"; their type carries the ArrayOf prefix.
# ForAllValues "also returns true if there are no context keys in the request"; ForAnyValue: "if the key
# does not exist, the condition returns false" -- neither result depends on an IfExists suffix.
def _set_operator_problems(operator: ConditionOperator, key: str, kind: str | None) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if operator.qualifier is None and kind is not None and kind.startswith("ArrayOf"):
        problems.append(
            (
                WARNING,
                f"{operator.text} on {key}, a multivalued key ({kind}), needs a set operator: "
                f"ForAnyValue:{operator.text} (true when any request value matches) or "
                f"ForAllValues:{operator.text} (true when every request value matches)",
            )
        )
    if operator.qualifier is not None and operator.if_exists:
        outcome = "true" if operator.qualifier == "ForAllValues" else "false"
        problems.append(
            (
                WARNING,
                f"{operator.text}: IfExists changes nothing with {operator.qualifier}; when {key} is missing "
                f"the condition is {outcome} (as {operator.qualifier}:{operator.base} is); drop IfExists, "
                f"or add a Null condition to decide the missing-key case explicitly",
            )
        )
    return problems


def _condition_problems(operator: ConditionOperator, key: str, values: list[str]) -> list[tuple[str, str]]:
    base = operator.base
    if base == "Null":
        bad = [v for v in values if v.lower() not in ("true", "false")]
        return [(ERROR, f"Null takes true or false, got {v!r}") for v in bad]
    kind = key_type(key) or database().condition_type(key)
    family = _family(base)
    problems = _set_operator_problems(operator, key, kind)
    allowed_types = _FAMILY_TYPES.get(family) or _FAMILY_TYPES.get(base)
    if kind is not None and allowed_types is not None and kind not in allowed_types:
        problems.append((ERROR, f"{operator.text} cannot compare {key}, whose values are of type {kind}"))
    like = base.endswith("Like")
    for value in values:
        problem = _value_problem(family, kind, key, value, like)
        if problem:
            problems.append((ERROR, f"{operator.text}: {problem}"))
    return problems


def check_attachments(attachments: Mapping[str, Sequence[str]], limits: Limits | None = None) -> list[str]:
    """One message per target (root, OU or account) with more SCPs attached than the quota allows."""
    limits = limits or Limits()
    return [
        f"{target} has {len(policies)} SCPs attached ({', '.join(policies)}); "
        f"the limit is {limits.max_policies_per_target} per target"
        for target, policies in attachments.items()
        if len(policies) > limits.max_policies_per_target
    ]
