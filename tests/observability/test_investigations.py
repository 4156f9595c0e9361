"""InvestigationGroup: the group, the policy that lets alarms open investigations, key, role, alarm actions."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Match, Template

from devops_blueprints.constructs.app_boundary import DEFAULT_TAG_KEY
from devops_blueprints.constructs.observability.investigations import RETENTION_DAYS_RANGE, InvestigationGroup
from tests.support.cdk import cfn_lint_errors, nag_findings, new_app

ACCOUNT = "111111111111"
REGION = "eu-west-1"


def _stack(app: cdk.App | None = None, name: str = "Investigations") -> cdk.Stack:
    return cdk.Stack(app or new_app(), name, env=cdk.Environment(account=ACCOUNT, region=REGION))


def _alarm(stack: cdk.Stack, construct_id: str) -> cloudwatch.Alarm:
    metric = cloudwatch.Metric(namespace="AWS/Lambda", metric_name="Errors", dimensions_map={"FunctionName": "f"})
    return cloudwatch.Alarm(stack, construct_id, metric=metric, threshold=1, evaluation_periods=1)


@pytest.fixture(scope="module")
def group_stack() -> tuple[cdk.Stack, InvestigationGroup]:
    stack = _stack()
    group = InvestigationGroup(stack, "Investigations", name="orders-investigations", retention_days=30)
    _alarm(stack, "ByArn").add_alarm_action(group.alarm_action())
    _alarm(stack, "Deduplicated").add_alarm_action(group.alarm_action("orders"))
    cloudwatch.CfnAlarm(
        stack,
        "Raw",
        comparison_operator="GreaterThanThreshold",
        evaluation_periods=1,
        metric_name="Errors",
        namespace="AWS/Lambda",
        period=60,
        statistic="Sum",
        threshold=0,
        alarm_actions=[group.alarm_action_arn],
    )
    return stack, group


@pytest.fixture(scope="module")
def template(group_stack: tuple[cdk.Stack, InvestigationGroup]) -> Template:
    return Template.from_stack(group_stack[0])


def _group_id(template: Template) -> str:
    (group_id,) = template.find_resources("AWS::AIOps::InvestigationGroup")
    return group_id


def _policy(template: Template) -> dict[str, Any]:
    """The group's policy (a literal JSON string: the stack has a concrete account and region)."""
    (group,) = template.find_resources("AWS::AIOps::InvestigationGroup").values()
    policy = group["Properties"]["InvestigationGroupPolicy"]
    assert isinstance(policy, str)
    return dict(json.loads(policy))


def test_the_resource_policy_lets_only_this_accounts_alarms_open_investigations(template: Template) -> None:
    (statement,) = _policy(template)["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Service": "aiops.alarms.cloudwatch.amazonaws.com"}
    assert statement["Action"] == ["aiops:CreateInvestigation", "aiops:CreateInvestigationEvent"]
    assert statement["Resource"] == "*"
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:*"},
    }


def test_alarm_actions_are_the_group_arn_with_an_optional_dedupe_string(template: Template) -> None:
    group_arn = {"Fn::GetAtt": [_group_id(template), "Arn"]}
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    actions = {
        alarm_id.rstrip("0123456789ABCDEF"): alarm["Properties"]["AlarmActions"] for alarm_id, alarm in alarms.items()
    }
    assert actions["ByArn"] == [group_arn]
    assert actions["Raw"] == [group_arn]
    assert actions["Deduplicated"] == [{"Fn::Join": ["", [group_arn, "#DEDUPE_STRING=orders"]]}]


def test_group_properties(template: Template) -> None:
    (role_id,) = template.find_resources("AWS::IAM::Role")
    (key_id,) = template.find_resources("AWS::KMS::Key")
    template.has_resource(
        "AWS::AIOps::InvestigationGroup",
        {
            "Properties": Match.object_like(
                {
                    "Name": "orders-investigations",
                    "RetentionInDays": 30,
                    "RoleArn": {"Fn::GetAtt": [role_id, "Arn"]},
                    "EncryptionConfig": {
                        "EncryptionConfigurationType": "CUSTOMER_MANAGED_KMS_KEY",
                        "KmsKeyId": {"Fn::GetAtt": [key_id, "Arn"]},
                    },
                    "IsCloudTrailEventHistoryEnabled": True,
                    "TagKeyBoundaries": [DEFAULT_TAG_KEY],
                }
            ),
            "DeletionPolicy": "Retain",
            "DependsOn": Match.array_with(sorted([role_id, key_id])),
        },
    )


def test_the_role_trusts_only_this_accounts_investigation_groups(template: Template) -> None:
    (role,) = template.find_resources("AWS::IAM::Role").values()
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "aiops.amazonaws.com"}
    assert trust["Action"] == "sts:AssumeRole"
    assert trust["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": f"arn:aws:aiops:{REGION}:{ACCOUNT}:investigation-group/*"},
    }
    (managed,) = role["Properties"]["ManagedPolicyArns"]
    assert "AIOpsAssistantPolicy" in json.dumps(managed)
    template.resource_count_is("AWS::IAM::Policy", 0)


def test_the_key_rotates_and_lets_the_two_service_principals_use_it_for_investigations_only(template: Template) -> None:
    (key,) = template.find_resources("AWS::KMS::Key").values()
    assert key["Properties"]["EnableKeyRotation"] is True
    by_sid = {s.get("Sid"): s for s in key["Properties"]["KeyPolicy"]["Statement"]}
    groups = f"arn:aws:aiops:{REGION}:{ACCOUNT}:investigation-group/*"
    context = {"kms:EncryptionContext:aws:aiops:investigation-group-arn": groups}
    describe = by_sid["AllowAIOpsToDescribeTheKey"]
    assert describe["Principal"] == {"Service": "aiops.amazonaws.com"} and describe["Action"] == "kms:DescribeKey"
    encrypt = by_sid["AllowAIOpsToEncryptInvestigations"]
    assert encrypt["Principal"] == {"Service": "aiops.amazonaws.com"}
    assert sorted(encrypt["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert encrypt["Condition"]["ArnLike"] == context
    assert encrypt["Condition"]["StringLike"] == {"aws:SourceArn": groups}
    alarms = by_sid["AllowCloudWatchAlarmsToOpenInvestigations"]
    assert alarms["Principal"] == {"Service": "aiops.alarms.cloudwatch.amazonaws.com"}
    assert sorted(alarms["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert alarms["Condition"]["ArnLike"] == context
    assert alarms["Condition"]["StringEquals"] == {
        "aws:SourceAccount": ACCOUNT,
        "kms:ViaService": f"aiops.{REGION}.amazonaws.com",
    }
    assert alarms["Condition"]["StringLike"] == {"aws:SourceArn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:*"}


def test_cdk_nag_and_cfn_lint_are_clean(group_stack: tuple[cdk.Stack, InvestigationGroup], template: Template) -> None:
    assert nag_findings(group_stack[0]) == []
    assert cfn_lint_errors(dict(template.to_json()), regions=(REGION,)) == []


def test_environment_agnostic_stack_synthesizes_clean() -> None:
    stack = cdk.Stack(new_app(), "Agnostic")
    group = InvestigationGroup(stack, "Investigations", name="g")
    _alarm(stack, "Alarm").add_alarm_action(group.alarm_action())
    template = dict(Template.from_stack(stack).to_json())
    assert nag_findings(stack) == []
    assert cfn_lint_errors(template) == []
    (props,) = [
        r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::AIOps::InvestigationGroup"
    ]
    assert "RetentionInDays" not in props


def test_existing_key_gets_the_statements_and_existing_role_is_used_as_is() -> None:
    stack = _stack()
    key = kms.Key(stack, "MyKey", enable_key_rotation=True)
    role = iam.Role.from_role_arn(stack, "MyRole", f"arn:aws:iam::{ACCOUNT}:role/investigations")
    group = InvestigationGroup(
        stack,
        "Investigations",
        name="g",
        encryption_key=key,
        role=role,
        tag_key_boundaries=(),
        cloudtrail_event_history=False,
    )
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::KMS::Key", 1)
    template.resource_count_is("AWS::IAM::Role", 0)
    assert group.encryption_key is key and group.role is role
    template.has_resource_properties(
        "AWS::KMS::Key",
        {
            "KeyPolicy": {
                "Statement": Match.array_with([Match.object_like({"Sid": "AllowCloudWatchAlarmsToOpenInvestigations"})])
            }
        },
    )
    props = template.find_resources("AWS::AIOps::InvestigationGroup")
    (group_props,) = [r["Properties"] for r in props.values()]
    assert group_props["RoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/investigations"
    assert group_props["IsCloudTrailEventHistoryEnabled"] is False
    assert "TagKeyBoundaries" not in group_props


@pytest.mark.parametrize("days", list(RETENTION_DAYS_RANGE))
def test_retention_bounds_are_accepted(days: int) -> None:
    stack = _stack()
    InvestigationGroup(stack, "Investigations", name="g", retention_days=days)
    Template.from_stack(stack).has_resource_properties("AWS::AIOps::InvestigationGroup", {"RetentionInDays": days})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": ""}, r"^name must be 1-512 characters .*got ''$"),
        ({"name": "x" * 513}, r"^name must be 1-512 characters"),
        ({"name": "orders/prod"}, r"^name must be 1-512 characters .*got 'orders/prod'$"),
        ({"name": "g", "retention_days": 6}, r"^retention_days must be a whole number of days from 7 to 90, got 6$"),
        ({"name": "g", "retention_days": 91}, r"^retention_days must be a whole number of days from 7 to 90, got 91$"),
        ({"name": "g", "retention_days": 30.5}, r"^retention_days must be a whole number .*got 30.5$"),
        ({"name": "g", "retention_days": True}, r"^retention_days must be a whole number .*got True$"),
        ({"name": "g", "tag_key_boundaries": "app"}, r"^tag_key_boundaries must be a list of tag keys"),
        ({"name": "g", "tag_key_boundaries": [""]}, r"^tag_key_boundaries entries must be tag keys .*got ''$"),
        ({"name": "g", "tag_key_boundaries": ["k" * 201]}, r"^tag_key_boundaries entries must be tag keys"),
        ({"name": "g", "tag_key_boundaries": ["a", "a"]}, r"^tag_key_boundaries must not repeat a key"),
    ],
)
def test_bad_props_fail_with_one_clear_error(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        InvestigationGroup(_stack(), "Investigations", **kwargs)  # type: ignore[arg-type]


def test_the_longest_name_is_accepted() -> None:
    stack = _stack()
    InvestigationGroup(stack, "Investigations", name="n" * 512)
    assert cfn_lint_errors(dict(Template.from_stack(stack).to_json()), regions=(REGION,)) == []


@pytest.mark.parametrize("dedupe", ["", "a b", "x" * 129, "a#b"])
def test_bad_dedupe_strings_are_refused(dedupe: str) -> None:
    group = InvestigationGroup(_stack(), "Investigations", name="g")
    with pytest.raises(ValueError, match=r"^dedupe_string must be 1-128 characters"):
        group.alarm_action(dedupe)


def test_a_second_group_in_one_account_and_region_is_refused() -> None:
    app = new_app()
    InvestigationGroup(_stack(app, "First"), "Investigations", name="a")
    with pytest.raises(ValueError, match=r"^a second CloudWatch investigation group in 111111111111/eu-west-1: "):
        InvestigationGroup(_stack(app, "Second"), "Investigations", name="b")
    other_region = cdk.Stack(app, "Elsewhere", env=cdk.Environment(account=ACCOUNT, region="us-east-1"))
    InvestigationGroup(other_region, "Investigations", name="c")
