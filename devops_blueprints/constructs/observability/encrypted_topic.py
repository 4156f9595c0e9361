"""The notification topic design every observability engine shares: a standard SNS topic encrypted with a
customer-managed KMS key (rotation on) that only accepts TLS requests, and narrow grants for the AWS
services that publish to it."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from devops_blueprints.context import EMAIL_ADDRESS

CLOUDWATCH_PRINCIPAL = "cloudwatch.amazonaws.com"


def create_encrypted_topic(
    scope: Construct,
    *,
    display_name: str,
    key_description: str,
    encryption_key: kms.IKey | None = None,
    removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
) -> tuple[kms.IKey, sns.Topic]:
    """``Key`` (unless given) and ``Resource`` (the topic) under ``scope``: the ids every caller keeps, so the
    logical ids of existing stacks do not move."""
    key = encryption_key or kms.Key(
        scope, "Key", description=key_description, enable_key_rotation=True, removal_policy=removal_policy
    )
    topic = sns.Topic(scope, "Resource", display_name=display_name, master_key=key, enforce_ssl=True)
    return key, topic


def notification_topic(
    scope: Construct,
    *,
    topic: sns.ITopic | None,
    encryption_key: kms.IKey | None,
    email_addresses: Sequence[str],
    display_name: str,
    key_description: str,
    removal_policy: cdk.RemovalPolicy,
    grant: Callable[[sns.ITopic, kms.IKey], None],
) -> tuple[kms.IKey | None, sns.ITopic]:
    """An engine's notification topic: ``topic`` as given, or a new encrypted topic (see
    :func:`create_encrypted_topic`) on which ``grant`` lets the engine's service publish; then the email
    subscriptions. Returns the new topic's key (None for a given topic) and the topic."""
    if topic is not None and encryption_key is not None:
        raise ValueError(
            "give either topic (an existing topic, with its own key) or encryption_key (for a new topic), not both"
        )
    validate_email_addresses(email_addresses)
    key: kms.IKey | None = None
    if topic is None:
        key, topic = create_encrypted_topic(
            scope,
            display_name=display_name,
            key_description=key_description,
            encryption_key=encryption_key,
            removal_policy=removal_policy,
        )
        grant(topic, key)
    for address in email_addresses:
        topic.add_subscription(subscriptions.EmailSubscription(address))
    return key, topic


def validate_email_addresses(addresses: Sequence[str]) -> None:
    """Each entry looks like an email address (``local@domain``, no spaces or commas)."""
    if isinstance(addresses, str):
        raise ValueError(f"email_addresses must be a list of strings, got the string {addresses!r}")
    for address in addresses:
        if cdk.Token.is_unresolved(address):
            continue
        if not isinstance(address, str) or not EMAIL_ADDRESS.fullmatch(address):
            raise ValueError(f"email_addresses must contain email addresses, got {address!r}")


def allow_cloudwatch_alarms(topic: sns.ITopic, key: kms.IKey | None, *, alarm_name_pattern: str = "*") -> None:
    """Let CloudWatch alarms of this account and region (names matching ``alarm_name_pattern``) publish to
    ``topic`` and use its ``key``.

    An encrypted topic needs the publishing service in the key policy: "Enable compatibility between event
    sources from AWS services and encrypted topics",
    https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services
    """
    source_arn = f"arn:{cdk.Aws.PARTITION}:cloudwatch:{cdk.Aws.REGION}:{cdk.Aws.ACCOUNT_ID}:alarm:{alarm_name_pattern}"
    conditions = {"StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID}, "ArnLike": {"aws:SourceArn": source_arn}}
    topic.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowCloudWatchAlarmsToPublish",
            principals=[iam.ServicePrincipal(CLOUDWATCH_PRINCIPAL)],
            actions=["sns:Publish"],
            resources=[topic.topic_arn],
            conditions=conditions,
        )
    )
    if key is not None:
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToUseTheKey",
                principals=[iam.ServicePrincipal(CLOUDWATCH_PRINCIPAL)],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],  # in a key policy "*" means this key
                conditions=conditions,
            )
        )
