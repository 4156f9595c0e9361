"""Key policy statements shared by the constructs that encrypt with customer-managed keys."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct


def logs_key(
    scope: Construct,
    description: str | None = None,
    *,
    removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
    construct_id: str = "Key",
) -> kms.Key:
    """A customer-managed key ``construct_id`` under ``scope``, rotated yearly, that CloudWatch Logs may also use."""
    key = kms.Key(scope, construct_id, description=description, enable_key_rotation=True, removal_policy=removal_policy)
    allow_logs_service(key)
    return key


def allow_logs_service(key: kms.IKey) -> None:
    """Let CloudWatch Logs in this stack's account and region encrypt log groups with ``key``."""
    stack = cdk.Stack.of(key)
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowCloudWatchLogs",
            principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
            actions=[
                "kms:Encrypt*",
                "kms:Decrypt*",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:Describe*",
            ],
            resources=["*"],
            conditions={
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": stack.format_arn(
                        service="logs",
                        resource="log-group",
                        resource_name="*",
                        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                    )
                }
            },
        )
    )
