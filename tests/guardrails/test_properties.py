"""Property tests (hypothesis): minification never changes a decision; the compiled evaluation agrees
with the reference one; IAM wildcard matching agrees with a reference glob (fnmatchcase) and its work
is bounded by the lengths of pattern and value (counted steps, no clocks)."""

from __future__ import annotations

import json
import re
from fnmatch import fnmatchcase
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from devops_blueprints.guardrails import Request, Simulator, catalog, full_aws_access, parse_policy, reference_evaluate
from devops_blueprints.guardrails.wildcards import compile_any, compile_glob, glob_match, glob_match_slow, match_steps

ACTIONS = [
    "s3:GetObject",
    "s3:PutObject",
    "ec2:RunInstances",
    "iam:CreateRole",
    "iam:PassRole",
    "ce:GetAnomalies",
]
ACTION_PATTERNS = [*ACTIONS, "s3:*", "*", "ec2:Run*", "iam:*Role", "*:Get*", "s3:?etObject"]
RESOURCES = ["*", "arn:aws:s3:::bucket/key", "arn:aws:s3:::other/key", "arn:aws:iam::111122223333:role/Dev"]
RESOURCE_PATTERNS = [*RESOURCES, "arn:aws:s3:::bucket/*", "arn:aws:iam::*:role/*", "arn:aws:s3:::*/key"]
REGIONS = ["eu-west-1", "ap-south-1", "us-east-1"]
PRINCIPALS = [None, "arn:aws:iam::111122223333:role/Dev", "arn:aws:iam::444455556666:role/Admin"]

conditions = st.one_of(
    st.builds(
        lambda r: {"StringNotEquals": {"aws:RequestedRegion": r}},
        st.lists(st.sampled_from(REGIONS), min_size=1),
    ),
    st.builds(lambda r: {"StringEqualsIfExists": {"AWS:requestedregion": r}}, st.sampled_from(REGIONS)),
    st.builds(
        lambda p: {"ArnNotLike": {"aws:PrincipalArn": p}},
        st.sampled_from(["arn:aws:iam::*:role/Admin", "arn:aws:iam::*:role/*"]),
    ),
    st.builds(
        lambda a: {"StringEquals": {"aws:PrincipalAccount": a}},
        st.sampled_from(["111122223333", "444455556666"]),
    ),
    st.builds(lambda v: {"Null": {"aws:PrincipalArn": v}}, st.sampled_from(["true", "false"])),
    st.builds(
        lambda k: {"ForAnyValue:StringLike": {"aws:TagKeys": k}},
        st.lists(st.sampled_from(["team*", "cost", "?x"]), min_size=1),
    ),
)


@st.composite
def statements(draw: st.DrawFn) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": draw(st.sampled_from(["Allow", "Deny"]))}
    action_key = draw(st.sampled_from(["Action", "NotAction"]))
    statement[action_key] = draw(st.lists(st.sampled_from(ACTION_PATTERNS), min_size=1, max_size=3))
    resource_key = draw(st.sampled_from(["Resource", "NotResource"]))
    statement[resource_key] = draw(st.sampled_from(RESOURCE_PATTERNS))
    if draw(st.booleans()):
        statement["Condition"] = draw(conditions)
    return statement


@st.composite
def requests(draw: st.DrawFn) -> Request:
    context = {"aws:TagKeys": draw(st.lists(st.sampled_from(["team-a", "cost", "xx", "ax"]), max_size=2))}
    return Request(
        action=draw(st.sampled_from(ACTIONS)),
        resource=draw(st.sampled_from(RESOURCES)),
        principal_arn=draw(st.sampled_from(PRINCIPALS)),
        region=draw(st.sampled_from([None, *REGIONS])),
        context=context,
    )


policies = st.builds(
    lambda s: {"Version": "2012-10-17", "Statement": s}, st.lists(statements(), min_size=1, max_size=4)
)


@settings(max_examples=150, deadline=None)
@given(document=policies, indent=st.sampled_from([None, 1, 4, "\t"]), request=requests())
def test_minification_never_changes_the_decision(document: dict[str, Any], indent: Any, request: Request) -> None:
    pretty = parse_policy(json.dumps(document, indent=indent), "p.json")
    minified = parse_policy(pretty.minified(), "p.json")
    assert len(pretty.minified()) == pretty.size
    for levels in ([[full_aws_access(), pretty]], [[pretty]]):
        expected = Simulator(levels).evaluate(request)
        assert (
            Simulator([[full_aws_access(), minified]] if len(levels[0]) == 2 else [[minified]]).evaluate(request)
            == expected
        )
        assert reference_evaluate(levels, request) == expected


def escaped(pattern: str) -> str:
    """An IAM wildcard pattern as an fnmatch pattern: only '[' is special to fnmatch and not to IAM."""
    return re.sub(r"\[", "[[]", pattern)


patterns = st.text(alphabet=st.sampled_from(list("ab:*?[]/-.\\^$")), max_size=12)
values = st.text(alphabet=st.sampled_from(list("ab:[]/-.\\^$\n")), max_size=12)


@settings(max_examples=500, deadline=None)
@given(pattern=patterns, value=values)
def test_wildcard_matching_agrees_with_fnmatchcase(pattern: str, value: str) -> None:
    expected = fnmatchcase(value, escaped(pattern))
    assert glob_match(pattern, value) == expected
    assert glob_match_slow(pattern, value) == expected
    assert compile_glob(pattern)(value) == expected
    assert compile_any([pattern, "zz"])(value) == (expected or value == "zz")


@settings(max_examples=200, deadline=None)
@given(pattern=patterns, value=values)
def test_ignore_case_matching_agrees_with_lowered_fnmatchcase(pattern: str, value: str) -> None:
    expected = fnmatchcase(value.lower(), escaped(pattern.lower()))
    assert glob_match(pattern.upper(), value, ignore_case=True) == expected


# Adversarial patterns: many stars between repeated characters, '?' runs, and values that almost match
# (the shapes that make a backtracking matcher exponential or quadratic).
adversarial_patterns = st.one_of(
    st.text(alphabet=st.sampled_from(list("a*?b")), max_size=60),
    st.builds(
        lambda unit, count, tail: unit * count + tail,
        st.sampled_from(["*a", "a*", "*a?", "*?a", "*aa*", "**a", "*ab"]),
        st.integers(min_value=1, max_value=40),
        st.sampled_from(["", "b", "*b", "?b", "a*b", "*"]),
    ),
)
adversarial_values = st.one_of(
    st.text(alphabet=st.sampled_from(list("ab")), max_size=120),
    st.builds(lambda n, tail: "a" * n + tail, st.integers(min_value=0, max_value=120), st.sampled_from(["", "b", "c"])),
)


@settings(max_examples=400, deadline=None)
@given(pattern=adversarial_patterns, value=adversarial_values)
def test_matching_work_is_linear_in_pattern_and_value(pattern: str, value: str) -> None:
    matched, steps = match_steps(pattern, value)
    assert steps <= len(pattern) + len(value) + 1
    assert matched == fnmatchcase(value, escaped(pattern)) == glob_match_slow(pattern, value)
    assert compile_glob(pattern)(value) == matched  # the fast paths answer as the counted algorithm
    prefixed = "arn:aws:s3:::" + pattern
    assert compile_any([prefixed, "arn:aws:s3:::x*"])("arn:aws:s3:::" + value) == (matched or value.startswith("x"))


CATALOG_PATHS = {ou: catalog.path(ou) for ou in ("Workloads", "Sandbox", "Security")}
CATALOG_SIMULATORS = {ou: Simulator(levels) for ou, levels in CATALOG_PATHS.items()}
CATALOG_ACTIONS = sorted(
    {a for p in catalog.CATALOG.values() for s in p.render()["Statement"] for a in s.get("Action", []) if "*" not in a}
    | set(ACTIONS)
)
CATALOG_RESOURCES = [
    *RESOURCES,
    "arn:aws:cloudwatch:eu-west-1:111122223333:alarm:Admin-x",
    "arn:aws:secretsmanager:eu-west-1:111122223333:secret:admin-db",
]
CATALOG_PRINCIPALS = [*PRINCIPALS, "arn:aws:iam::111122223333:role/Admin-Role", "arn:aws:iam::1:role/FinOps-Role"]


@settings(max_examples=300, deadline=None)
@given(
    ou=st.sampled_from(sorted(CATALOG_PATHS)),
    action=st.sampled_from(CATALOG_ACTIONS),
    resource=st.sampled_from(CATALOG_RESOURCES),
    principal=st.sampled_from(CATALOG_PRINCIPALS),
    region=st.sampled_from([None, *REGIONS]),
)
def test_compiled_simulator_agrees_with_reference_on_the_catalog(
    ou: str, action: str, resource: str, principal: str | None, region: str | None
) -> None:
    request = Request(action, resource, principal, region)
    assert CATALOG_SIMULATORS[ou].evaluate(request) == reference_evaluate(CATALOG_PATHS[ou], request)
