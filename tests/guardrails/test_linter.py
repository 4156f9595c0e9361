"""Linter findings: stable codes, error severity for what AWS would reject or what never works."""

from __future__ import annotations

import json
from typing import Any

import pytest

from devops_blueprints.guardrails import Limits, check_attachments, lint_document, lint_text
from devops_blueprints.guardrails.linter import CODES


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def deny(**extra: Any) -> dict[str, Any]:
    return {"Sid": "S", "Effect": "Deny", "Action": "ec2:RunInstances", "Resource": "*", **extra}


def codes(findings: list[Any], severity: str = "error") -> list[str]:
    return [f.code for f in findings if f.severity == severity]


def test_valid_policy_has_no_finding() -> None:
    document = policy(
        deny(Condition={"StringNotEquals": {"aws:RequestedRegion": ["eu-west-1"]}}),
        {"Effect": "Deny", "NotAction": ["iam:*", "s3:Get*"], "Resource": "arn:aws:s3:::bucket/*"},
    )
    assert lint_document(document) == []


def test_invalid_json_reports_line_and_column() -> None:
    text = '{\n  "Version": "2012-10-17",\n  "Statement": [\n    {"Effect": "Deny",}\n  ]\n}\n'
    [finding] = lint_text(text, "broken.json")
    assert (finding.file, finding.code, finding.severity) == ("broken.json", "invalid-json", "error")
    assert finding.message.startswith("line 4, column 23:")


@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        ([], "must be a JSON object"),
        ({"Version": "2012-10-17"}, "missing Statement"),
        ({"Version": "2012-10-18", "Statement": [deny()]}, "Version must be one of"),
        (policy({"Effect": "Permit", "Action": "*", "Resource": "*"}), "Effect must be Allow or Deny"),
        (
            policy({"Effect": "Deny", "Action": "*", "NotAction": "s3:*", "Resource": "*"}),
            "exactly one of Action",
        ),
        (policy({"Effect": "Deny", "Action": "*"}), "exactly one of Resource"),
        (
            policy(deny(Condition={"StringEqualz": {"aws:RequestedRegion": "x"}})),
            "unknown condition operator",
        ),
        (policy(deny(), deny()), "duplicate Sid"),
        (policy(deny(Actions="x")), "unknown statement element(s) Actions"),
    ],
)
def test_structure_errors(document: Any, fragment: str) -> None:
    findings = lint_document(document, "p.json")
    assert "invalid-structure" in codes(findings)
    assert any(fragment in f.message for f in findings if f.code == "invalid-structure")


def test_principal_is_not_supported() -> None:
    findings = lint_document(policy(deny(Principal={"AWS": "*"})))
    assert codes(findings) == ["principal-not-supported"]
    assert findings[0].statement == "S"


def test_unknown_actions_and_services() -> None:
    document = policy(
        {
            "Sid": "A",
            "Effect": "Deny",
            "Action": ["ec2:RunInstance", "ec3:RunInstances", "ec2:Run*", "s3:*Zzz*"],
            "Resource": "*",
        },
        {"Sid": "B", "Effect": "Deny", "NotAction": ["iam", "IAM:createrole"], "Resource": "*"},
    )
    messages = [f.message for f in lint_document(document) if f.code == "unknown-action"]
    assert messages == [
        "Action 'ec2:RunInstance': no ec2 action matches 'RunInstance'",
        "Action 'ec3:RunInstances': unknown service prefix 'ec3'",
        "Action 's3:*Zzz*': no s3 action matches '*Zzz*'",
        "NotAction 'iam': expected service:Action (for example ec2:RunInstances)",
    ]


def test_oversize_policy_reports_size_and_limit() -> None:
    document = policy(
        *(
            {
                "Sid": f"S{i}",
                "Effect": "Deny",
                "Action": "ec2:RunInstances",
                "Resource": f"arn:aws:ec2:*:*:instance/i-{i:040d}",
            }
            for i in range(60)
        )
    )
    size = len(json.dumps(document, separators=(",", ":")))
    assert 5_120 < size <= 10_240
    assert lint_document(document) == []
    [finding] = lint_document(document, limits=Limits.legacy())
    assert (finding.code, finding.severity) == ("size-limit", "error")
    assert finding.message == f"minified size {size:,} characters exceeds the limit of 5,120 characters"
    [custom] = lint_document(document, limits=Limits(max_size=1000))
    assert "limit of 1,000 characters" in custom.message


def test_whitespace_does_not_count_towards_the_size() -> None:
    document = policy(deny())
    pretty = json.dumps(document, indent=8)
    limit = len(json.dumps(document, separators=(",", ":")))
    assert len(pretty) > limit
    assert lint_text(pretty, limits=Limits(max_size=limit)) == []
    assert codes(lint_text(pretty, limits=Limits(max_size=limit - 1))) == ["size-limit"]


@pytest.mark.parametrize(
    ("resource", "fragment"),
    [
        ("arn:aws:cloudwatch:::alarm:Admin-*", "empty region never matches a cloudwatch alarm ARN"),
        ("arn:aws:cloudwatch:*::alarm:Admin-*", "empty account never matches"),
        ("arn:aws:s3:eu-west-1::bucket", "s3 bucket ARNs have no region"),
        ("arn:aws:ec2:eu-west-1:*:instanse/*", "matches no ec2 resource type"),
        ("arn:aws:ec2:Ireland:*:instance/*", "region 'Ireland' is not a region name"),
        ("arn:aws:ec2:*:12345:instance/*", "account '12345' is not a 12-digit account ID"),
        ("arn:amazon:ec2:*:*:instance/*", "unknown partition 'amazon'"),
        ("i-0123456789", "expected an ARN"),
    ],
)
def test_arn_format_errors(resource: str, fragment: str) -> None:
    findings = lint_document(policy(deny(Resource=resource)))
    assert codes(findings) == ["arn-format"]
    assert fragment in findings[0].message


@pytest.mark.parametrize(
    "resource",
    [
        "arn:aws:cloudwatch:*:*:alarm:Admin-*",
        "arn:aws:cloudwatch::*:dashboard/Admin-*",
        "arn:aws:s3:::bucket/*",
        "arn:aws:iam::aws:policy/AdministratorAccess",
        "arn:aws:iam::${aws:PrincipalAccount}:role/*",
        "arn:aws-us-gov:ec2:us-gov-west-1:123456789012:instance/i-1",
        "arn:*:ec2:*:*:*",
    ],
)
def test_arn_formats_that_are_fine(resource: str) -> None:
    assert lint_document(policy(deny(Resource=resource))) == []


@pytest.mark.parametrize(
    ("condition", "fragment"),
    [
        (
            {"StringNotEquals": {"aws:PrincipalAccount": ["arn:aws:iam::*:role/FinOps"]}},
            "12-digit account ID",
        ),
        ({"ArnNotLike": {"aws:PrincipalArn": ["FinOps"]}}, "is not an ARN"),
        (
            {"ArnLike": {"aws:RequestedRegion": ["arn:aws:iam::*:role/x"]}},
            "cannot compare aws:RequestedRegion",
        ),
        ({"Bool": {"aws:SecureTransport": "yes"}}, "Bool values are true or false"),
        ({"NumericLessThan": {"aws:MultiFactorAuthAge": "an hour"}}, "is not a number"),
        ({"DateGreaterThan": {"aws:CurrentTime": "tomorrow"}}, "not an ISO 8601 date"),
        ({"NumericEquals": {"aws:SecureTransport": "1"}}, "cannot compare aws:SecureTransport"),
        ({"StringEquals": {"aws:RequestedRegion": "Ireland"}}, "region names"),
        ({"Null": {"aws:PrincipalTag/team": "maybe"}}, "Null takes true or false"),
        ({"BoolIfExists": {"ec2:Encrypted": "sometimes"}}, "Bool values are true or false"),
    ],
)
def test_condition_value_type_errors(condition: dict[str, Any], fragment: str) -> None:
    findings = lint_document(policy(deny(Condition=condition)))
    assert codes(findings) == ["condition-value-type"]
    assert fragment in findings[0].message


def test_condition_values_that_are_fine() -> None:
    condition = {
        "StringNotEquals": {"aws:PrincipalAccount": ["111122223333"], "AWS:requestedRegion": "eu-*"},
        "StringLike": {"aws:PrincipalAccount": "1111*"},
        "ArnNotLikeIfExists": {"aws:PrincipalArn": "arn:aws:iam::*:role/Admin"},
        "Bool": {"aws:SecureTransport": False},
        "NumericLessThan": {"aws:MultiFactorAuthAge": 3600},
        "DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"},
        "ForAnyValue:StringEquals": {"aws:TagKeys": ["team"]},
        "StringEquals": {"aws:PrincipalTag/team": "${aws:username}"},
    }
    assert lint_document(policy(deny(Condition=condition))) == []


def test_missing_version_is_only_a_warning() -> None:
    findings = lint_document({"Statement": [deny()]})
    assert codes(findings) == []
    assert codes(findings, "warning") == ["invalid-structure"]


def test_codes_are_the_documented_ones() -> None:
    assert CODES == (
        "invalid-json",
        "invalid-structure",
        "principal-not-supported",
        "size-limit",
        "unknown-action",
        "arn-format",
        "condition-value-type",
    )


def test_attachment_limit_default_and_legacy() -> None:
    six = {"Workloads": [f"p{i}" for i in range(6)], "Sandbox": ["a", "b"]}
    assert check_attachments(six) == []
    [problem] = check_attachments(six, Limits.legacy())
    assert problem.startswith("Workloads has 6 SCPs attached (p0, p1, p2, p3, p4, p5); the limit is 5")
    eleven = {"Root": [f"p{i}" for i in range(11)]}
    assert "the limit is 10 per target" in check_attachments(eleven)[0]


def test_limits_are_validated() -> None:
    with pytest.raises(ValueError, match="max_size must be a positive number of characters, got 0"):
        Limits(max_size=0)


# -- issue 12: condition findings ----------------------------------------------------------------


def _condition_findings(condition: dict[str, Any]) -> list[tuple[str, str, str]]:
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "C", "Effect": "Deny", "Action": "ec2:CreateTags", "Resource": "*", "Condition": condition}
        ],
    }
    return [(f.code, f.severity, f.message) for f in lint_document(document, "c.json")]


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ({"IpAddress": {"aws:SourceIp": "not-an-ip"}}, "'not-an-ip' is not an IPv4 or IPv6 address or CIDR block"),
        ({"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8", "10.0.0.300"]}}, "'10.0.0.300' is not an IPv4"),
        ({"DateLessThan": {"aws:CurrentTime": "tomorrow"}}, "'tomorrow' is not an ISO 8601 date or epoch time"),
        ({"NumericLessThan": {"aws:MultiFactorAuthAge": "abc"}}, "'abc' is not a number"),
    ],
)
def test_a_value_that_never_parses_for_its_operator_is_an_error(condition: dict[str, Any], message: str) -> None:
    findings = _condition_findings(condition)
    assert [(code, severity) for code, severity, _ in findings] == [("condition-value-type", "error")]
    assert message in findings[0][2]


@pytest.mark.parametrize("operator", ["StringEquals", "StringNotLike", "StringEqualsIfExists"])
def test_single_valued_operator_on_a_multivalued_key_is_a_warning(operator: str) -> None:
    findings = _condition_findings({operator: {"aws:TagKeys": ["owner"]}})
    relevant = [f for f in findings if "multivalued" in f[2]]
    assert [(code, severity) for code, severity, _ in relevant] == [("condition-value-type", "warning")]
    assert f"ForAnyValue:{operator}" in relevant[0][2] and "ArrayOfString" in relevant[0][2]
    assert _condition_findings({f"ForAnyValue:{operator.removesuffix('IfExists')}": {"aws:TagKeys": ["owner"]}}) == []
    assert _condition_findings({"StringEquals": {"aws:ResourceTag/owner": "me"}}) == []  # single-valued


@pytest.mark.parametrize(("qualifier", "outcome"), [("ForAnyValue", "false"), ("ForAllValues", "true")])
def test_set_operator_with_if_exists_says_what_it_evaluates_to(qualifier: str, outcome: str) -> None:
    findings = _condition_findings({f"{qualifier}:StringNotEqualsIfExists": {"aws:TagKeys": ["owner"]}})
    assert [(code, severity) for code, severity, _ in findings] == [("condition-value-type", "warning")]
    assert f"when aws:TagKeys is missing the condition is {outcome}" in findings[0][2]
