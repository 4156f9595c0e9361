"""A role that one AWS service assumes on behalf of this account, with one AWS managed policy.

Shared by the DevOps Agent and CloudWatch investigations constructs; imports neither.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct


def service_role(
    scope: Construct,
    construct_id: str,
    *,
    service: str,
    source_arn: str,
    managed_policy: str,
    description: str,
    reason: str,
    session_tags: bool = False,
) -> iam.Role:
    """A role trusted by ``service`` only for requests from this account's ``source_arn`` resources
    (``aws:SourceAccount`` and ``aws:SourceArn``: confused-deputy protection), with the AWS managed
    ``managed_policy``; its cdk-nag IAM4 finding is acknowledged with ``reason``."""
    principal = iam.ServicePrincipal(
        service,
        conditions={
            "StringEquals": {"aws:SourceAccount": cdk.Stack.of(scope).account},
            "ArnLike": {"aws:SourceArn": source_arn},
        },
    )
    role = iam.Role(
        scope,
        construct_id,
        description=description,
        assumed_by=principal.with_session_tags() if session_tags else principal,
        managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name(managed_policy)],
    )
    cdk.Validations.of(role).acknowledge(
        cdk.Acknowledgment(
            id=f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/{managed_policy}]", reason=reason
        )
    )
    return role
