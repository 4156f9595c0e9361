"""A Python 3.12 function of the tenant-deployment flow: own role, own log group, X-Ray, Powertools layer.

Shared by ``DeploymentProvisioner`` and ``ReleaseOrchestrator`` (internal helper, not exported).
"""

from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct, IConstruct

from devops_blueprints.assets import lambda_handler_dir
from devops_blueprints.constructs.powertools import POWERTOOLS_LAYER_VERSION, add_powertools

#: The runtime of these functions (pinned: see the AwsSolutions-L1 acknowledgment below).
TENANT_RUNTIME = lambda_.Runtime.PYTHON_3_12


class TenantFunction(Construct):
    """``lambda_src/<handler>/index.py`` on Python 3.12 with the Powertools layer, active tracing, a role
    that may only write to the function's own log group (plus what callers grant) and a log group
    encrypted with ``key``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        handler: str,
        service: str,
        key: kms.IKey,
        environment: Mapping[str, str],
        timeout: cdk.Duration,
        description: str,
        memory_size: int = 256,
        log_retention: logs.RetentionDays = logs.RetentionDays.THREE_MONTHS,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=log_retention,
            encryption_key=key,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Execution role of the {service} function",
        )
        self.log_group.grant_write(self.role)
        self.function = lambda_.Function(
            self,
            "Resource",
            runtime=TENANT_RUNTIME,
            architecture=lambda_.Architecture.X86_64,
            handler="index.handler",
            code=lambda_.Code.from_asset(str(lambda_handler_dir(handler))),
            environment=dict(environment),
            timeout=timeout,
            memory_size=memory_size,
            tracing=lambda_.Tracing.ACTIVE,
            role=self.role,
            log_group=self.log_group,
            description=description,
        )
        add_powertools(self.function, service=service)
        for finding, reason in (
            ("AwsSolutions-IAM5[Resource::*]", "X-Ray PutTraceSegments/PutTelemetryRecords have no resource ARNs"),
            ("AwsSolutions-IAM5[Action::kms:GenerateDataKey*]", "CDK table/queue grant on the one given key"),
            ("AwsSolutions-IAM5[Action::kms:ReEncrypt*]", "CDK table/queue grant on the one given key"),
        ):
            cdk.Validations.of(self.role).acknowledge(cdk.Acknowledgment(id=finding, reason=reason))
        cdk.Validations.of(self.function).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions-L1",
                reason=f"Pinned to Python 3.12: the Powertools layer version {POWERTOOLS_LAYER_VERSION} used is the "
                "python312 build",
            )
        )


def nag_part(value: str, pseudo: str) -> str:
    """How cdk-nag prints an ARN part: the literal value, or ``<AWS::Pseudo>`` for a token."""
    return f"<AWS::{pseudo}>" if cdk.Token.is_unresolved(value) else value


def arn_prefix(scope: IConstruct, service: str) -> str:
    """``arn:<partition>:<service>:<region>:<account>`` as cdk-nag prints it in finding ids."""
    stack = cdk.Stack.of(scope)
    return (
        f"arn:{nag_part(stack.partition, 'Partition')}:{service}:{nag_part(stack.region, 'Region')}:"
        f"{nag_part(stack.account, 'AccountId')}"
    )


def stack_ref(construct: IConstruct) -> str:
    """The logical id of ``construct``'s CloudFormation resource (as cdk-nag prints ``<Ref>``)."""
    child = construct.node.default_child
    if not isinstance(child, cdk.CfnElement):
        raise TypeError(f"{construct.node.path} has no CloudFormation default child")
    return cdk.Stack.of(construct).get_logical_id(child)


def rendered_account(scope: IConstruct) -> str:
    """The stack's account as cdk-nag prints it in finding ids."""
    return nag_part(cdk.Stack.of(scope).account, "AccountId")
