"""DevOpsGuruNotifications: encrypted topic, key and topic policies for DevOps Guru, channel, filters."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Match, Template

from devops_blueprints.constructs import DevOpsGuruNotifications
from tests.support.cdk import cfn_lint_errors, nag_findings, new_app


def _stack() -> cdk.Stack:
    return cdk.Stack(new_app(), "Test")


@pytest.fixture(scope="module")
def default_stack() -> cdk.Stack:
    stack = _stack()
    DevOpsGuruNotifications(stack, "Notifications", email_addresses=["ops@example.com"], log_anomaly_detection=True)
    return stack


@pytest.fixture(scope="module")
def template(default_stack: cdk.Stack) -> Template:
    return Template.from_stack(default_stack)


def test_topic_is_encrypted_with_a_rotating_customer_key(template: Template) -> None:
    template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    template.has_resource_properties(
        "AWS::SNS::Topic", {"KmsMasterKeyId": {"Fn::GetAtt": [Match.string_like_regexp("NotificationsKey"), "Arn"]}}
    )


def test_key_policy_lets_devops_guru_use_the_key(template: Template) -> None:
    template.has_resource_properties(
        "AWS::KMS::Key",
        {
            "KeyPolicy": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Sid": "AllowDevOpsGuruToUseTheKey",
                                "Effect": "Allow",
                                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                                "Principal": {
                                    "Service": Match.array_with(
                                        [
                                            "devops-guru.amazonaws.com",
                                            {"Fn::Join": ["", [{"Ref": "AWS::Region"}, ".devops-guru.amazonaws.com"]]},
                                        ]
                                    )
                                },
                            }
                        )
                    ]
                )
            }
        },
    )


def test_topic_policy_enforces_tls_and_scopes_devops_guru_to_this_account(template: Template) -> None:
    statements = template.find_resources("AWS::SNS::TopicPolicy")
    (policy,) = statements.values()
    by_sid = {s.get("Sid"): s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    publish = by_sid["AllowDevOpsGuruToPublish"]
    assert publish["Action"] == "sns:Publish"
    assert publish["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert "aws:SourceArn" in publish["Condition"]["ArnLike"]
    tls = [s for s in by_sid.values() if s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"]
    assert tls and tls[0]["Effect"] == "Deny"


def test_channel_points_at_the_topic_after_its_policy(template: Template) -> None:
    channels = template.find_resources("AWS::DevOpsGuru::NotificationChannel")
    (channel,) = channels.values()
    (topic_id,) = template.find_resources("AWS::SNS::Topic")
    assert channel["Properties"]["Config"]["Sns"]["TopicArn"] == {"Ref": topic_id}
    policy_ids = list(template.find_resources("AWS::SNS::TopicPolicy"))
    assert set(policy_ids) <= set(channel.get("DependsOn", []))
    assert "Filters" not in channel["Properties"]["Config"]


def test_email_subscription_and_log_anomaly_detection(template: Template) -> None:
    template.has_resource_properties("AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ops@example.com"})
    template.resource_count_is("AWS::DevOpsGuru::LogAnomalyDetectionIntegration", 1)


def test_filters_are_rendered() -> None:
    stack = _stack()
    DevOpsGuruNotifications(stack, "N", severities=["HIGH"], message_types=["NEW_INSIGHT", "SEVERITY_UPGRADED"])
    Template.from_stack(stack).has_resource_properties(
        "AWS::DevOpsGuru::NotificationChannel",
        {"Config": {"Filters": {"Severities": ["HIGH"], "MessageTypes": ["NEW_INSIGHT", "SEVERITY_UPGRADED"]}}},
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"severities": ["CRITICAL"]}, r"severities must contain only LOW, MEDIUM, HIGH, got 'CRITICAL'"),
        ({"severities": []}, r"severities must not be empty"),
        ({"severities": "HIGH"}, r"severities must be a list of strings"),
        ({"message_types": ["NEW_INSIGHTS"]}, r"message_types must contain only NEW_INSIGHT, .*got 'NEW_INSIGHTS'"),
        (
            {"email_addresses": ["not-an-address"]},
            r"email_addresses must contain email addresses, got 'not-an-address'",
        ),
    ],
)
def test_bad_props_fail_with_one_clear_error(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DevOpsGuruNotifications(_stack(), "N", **kwargs)  # type: ignore[arg-type]


def test_existing_key_for_a_new_topic_gets_the_statement() -> None:
    stack = _stack()
    key = kms.Key(stack, "MyKey", enable_key_rotation=True)
    notifications = DevOpsGuruNotifications(stack, "N", encryption_key=key)
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::KMS::Key", 1)
    assert notifications.encryption_key is key
    template.has_resource_properties(
        "AWS::KMS::Key",
        {"KeyPolicy": {"Statement": Match.array_with([Match.object_like({"Sid": "AllowDevOpsGuruToUseTheKey"})])}},
    )


def test_existing_topic_is_used_as_is() -> None:
    stack = _stack()
    topic = sns.Topic.from_topic_arn(stack, "Existing", "arn:aws:sns:us-east-1:111111111111:insights")
    DevOpsGuruNotifications(stack, "N", topic=topic)
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::SNS::Topic", 0)
    template.has_resource_properties(
        "AWS::DevOpsGuru::NotificationChannel",
        {"Config": {"Sns": {"TopicArn": "arn:aws:sns:us-east-1:111111111111:insights"}}},
    )


def test_topic_and_key_together_are_rejected() -> None:
    stack = _stack()
    topic = sns.Topic.from_topic_arn(stack, "Existing", "arn:aws:sns:us-east-1:111111111111:insights")
    key = kms.Key(stack, "K")
    with pytest.raises(ValueError, match=r"either topic .* or encryption_key .*not both"):
        DevOpsGuruNotifications(stack, "N", topic=topic, encryption_key=key)


def test_nag_and_cfn_lint_clean(default_stack: cdk.Stack, template: Template) -> None:
    assert nag_findings(default_stack) == []
    assert cfn_lint_errors(template.to_json()) == []
