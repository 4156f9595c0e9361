"""Simulator semantics: levels, explicit deny, NotAction/NotResource, wildcards, condition operators."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from devops_blueprints.guardrails import (
    Level,
    PolicyError,
    Request,
    Simulator,
    full_aws_access,
    policy_from_document,
    reference_evaluate,
)

ROLE = "arn:aws:iam::111122223333:role/Dev"
ARTICLE = Path(__file__).parent / "data" / "article"


def pol(name: str, *statements: dict[str, Any]) -> Any:
    return policy_from_document({"Version": "2012-10-17", "Statement": list(statements)}, name)


def deny_when(condition: dict[str, Any], action: str = "s3:GetObject") -> Any:
    return pol("c.json", {"Sid": "C", "Effect": "Deny", "Action": action, "Resource": "*", "Condition": condition})


def decision(policy: Any, request: Request) -> str:
    levels = [[full_aws_access(), policy]]
    result = Simulator(levels).evaluate(request)
    assert result == reference_evaluate(levels, request)  # compiled and reference evaluation agree
    return result.decision


def test_every_level_must_allow() -> None:
    allow_s3 = pol("allow-s3.json", {"Effect": "Allow", "Action": "s3:*", "Resource": "*"})
    levels = [
        Level("Root", (full_aws_access(),)),
        Level("Workloads", (allow_s3,)),
        Level("111122223333", (full_aws_access(),)),
    ]
    simulator = Simulator(levels)
    assert simulator.evaluate(Request("s3:GetObject")).allowed
    denied = simulator.evaluate(Request("ec2:RunInstances"))
    assert (denied.decision, denied.matched) == ("DENIED", ())
    assert denied.reason == "no SCP attached at Workloads allows the request"


def test_explicit_deny_wins_at_any_level_and_all_matches_are_reported() -> None:
    deny_root = pol("root.json", {"Sid": "NoEc2", "Effect": "Deny", "Action": "ec2:*", "Resource": "*"})
    deny_ou = pol("ou.json", {"Effect": "Deny", "Action": "ec2:Run*", "Resource": "*"})
    allow = pol("allow.json", {"Effect": "Allow", "Action": "ec2:RunInstances", "Resource": "*"})
    levels = [[full_aws_access(), deny_root], [allow, deny_ou]]
    result = Simulator(levels).evaluate(Request("ec2:RunInstances"))
    assert result.decision == "DENIED"
    assert result.matched == (("root.json", "NoEc2"), ("ou.json", "Statement[0]"))


def test_actions_are_case_insensitive_and_wildcards_work_anywhere() -> None:
    policy = pol(
        "w.json",
        {"Sid": "W", "Effect": "Deny", "Action": ["*:Delete*Policy", "s3:Get?bject"], "Resource": "*"},
    )
    assert decision(policy, Request("IAM:deleteRolePolicy")) == "DENIED"
    assert decision(policy, Request("s3:GetObject")) == "DENIED"
    assert decision(policy, Request("s3:GetObjectAcl")) == "ALLOWED"
    assert decision(policy, Request("iam:DeleteRole")) == "ALLOWED"


def test_resources_are_case_sensitive_and_not_resource_inverts() -> None:
    only = pol("r.json", {"Sid": "R", "Effect": "Deny", "Action": "s3:*", "NotResource": "arn:aws:s3:::public/*"})
    assert decision(only, Request("s3:GetObject", "arn:aws:s3:::private/key")) == "DENIED"
    assert decision(only, Request("s3:GetObject", "arn:aws:s3:::public/key")) == "ALLOWED"
    assert decision(only, Request("s3:GetObject", "arn:aws:s3:::PUBLIC/key")) == "DENIED"


def test_default_resource_star_does_not_match_specific_arns() -> None:
    policy = pol("r.json", {"Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*"})
    assert decision(policy, Request("s3:ListAllMyBuckets")) == "ALLOWED"


def test_policy_variables_in_resources() -> None:
    policy = pol(
        "v.json",
        {"Effect": "Deny", "Action": "iam:*", "NotResource": "arn:aws:iam::${aws:PrincipalAccount}:*"},
    )
    assert decision(policy, Request("iam:GetRole", "arn:aws:iam::111122223333:role/x", ROLE)) == "ALLOWED"
    assert decision(policy, Request("iam:GetRole", "arn:aws:iam::999988887777:role/x", ROLE)) == "DENIED"


@pytest.mark.parametrize(
    ("condition", "context", "expected"),
    [
        ({"StringEquals": {"aws:PrincipalTag/Team": "red"}}, {"aws:principaltag/team": "red"}, "DENIED"),
        ({"StringEquals": {"aws:PrincipalTag/Team": "red"}}, {"aws:PrincipalTag/Team": "Red"}, "ALLOWED"),
        (
            {"StringEqualsIgnoreCase": {"aws:PrincipalTag/Team": "red"}},
            {"aws:PrincipalTag/Team": "RED"},
            "DENIED",
        ),
        (
            {"StringNotEqualsIgnoreCase": {"aws:PrincipalTag/Team": "red"}},
            {"aws:PrincipalTag/Team": "RED"},
            "ALLOWED",
        ),
        ({"StringLike": {"s3:prefix": "home/*"}}, {"s3:prefix": "home/alice"}, "DENIED"),
        ({"StringNotLike": {"s3:prefix": "home/*"}}, {"s3:prefix": "tmp/x"}, "DENIED"),
        # missing key: positive operators false, negated operators true, IfExists true
        ({"StringEquals": {"aws:PrincipalTag/Team": "red"}}, {}, "ALLOWED"),
        ({"StringNotEquals": {"aws:PrincipalTag/Team": "red"}}, {}, "DENIED"),
        ({"StringEqualsIfExists": {"aws:PrincipalTag/Team": "red"}}, {}, "DENIED"),
        (
            {"StringNotEqualsIfExists": {"aws:PrincipalTag/Team": "red"}},
            {"aws:PrincipalTag/Team": "red"},
            "ALLOWED",
        ),
        (
            {"NumericGreaterThan": {"aws:MultiFactorAuthAge": "3600"}},
            {"aws:MultiFactorAuthAge": "7200"},
            "DENIED",
        ),
        (
            {"NumericGreaterThan": {"aws:MultiFactorAuthAge": "3600"}},
            {"aws:MultiFactorAuthAge": "60"},
            "ALLOWED",
        ),
        ({"NumericLessThanEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "10"}, "DENIED"),
        ({"NumericNotEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "abc"}, "DENIED"),
        (
            {"DateGreaterThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}},
            {"aws:CurrentTime": "2031-06-01T12:00:00Z"},
            "DENIED",
        ),
        (
            {"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}},
            {"aws:CurrentTime": "2031-06-01T12:00:00+02:00"},
            "ALLOWED",
        ),
        (
            {"DateEquals": {"aws:EpochTime": "1893456000"}},
            {"aws:EpochTime": "2030-01-01T00:00:00Z"},
            "DENIED",
        ),
        ({"Bool": {"aws:SecureTransport": "false"}}, {"aws:SecureTransport": "False"}, "DENIED"),
        ({"Bool": {"aws:SecureTransport": False}}, {"aws:SecureTransport": "true"}, "ALLOWED"),
        ({"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}, {}, "DENIED"),
        ({"Null": {"aws:PrincipalTag/Team": "true"}}, {}, "DENIED"),
        ({"Null": {"aws:PrincipalTag/Team": "true"}}, {"aws:PrincipalTag/Team": "red"}, "ALLOWED"),
        ({"Null": {"aws:PrincipalTag/Team": "false"}}, {"aws:PrincipalTag/Team": "red"}, "DENIED"),
        ({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {"aws:SourceIp": "203.0.113.9"}, "DENIED"),
        (
            {"NotIpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:db8::/32"]}},
            {"aws:SourceIp": "2001:db8::1"},
            "ALLOWED",
        ),
        (
            {"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:*:alerts"}},
            {"aws:SourceArn": "arn:aws:sns:eu-west-1:111122223333:alerts"},
            "DENIED",
        ),
        # ARN wildcards do not cross the first five colons
        (
            {"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:alerts"}},
            {"aws:SourceArn": "arn:aws:sns:eu-west-1:111122223333:alerts"},
            "ALLOWED",
        ),
        (
            {"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/Admin"}},
            {"aws:PrincipalArn": ROLE},
            "DENIED",
        ),
        (
            {"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::*:role/Dev"}},
            {"aws:PrincipalArn": ROLE},
            "DENIED",
        ),
        # set operators
        ({"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}}, {"aws:TagKeys": ["a", "b"]}, "DENIED"),
        ({"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}}, {"aws:TagKeys": ["a", "c"]}, "ALLOWED"),
        ({"ForAllValues:StringEquals": {"aws:TagKeys": ["a"]}}, {}, "DENIED"),
        ({"ForAnyValue:StringEquals": {"aws:TagKeys": ["a"]}}, {"aws:TagKeys": ["c", "a"]}, "DENIED"),
        ({"ForAnyValue:StringEquals": {"aws:TagKeys": ["a"]}}, {}, "ALLOWED"),
        (
            {"ForAnyValue:StringNotLike": {"aws:TagKeys": ["team*"]}},
            {"aws:TagKeys": ["team-x", "cost"]},
            "DENIED",
        ),
        (
            {"ForAllValues:StringNotLike": {"aws:TagKeys": ["team*"]}},
            {"aws:TagKeys": ["team-x", "cost"]},
            "ALLOWED",
        ),
        # ForAnyValue is false for a missing key, IfExists or not (issue 12, defect 1)
        ({"ForAnyValue:StringLikeIfExists": {"aws:TagKeys": ["x"]}}, {}, "ALLOWED"),
        # policy variable in a condition value
        (
            {"StringNotEquals": {"s3:prefix": "home/${aws:username}/"}},
            {"aws:username": "bob", "s3:prefix": "home/bob/"},
            "ALLOWED",
        ),
        (
            {"StringNotEquals": {"s3:prefix": "home/${aws:username}/"}},
            {"aws:username": "bob", "s3:prefix": "home/eve/"},
            "DENIED",
        ),
    ],
)
def test_condition_operators(condition: dict[str, Any], context: dict[str, Any], expected: str) -> None:
    assert decision(deny_when(condition), Request("s3:GetObject", context=context)) == expected


def test_all_condition_blocks_must_hold() -> None:
    policy = deny_when({"StringEquals": {"aws:RequestedRegion": "eu-west-1"}, "Bool": {"aws:SecureTransport": "false"}})
    assert (
        decision(policy, Request("s3:GetObject", region="eu-west-1", context={"aws:SecureTransport": "false"}))
        == "DENIED"
    )
    assert (
        decision(policy, Request("s3:GetObject", region="eu-west-1", context={"aws:SecureTransport": "true"}))
        == "ALLOWED"
    )


def test_principal_arn_sets_principal_account() -> None:
    policy = deny_when({"StringEquals": {"aws:PrincipalAccount": "111122223333"}})
    assert decision(policy, Request("s3:GetObject", principal_arn=ROLE)) == "DENIED"
    other = "arn:aws:sts::999988887777:assumed-role/Dev/session"
    assert decision(policy, Request("s3:GetObject", principal_arn=other)) == "ALLOWED"


def test_structure_errors_name_the_policy_and_statement() -> None:
    with pytest.raises(PolicyError, match=r"^bad\.json#X: invalid policy structure: Effect must be Allow or Deny"):
        policy_from_document(
            {"Statement": [{"Sid": "X", "Effect": "deny", "Action": "*", "Resource": "*"}]}, "bad.json"
        )


def test_a_path_needs_a_level() -> None:
    with pytest.raises(ValueError, match="at least one level"):
        Simulator([])


def test_role_session_principal_is_matched_as_its_role() -> None:
    policy = deny_when({"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/Admin"}})
    session = "arn:aws:sts::111122223333:assumed-role/Admin/alice"
    assert decision(policy, Request("s3:GetObject", principal_arn=session)) == "ALLOWED"
    other = "arn:aws:sts::111122223333:assumed-role/Dev/alice"
    assert decision(policy, Request("s3:GetObject", principal_arn=other)) == "DENIED"


# -- issue 12 -------------------------------------------------------------------------------------
# Defect 1: ForAnyValue:...IfExists with the key absent. The multivalued context keys page:
# ForAnyValue "For no matching context key or if the key does not exist, the condition returns false"
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html


@pytest.mark.parametrize(
    ("tags", "expected"),
    [((), "ALLOWED"), (("owner",), "ALLOWED"), (("team",), "DENIED"), (("owner", "team"), "DENIED")],
)
def test_for_any_value_if_exists_is_false_when_the_key_is_missing(tags: tuple[str, ...], expected: str) -> None:
    policy = deny_when({"ForAnyValue:StringNotEqualsIfExists": {"aws:TagKeys": ["owner"]}}, "ec2:CreateTags")
    context = {"aws:TagKeys": list(tags)} if tags else {}
    assert decision(policy, Request("ec2:CreateTags", context=context)) == expected


def test_for_all_values_if_exists_is_true_when_the_key_is_missing() -> None:
    policy = deny_when({"ForAllValues:StringNotEqualsIfExists": {"aws:TagKeys": ["owner"]}}, "ec2:CreateTags")
    assert decision(policy, Request("ec2:CreateTags")) == "DENIED"
    assert decision(policy, Request("ec2:CreateTags", context={"aws:TagKeys": ["owner"]})) == "ALLOWED"


def test_articles_cost_anomaly_policy_without_the_key_does_not_deny() -> None:
    document = json.loads((ARTICLE / "cost-anomaly.json").read_text(encoding="utf-8"))
    policy = policy_from_document(document, "cost-anomaly.json")
    # no principal: aws:PrincipalAccount is absent, and ForAnyValue:StringNotLikeIfExists is false
    assert decision(policy, Request("ce:UpdateAnomalyMonitor")) == "ALLOWED"
    # with a principal the published defect shows: an account ID is never like an ARN
    assert decision(policy, Request("ce:UpdateAnomalyMonitor", principal_arn=ROLE)) == "DENIED"


# Defect 2 (as reported) vs the documentation. "Policy variables with no value":
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html#policy-vars-no-value
# "When you use a variable with no value in the condition element of an IAM policy, condition operators
# like StringEquals or StringLike do not match ... Inverted condition operators like StringNotEquals or
# StringNotLike do match against a null value" and, in the page's example (a Deny with StringNotEquals
# s3:ExistingObjectTag/Team vs ${aws:PrincipalTag/Team}), "Access is explicitly denied when
# aws:principaltag/Team is not set". And: "If a variable that has no value in the authorization context
# is used as part of the Resource or NotResource element of a policy, the resource that includes a policy
# variable with no value will not match any resource."
OBJECT = "arn:aws:s3:::amzn-s3-demo-bucket/report.csv"


def test_documented_example_negated_operator_matches_a_variable_with_no_value() -> None:
    policy = pol(
        "team.json",
        {
            "Sid": "Team",
            "Effect": "Deny",
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::amzn-s3-demo-bucket/*",
            "Condition": {"StringNotEquals": {"s3:ExistingObjectTag/Team": "${aws:PrincipalTag/Team}"}},
        },
    )
    tagged = {"s3:ExistingObjectTag/Team": "red"}
    assert decision(policy, Request("s3:GetObject", OBJECT, context=tagged)) == "DENIED"  # tag not set
    same = {**tagged, "aws:PrincipalTag/Team": "red"}
    assert decision(policy, Request("s3:GetObject", OBJECT, context=same)) == "ALLOWED"
    other = {**tagged, "aws:PrincipalTag/Team": "blue"}
    assert decision(policy, Request("s3:GetObject", OBJECT, context=other)) == "DENIED"


@pytest.mark.parametrize(
    ("operator", "expected"),
    [
        ("StringEquals", "ALLOWED"),
        ("StringLike", "ALLOWED"),
        ("StringNotEquals", "DENIED"),
        ("StringNotLike", "DENIED"),
    ],
)
def test_variable_with_no_value_in_a_condition(operator: str, expected: str) -> None:
    policy = deny_when({operator: {"aws:ResourceTag/owner": "${aws:PrincipalTag/owner}"}})
    assert decision(policy, Request("s3:GetObject", context={"aws:ResourceTag/owner": "bob"})) == expected


def test_variable_with_no_value_in_resource_and_not_resource_matches_no_resource() -> None:
    resource = pol(
        "r.json", {"Sid": "R", "Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::${aws:username}/*"}
    )
    not_resource = pol(
        "n.json", {"Sid": "N", "Effect": "Deny", "Action": "s3:*", "NotResource": "arn:aws:s3:::${aws:username}/*"}
    )
    own = "arn:aws:s3:::bob/key"
    # the entry matches no resource: Resource applies to nothing, NotResource excludes nothing
    assert decision(resource, Request("s3:GetObject", own)) == "ALLOWED"
    assert decision(not_resource, Request("s3:GetObject", own)) == "DENIED"
    bob = {"aws:username": "bob"}
    assert decision(resource, Request("s3:GetObject", own, context=bob)) == "DENIED"
    assert decision(not_resource, Request("s3:GetObject", own, context=bob)) == "ALLOWED"


# Defect 3: matching is linear: the patterns that hung the regex translation answer at once.
def test_adversarial_wildcards_in_resource_and_string_like_answer() -> None:
    pattern = "arn:aws:s3:::" + "*a" * 30 + "*b"
    key = "arn:aws:s3:::" + "a" * 40
    policy = pol("slow.json", {"Sid": "S", "Effect": "Deny", "Action": "s3:*", "Resource": pattern})
    assert decision(policy, Request("s3:GetObject", key)) == "ALLOWED"
    assert decision(policy, Request("s3:GetObject", key + "b")) == "DENIED"
    like = deny_when({"StringLike": {"s3:prefix": "*a" * 30 + "*b"}})
    assert decision(like, Request("s3:GetObject", context={"s3:prefix": "a" * 40})) == "ALLOWED"
    arn_like = deny_when({"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:*:" + "*a" * 30 + "*b"}})
    source = {"aws:SourceArn": "arn:aws:sns:eu-west-1:111122223333:" + "a" * 40}
    assert decision(arn_like, Request("s3:GetObject", context=source)) == "ALLOWED"
