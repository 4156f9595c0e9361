"""Condition operators, compiled once per condition into a predicate over the request context.

The context maps lower-case condition keys (keys are case-insensitive) to a tuple of values.
Semantics follow the IAM documentation; each rule names the page that states it:

* a key missing from the request makes a condition false, except for negated operators
  (``StringNotEquals``, ``ArnNotLike`` ...) and ``...IfExists`` operators, where it is true
  ([operators] "If the key that you specify in a policy condition is not present in the request
  context, the values do not match and the condition is false. If the policy condition requires
  that the key is not matched, such as StringNotLike or ArnNotLike, and the right key is not
  present, the condition is true"; "...IfExists ... If the key is not present, evaluate the
  condition element as true");
* ``ForAllValues``: true when every request value satisfies the operator, and when the key is
  missing or empty; ``ForAnyValue``: true when at least one does, and *false* when the key is
  missing — with or without ``IfExists`` ([multivalued] ForAnyValue: "For no matching context key
  or if the key does not exist, the condition returns false"; ForAllValues: "It also returns true
  if there are no context keys in the request"). The set operator decides the missing-key case;
  the re:Post thread "ForAnyValue:StringEqualsIfExists behaving unexpectedly" shows AWS doing so;
* ``Null``: ``true`` means the key must be absent, ``false`` that it must be present;
* policy variables (``${aws:PrincipalAccount}``) in values are replaced from the request context.
  A variable with no value makes that policy value "effectively null" ([variables], "Policy
  variables with no value"): it equals and is like nothing, so ``StringEquals``/``StringLike``
  do not match it, and "Inverted condition operators like StringNotEquals or StringNotLike do
  match against a null value" — the Deny in that page's example applies when the principal tag
  is not set. :func:`substitute` returns None for such a value and the caller drops it from the
  values compared, which gives exactly that: a dropped value is never equal, so a positive
  operator cannot match through it and a negated one is never prevented by it.

[operators]: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
[multivalued]: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html
[variables]: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html#policy-vars-no-value
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

from devops_blueprints.guardrails.model import Condition
from devops_blueprints.guardrails.wildcards import compile_any, compile_glob, has_wildcard

Context = Mapping[str, tuple[str, ...]]
Predicate = Callable[[Context], bool]
ValueTest = Callable[[str], bool]

NEGATED = frozenset(
    {
        "StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "NumericNotEquals",
        "DateNotEquals", "NotIpAddress", "ArnNotEquals", "ArnNotLike",
    }
)  # fmt: skip
_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_SPECIAL_VARIABLES = {"*": "*", "?": "?", "$": "$"}


def substitute(text: str, context: Context) -> str | None:
    """Replace ``${key}`` policy variables from ``context``; None when a variable has no value."""
    missing = False

    def replace(match: re.Match[str]) -> str:
        nonlocal missing
        name = match.group(1)
        if name in _SPECIAL_VARIABLES:
            return _SPECIAL_VARIABLES[name]
        name, _comma, default = name.partition(",")
        values = context.get(name.strip().lower())
        if values:
            return values[0]
        if _comma:
            return default.strip().strip("'")
        missing = True
        return ""

    result = _VARIABLE.sub(replace, text)
    return None if missing else result


def parse_number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def parse_date(text: str) -> float | None:
    """Seconds since the epoch for an ISO 8601 date/time or an epoch number."""
    number = parse_number(text)
    if number is not None:
        return number
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _compile_arn(patterns: Sequence[str]) -> ValueTest:
    """ARN patterns match segment by segment: a wildcard never crosses one of the first five colons
    (the six parts of pattern and value are matched pairwise, each in linear time)."""
    usable = [p for p in patterns if p.count(":") >= 5 or p == "*"]
    if "*" in usable:
        return lambda _v: True
    if not usable:
        return lambda _v: False
    # per pattern, the checks of its parts that are not "*": (index, literal or None, matcher)
    compiled = [
        tuple(
            (index, None if has_wildcard(part) else part, compile_glob(part).match)
            for index, part in enumerate(p.split(":", 5))
            if part != "*"
        )
        for p in usable
    ]

    def test(value: str) -> bool:
        parts = value.split(":", 5)
        if len(parts) != 6:
            return False
        for checks in compiled:
            for index, literal, match in checks:
                part = parts[index]
                if not (part == literal if literal is not None else match(part)):
                    break
            else:
                return True
        return False

    return test


def _compare(values: Sequence[str], parse: Callable[[str], float | None], op: str) -> ValueTest:
    numbers = [n for n in (parse(v) for v in values) if n is not None]
    compare: Callable[[float, float], bool] = {
        "Equals": float.__eq__,
        "NotEquals": float.__eq__,  # negated by the caller
        "LessThan": float.__lt__,
        "LessThanEquals": float.__le__,
        "GreaterThan": float.__gt__,
        "GreaterThanEquals": float.__ge__,
    }[op]

    def test(value: str) -> bool:
        parsed = parse(value)
        return parsed is not None and any(compare(parsed, n) for n in numbers)

    return test


def _ip_test(values: Sequence[str]) -> ValueTest:
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value, strict=False))
        except ValueError:
            continue

    def test(value: str) -> bool:
        try:
            address = ipaddress.ip_address(value.split("/")[0])
        except ValueError:
            return False
        return any(address in network for network in networks)

    return test


def value_test(base: str, values: Sequence[str]) -> ValueTest:
    """The positive test of one request value for ``base`` (negation is applied by the caller)."""
    if base in ("StringEquals", "StringNotEquals", "BinaryEquals"):
        exact = frozenset(values)
        return exact.__contains__
    if base in ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"):
        folded = frozenset(v.casefold() for v in values)
        return lambda value: value.casefold() in folded
    if base in ("StringLike", "StringNotLike"):
        return compile_any(values)
    if base.startswith("Numeric"):
        return _compare(values, parse_number, base.removeprefix("Numeric"))
    if base.startswith("Date"):
        return _compare(values, parse_date, base.removeprefix("Date"))
    if base == "Bool":
        wanted = frozenset(v.lower() for v in values)
        return lambda value: value.lower() in wanted
    if base in ("IpAddress", "NotIpAddress"):
        return _ip_test(values)
    if base in ("ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike"):
        return _compile_arn(values)
    raise ValueError(f"unsupported condition operator {base}")


def compile_condition(condition: Condition) -> Predicate:
    """A predicate over the request context for one ``operator: {key: values}`` entry."""
    operator = condition.operator
    key = condition.key.lower()
    base = operator.base
    if base == "Null":
        want_absent = {v.lower() for v in condition.values}

        def null_test(context: Context) -> bool:
            present = bool(context.get(key))
            return ("false" in want_absent and present) or ("true" in want_absent and not present)

        return null_test

    negated = base in NEGATED
    # the key is missing (or has no values): see the module docstring for the documented rules
    missing_result = operator.if_exists or (negated and operator.qualifier is None)
    if operator.qualifier == "ForAllValues":
        missing_result = True
    elif operator.qualifier == "ForAnyValue":
        missing_result = False  # IfExists does not change it ([multivalued])
    dynamic = any("${" in v for v in condition.values)
    static_test = None if dynamic else value_test(base, condition.values)
    qualifier = operator.qualifier

    def predicate(context: Context) -> bool:
        request_values = context.get(key)
        if not request_values:
            return missing_result
        test = static_test
        if test is None:
            resolved = [r for r in (substitute(v, context) for v in condition.values) if r is not None]
            test = value_test(base, resolved)
        if qualifier == "ForAllValues":
            return all(test(v) != negated for v in request_values)
        if qualifier == "ForAnyValue":
            return any(test(v) != negated for v in request_values)
        matched = any(test(v) for v in request_values)
        return matched != negated

    return predicate
