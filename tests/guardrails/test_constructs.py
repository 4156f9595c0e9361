"""ServiceControlPolicy and OrganizationGuardrails: lint at synth, OU tree, attachments, quota check."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Annotations, Match, Template

from devops_blueprints.constructs import OrganizationGuardrails, ServiceControlPolicy
from devops_blueprints.guardrails import Limits, catalog
from tests.support.cdk import new_app

GOOD = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "NoLeave", "Effect": "Deny", "Action": "organizations:LeaveOrganization", "Resource": "*"}],
}


def stack() -> cdk.Stack:
    return cdk.Stack(new_app(), "Test")


@pytest.fixture(scope="module")
def guardrails_template() -> tuple[OrganizationGuardrails, Template]:
    scope = stack()
    guardrails = OrganizationGuardrails(scope, "Guardrails", root_id="r-ab12")
    return guardrails, Template.from_stack(scope)


# -- ServiceControlPolicy ------------------------------------------------------------------------


def test_scp_resource_has_the_document_and_targets() -> None:
    scope = stack()
    policy = ServiceControlPolicy(scope, "NoLeave", document=GOOD, policy_name="no-leave", target_ids=["r-ab12"])
    policy.attach("123456789012")
    Template.from_stack(scope).has_resource_properties(
        "AWS::Organizations::Policy",
        {
            "Type": "SERVICE_CONTROL_POLICY",
            "Name": "no-leave",
            "Content": GOOD,
            "TargetIds": ["r-ab12", "123456789012"],
        },
    )
    assert policy.target_ids == ("r-ab12", "123456789012")


def test_scp_accepts_json_text() -> None:
    scope = stack()
    ServiceControlPolicy(scope, "Text", document=json.dumps(GOOD, indent=2))
    Template.from_stack(scope).has_resource_properties("AWS::Organizations::Policy", {"Content": GOOD})


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            catalog.get("protect-admin-cloudwatch").published(),
            r"fails lint \(1 error\(s\)\): .*error arn-format: Resource 'arn:aws:cloudwatch:::alarm:Admin-\*'",
        ),
        (catalog.get("protect-budget-actions").published(), r"error condition-value-type: .*aws:PrincipalAccount"),
        (
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"}],
            },
            r"principal-not-supported",
        ),
        (
            {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "s3:GetObjekt", "Resource": "*"}]},
            r"unknown-action: Action 's3:GetObjekt'",
        ),
        ('{"Version": "2012-10-17",', r"invalid-json: line 1, column 26"),
    ],
)
def test_scp_that_fails_lint_fails_synth(document: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ServiceControlPolicy(stack(), "Bad", document=document)


def test_scp_size_limit_is_configurable() -> None:
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": f"S{i}",
                "Effect": "Deny",
                "Action": "ec2:RunInstances",
                "Resource": f"arn:aws:ec2:*:*:instance/i-{i:040d}",
            }
            for i in range(60)
        ],
    }
    ServiceControlPolicy(stack(), "Fits", document=document)
    with pytest.raises(ValueError, match=r"size-limit: minified size [\d,]+ characters exceeds the limit of 5,120"):
        ServiceControlPolicy(stack(), "Legacy", document=document, limits=Limits.legacy())


def test_scp_warnings_become_annotations_and_tokens_skip_lint() -> None:
    scope = stack()
    ServiceControlPolicy(scope, "NoVersion", document={"Statement": GOOD["Statement"]})
    tokenized = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": "s3:*", "Resource": cdk.Fn.sub("arn:aws:s3:::${AWS::AccountId}-*")}],
    }
    ServiceControlPolicy(scope, "Tokens", document=tokenized)
    annotations = Annotations.from_stack(scope)
    annotations.has_warning("/Test/NoVersion", Match.string_like_regexp("invalid-structure: no Version"))
    annotations.has_warning("/Test/Tokens", Match.string_like_regexp("unresolved tokens, so it was not linted"))


def test_scp_attaching_twice_is_an_error() -> None:
    policy = ServiceControlPolicy(stack(), "P", document=GOOD, target_ids=["r-ab12"])
    with pytest.raises(ValueError, match=r"already attached to r-ab12"):
        policy.attach("r-ab12")


# -- OrganizationGuardrails ----------------------------------------------------------------------


def test_ou_tree_under_the_root(guardrails_template: tuple[OrganizationGuardrails, Template]) -> None:
    guardrails, template = guardrails_template
    template.resource_count_is("AWS::Organizations::OrganizationalUnit", 7)
    for name in ("Security", "Infrastructure", "Workloads", "Sandbox", "Suspended", "PolicyStaging", "Exceptions"):
        template.has_resource_properties("AWS::Organizations::OrganizationalUnit", {"Name": name, "ParentId": "r-ab12"})
    assert set(guardrails.organizational_units) == set(catalog.OU_NAMES)


def test_catalog_policies_attached_where_recommended(
    guardrails_template: tuple[OrganizationGuardrails, Template],
) -> None:
    guardrails, template = guardrails_template
    template.resource_count_is("AWS::Organizations::Policy", 12)
    template.has_resource_properties(
        "AWS::Organizations::Policy",
        {
            "Name": "guardrails-deny-leave-organization",
            "TargetIds": ["r-ab12"],
            "Content": catalog.get("deny-leave-organization").render(),
        },
    )
    template.has_resource_properties(
        "AWS::Organizations::Policy",
        {
            "Name": "guardrails-approved-regions",
            "TargetIds": [
                {"Fn::GetAtt": [Match.string_like_regexp("GuardrailsWorkloads"), "Id"]},
                {"Fn::GetAtt": [Match.string_like_regexp("GuardrailsSandbox"), "Id"]},
            ],
        },
    )
    template.has_resource_properties(
        "AWS::Organizations::Policy",
        {
            "Name": "guardrails-deny-all-suspended",
            "TargetIds": [{"Fn::GetAtt": [Match.string_like_regexp("GuardrailsSuspended"), "Id"]}],
        },
    )
    # the shipped (fixed) CloudWatch form is what gets deployed
    template.has_resource_properties(
        "AWS::Organizations::Policy",
        {
            "Name": "guardrails-protect-admin-cloudwatch",
            "Content": Match.object_like(
                {
                    "Statement": [
                        Match.object_like({"Resource": Match.array_with(["arn:aws:cloudwatch:*:*:alarm:Admin-*"])})
                    ]
                }
            ),
        },
    )
    assert guardrails.attachments["Root"][0] == "FullAWSAccess"
    assert len(guardrails.attachments["Root"]) == 9
    template.has_resource_properties(
        "AWS::Organizations::Policy",
        {
            "Name": "guardrails-protect-admin-secrets",
            "TargetIds": [{"Fn::GetAtt": [Match.string_like_regexp("GuardrailsWorkloads"), "Id"]}],
        },
    )


def test_parameters_and_attachment_overrides() -> None:
    scope = stack()
    OrganizationGuardrails(
        scope,
        "G",
        root_id="r-ab12",
        policies=["approved-regions"],
        parameters={"approved-regions": {"regions": ["ap-south-1"]}},
        attachments={"approved-regions": ["Root"]},
    )
    template = Template.from_stack(scope)
    template.resource_count_is("AWS::Organizations::Policy", 1)
    template.has_resource_properties(
        "AWS::Organizations::Policy",
        {
            "TargetIds": ["r-ab12"],
            "Content": Match.object_like(
                {
                    "Statement": [
                        Match.object_like(
                            {
                                "Condition": Match.object_like(
                                    {"StringNotEquals": {"aws:RequestedRegion": ["ap-south-1"]}}
                                )
                            }
                        )
                    ]
                }
            ),
        },
    )


def test_attachment_limit_fails_synth() -> None:
    app = new_app()
    scope = cdk.Stack(app, "Legacy")
    OrganizationGuardrails(scope, "G", root_id="r-ab12", limits=Limits.legacy())
    with pytest.raises(
        Exception,
        match=r"Root has 9 SCPs attached \(FullAWSAccess, protect-admin-cloudwatch.*the limit is 5 per target",
    ):
        app.synth()


def test_add_policy_counts_towards_the_limit() -> None:
    app = new_app()
    scope = cdk.Stack(app, "Custom")
    guardrails = OrganizationGuardrails(scope, "G", root_id="r-ab12")
    for i in range(2):
        guardrails.add_policy(f"Extra{i}", document=GOOD, targets=["Root"])
    assert len(guardrails.attachments["Root"]) == 11
    with pytest.raises(Exception, match=r"Root has 11 SCPs attached .* the limit is 10 per target"):
        app.synth()


def test_placeholder_root_id_warns() -> None:
    scope = stack()
    OrganizationGuardrails(scope, "G", policies=[])
    Annotations.from_stack(scope).has_warning("/Test/G", Match.string_like_regexp("root_id is the placeholder r-xxxx"))


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"root_id": "root"}, r"root_id must look like r-ab12 .*got 'root'"),
        ({"policies": ["nope"]}, r"unknown catalog policy 'nope'"),
        (
            {"parameters": {"approved-regions": {"regions": ["Mars"]}}},
            r"approved-regions\.regions must be region names",
        ),
        (
            {"policies": ["deny-leave-organization"], "parameters": {"approved-regions": {}}},
            r"which policies does not include",
        ),
        ({"organizational_units": ["Security", "Security"]}, r"organizational_units has duplicates"),
        ({"organizational_units": ["Security"]}, r"attachment target 'Suspended' is not Root, one of this tree's OUs"),
    ],
)
def test_bad_props_fail_with_a_clear_error(props: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        OrganizationGuardrails(stack(), "G", **props)
