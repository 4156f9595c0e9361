"""Provisioning of tenant deployments from the deployment table's stream (ARCHITECTURE.md section 2).

stream -> provisioner Lambda (Powertools batch processing + idempotency) -> CodeBuild:
the provisioning project runs ``cdk deploy <type>-<id>-pipeline`` in the deployment synth mode, the
deprovisioning project destroys the component stacks and then the pipeline stack. CodeBuild state
changes (EventBridge) -> status Lambda -> ``status`` in the table. Nothing is dropped: stream records the
function cannot process after its retries go to an encrypted dead-letter queue, and so do status events
EventBridge cannot deliver.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from devops_blueprints.constructs.key_policies import logs_key
from devops_blueprints.constructs.tenants.deployment_table import DeploymentTable
from devops_blueprints.constructs.tenants.tenant_function import (
    TenantFunction,
    arn_prefix,
    nag_part,
    stack_ref,
)

__all__ = ["CDK_CLI_VERSION", "DeploymentProvisioner"]

#: The CDK CLI the builds install (the Makefile's pin).
CDK_CLI_VERSION = "2.1148.1"
#: Every build passes the record's values only as these environment variables (quoted in the scripts).
_CONTEXT_ARGS = (
    '-c deployment_id="$DEPLOYMENT_ID" -c deployment_type="$DEPLOYMENT_TYPE" '
    '-c component_account="$COMPONENT_ACCOUNT" -c component_region="$COMPONENT_REGION"'
)
_PIPELINE_STACK = '"${DEPLOYMENT_TYPE}-${DEPLOYMENT_ID}-pipeline"'
# The build ends the status function acts on (lambda_src/deployment_status: SUCCEEDED and FAILED_BUILD_STATES).
# IN_PROGRESS changes nothing (the record already says PROVISIONING or DEPROVISIONING), so it is not routed.
_BUILD_STATES = ["SUCCEEDED", "FAILED", "FAULT", "STOPPED", "TIMED_OUT"]


def _install_phase() -> dict[str, Any]:
    return {
        "runtime-versions": {"python": "3.12", "nodejs": "22"},
        "commands": [
            "python -m pip install --quiet -r requirements.txt",
            f"npm install --global --no-audit --no-fund aws-cdk@{CDK_CLI_VERSION}",
        ],
    }


def _env_guard() -> str:
    # Refuse to run without the four values (a build started by hand without overrides).
    names = ("DEPLOYMENT_ID", "DEPLOYMENT_TYPE", "COMPONENT_ACCOUNT", "COMPONENT_REGION")
    return " && ".join(f': "${{{name}:?{name} is required}}"' for name in names)


def provisioning_build_spec() -> dict[str, Any]:
    """``cdk deploy`` of the one deployment pipeline stack, in the deployment synth mode."""
    return {
        "version": "0.2",
        "env": {"shell": "bash"},
        "phases": {
            "install": _install_phase(),
            "build": {
                "commands": [
                    _env_guard(),
                    f"cdk deploy {_PIPELINE_STACK} {_CONTEXT_ARGS} --require-approval never --no-notices",
                ]
            },
        },
    }


def deprovisioning_build_spec() -> dict[str, Any]:
    """Destroy the component stacks (in the target account/region, through its bootstrap deploy role),
    then the pipeline stack."""
    return {
        "version": "0.2",
        "env": {"shell": "bash"},
        "phases": {
            "install": _install_phase(),
            "build": {
                "commands": [
                    _env_guard(),
                    f'cdk destroy "${{DEPLOYMENT_TYPE}}-${{DEPLOYMENT_ID}}-pipeline/**" {_CONTEXT_ARGS} '
                    "--force --no-notices",
                    f"cdk destroy {_PIPELINE_STACK} {_CONTEXT_ARGS} --force --no-notices",
                ]
            },
        },
    }


class DeploymentProvisioner(Construct):
    """Turns deployment table records into per-deployment pipelines (and removes them).

    :param table: the deployment table (its stream drives the provisioner).
    :param source_bucket: where the toolchain app's source bundle lives (the toolchain pipeline
        publishes it there). Default: a new versioned, KMS-encrypted, SSL-only bucket.
    :param source_key: the source bundle's key. Default: ``toolchain/source.zip``.
    :param encryption_key: encrypts the dead-letter queue, idempotency table, logs, build artifacts and
        the created source bucket. Default: a new key with rotation on.
    :param bootstrap_qualifier: the CDK bootstrap qualifier of the toolchain and component accounts.
        Default: ``hnb659fds``.
    :param batch_size: stream records per invocation (1..1000). Default: 10.
    :param retry_attempts: retries of a failing batch (bisected) before its records go to the DLQ
        (0..10000). Default: 3.
    :param build_timeout: of the provisioning and deprovisioning builds. Default: 60 minutes.
    :param access_logs_bucket: server access logs target of a created source bucket. Default: none
        (CloudTrail data events are the audit trail; the AwsSolutions-S1 finding is acknowledged).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        table: DeploymentTable,
        source_bucket: s3.IBucket | None = None,
        source_key: str = "toolchain/source.zip",
        encryption_key: kms.IKey | None = None,
        bootstrap_qualifier: str = "hnb659fds",
        batch_size: int = 10,
        retry_attempts: int = 3,
        build_timeout: cdk.Duration | None = None,
        access_logs_bucket: s3.IBucket | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if not 1 <= batch_size <= 1000:
            raise ValueError(f"batch_size must be between 1 and 1000, got {batch_size}")
        if not 0 <= retry_attempts <= 10000:
            raise ValueError(f"retry_attempts must be between 0 and 10000, got {retry_attempts}")
        if not cdk.Token.is_unresolved(bootstrap_qualifier) and not (
            bootstrap_qualifier.isalnum() and len(bootstrap_qualifier) <= 10
        ):
            raise ValueError(f"bootstrap_qualifier must be up to 10 letters or digits, got {bootstrap_qualifier!r}")
        if not source_key or source_key.startswith("/"):
            raise ValueError(f"source_key must be a non-empty key without a leading '/', got {source_key!r}")
        if source_bucket is not None and access_logs_bucket is not None:
            raise ValueError("access_logs_bucket only applies to a created source bucket; got source_bucket too")
        stack = cdk.Stack.of(self)

        if encryption_key is None:
            encryption_key = logs_key(
                self, "Encrypts the deployment provisioner's queue, logs, builds and idempotency table"
            )
        self.encryption_key = encryption_key

        if source_bucket is None:
            source_bucket = s3.Bucket(
                self,
                "SourceBucket",
                encryption=s3.BucketEncryption.KMS,
                encryption_key=encryption_key,
                bucket_key_enabled=True,
                enforce_ssl=True,
                versioned=True,
                block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
                server_access_logs_bucket=access_logs_bucket,
                server_access_logs_prefix="source-bucket/" if access_logs_bucket else None,
                removal_policy=cdk.RemovalPolicy.RETAIN,
            )
            if access_logs_bucket is None:
                cdk.Validations.of(source_bucket).acknowledge(
                    cdk.Acknowledgment(
                        id="AwsSolutions-S1",
                        reason="Written only by the toolchain pipeline; CloudTrail data events audit access",
                    )
                )
        self.source_bucket = source_bucket
        self.source_key = source_key

        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=encryption_key,
            enforce_ssl=True,
            retention_period=cdk.Duration.days(14),
        )
        cdk.Validations.of(self.dead_letter_queue).acknowledge(
            cdk.Acknowledgment(id="AwsSolutions-SQS3", reason="This queue is the dead-letter queue")
        )

        self.idempotency_table = dynamodb.Table(
            self,
            "IdempotencyTable",
            partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute="expiration",
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=encryption_key,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )

        timeout = build_timeout or cdk.Duration.minutes(60)
        self.provisioning_project = self._project(
            "ProvisioningProject",
            "Deploys one tenant deployment's pipeline stack (cdk deploy <type>-<id>-pipeline)",
            provisioning_build_spec(),
            timeout,
        )
        self.deprovisioning_project = self._project(
            "DeprovisioningProject",
            "Destroys one tenant deployment's component stacks and pipeline stack",
            deprovisioning_build_spec(),
            timeout,
        )
        # The toolchain account's own bootstrap roles. Any region: `cdk deploy` of a pipeline stack also
        # deploys CDK Pipelines' cross-region support stack in the component's region (toolchain account).
        kinds = ("deploy", "file-publishing", "lookup")
        toolchain_roles = [
            f"arn:{stack.partition}:iam::{stack.account}:role/cdk-{bootstrap_qualifier}-{kind}-role-{stack.account}-*"
            for kind in kinds
        ]
        for project in (self.provisioning_project, self.deprovisioning_project):
            project.add_to_role_policy(
                iam.PolicyStatement(
                    sid="AssumeToolchainBootstrapRoles", actions=["sts:AssumeRole"], resources=toolchain_roles
                )
            )
            for kind in kinds:
                cdk.Validations.of(project).acknowledge(
                    cdk.Acknowledgment(
                        id=f"AwsSolutions-IAM5[Resource::arn:{nag_part(stack.partition, 'Partition')}:iam::"
                        f"{nag_part(stack.account, 'AccountId')}:role/cdk-{bootstrap_qualifier}-{kind}-role-"
                        f"{nag_part(stack.account, 'AccountId')}-*]",
                        reason="The toolchain account's own CDK bootstrap role in each component region "
                        "(regions come from deployment records)",
                    )
                )
        # Component stacks live in whichever account/region a record names: the account is data.
        component_deploy_roles = f"arn:{stack.partition}:iam::*:role/cdk-{bootstrap_qualifier}-deploy-role-*"
        self.deprovisioning_project.add_to_role_policy(
            iam.PolicyStatement(
                sid="AssumeComponentDeployRoles",
                actions=["sts:AssumeRole"],
                resources=[component_deploy_roles],
            )
        )
        cdk.Validations.of(self.deprovisioning_project).acknowledge(
            cdk.Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::*:role/cdk-{bootstrap_qualifier}"
                "-deploy-role-*]",
                reason="Component accounts and regions come from deployment records; only the CDK bootstrap "
                "deploy roles (which trust the toolchain account) can be assumed",
            )
        )

        self.provisioner = TenantFunction(
            self,
            "Provisioner",
            handler="deployment_provisioner",
            service="deployment-provisioner",
            key=encryption_key,
            environment={
                "DEPLOYMENT_TABLE": table.table_name,
                "PROVISIONING_PROJECT": self.provisioning_project.project_name,
                "DEPROVISIONING_PROJECT": self.deprovisioning_project.project_name,
                "IDEMPOTENCY_TABLE": self.idempotency_table.table_name,
            },
            timeout=cdk.Duration.minutes(1),
            description="Starts a provisioning or deprovisioning build per deployment table change",
        )
        provisioner_fn = self.provisioner.function
        table.grant_read_write_data(provisioner_fn)
        self.idempotency_table.grant_read_write_data(provisioner_fn)
        provisioner_fn.add_to_role_policy(
            iam.PolicyStatement(
                sid="StartTenantBuilds",
                actions=["codebuild:StartBuild"],
                resources=[self.provisioning_project.project_arn, self.deprovisioning_project.project_arn],
            )
        )
        provisioner_fn.add_to_role_policy(
            iam.PolicyStatement(
                # A record removed while its provisioning build runs: that build is stopped first.
                sid="StopProvisioningBuilds",
                actions=["codebuild:StopBuild"],
                resources=[self.provisioning_project.project_arn],
            )
        )
        provisioner_fn.add_to_role_policy(
            iam.PolicyStatement(
                # A stopped build is waited for before anything else of that deployment starts; a redelivered
                # REMOVE checks whether its deprovisioning build already ran.
                sid="ReadTenantBuilds",
                actions=["codebuild:BatchGetBuilds"],
                resources=[self.provisioning_project.project_arn, self.deprovisioning_project.project_arn],
            )
        )
        provisioner_fn.add_event_source(
            sources.DynamoEventSource(
                table.table,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=batch_size,
                bisect_batch_on_error=True,
                retry_attempts=retry_attempts,
                report_batch_item_failures=True,
                on_failure=sources.SqsDlq(self.dead_letter_queue),
            )
        )

        self.status_updater = TenantFunction(
            self,
            "StatusUpdater",
            handler="deployment_status",
            service="deployment-status",
            key=encryption_key,
            environment={"DEPLOYMENT_TABLE": table.table_name},
            timeout=cdk.Duration.seconds(30),
            description="Records CodeBuild state changes of tenant builds as deployment status",
        )
        table.grant_read_write_data(self.status_updater.function)
        self.build_state_rule = events.Rule(
            self,
            "BuildStateRule",
            description="Tenant provisioning/deprovisioning build state changes",
            event_pattern=events.EventPattern(
                source=["aws.codebuild"],
                detail_type=["CodeBuild Build State Change"],
                detail={
                    "project-name": [
                        self.provisioning_project.project_name,
                        self.deprovisioning_project.project_name,
                    ],
                    "build-status": _BUILD_STATES,
                },
            ),
            targets=[
                targets.LambdaFunction(
                    self.status_updater.function,
                    dead_letter_queue=self.dead_letter_queue,
                    retry_attempts=8,
                    max_event_age=cdk.Duration.hours(24),
                )
            ],
        )
        encryption_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowEventBridgeDeadLetters",
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                # The rule's own ARN would make a cycle (key -> rule -> project -> key): rules of this account.
                conditions={
                    "ArnLike": {"aws:SourceArn": stack.format_arn(service="events", resource="rule", resource_name="*")}
                },
            )
        )

    def _project(
        self, construct_id: str, description: str, spec: dict[str, Any], timeout: cdk.Duration
    ) -> codebuild.Project:
        log_group = logs.LogGroup(
            self,
            f"{construct_id}Logs",
            retention=logs.RetentionDays.ONE_YEAR,
            encryption_key=self.encryption_key,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        project = codebuild.Project(
            self,
            construct_id,
            description=description,
            source=codebuild.Source.s3(bucket=self.source_bucket, path=self.source_key),
            build_spec=codebuild.BuildSpec.from_object(spec),
            environment=codebuild.BuildEnvironment(
                build_image=codebuild.LinuxBuildImage.STANDARD_7_0,
                compute_type=codebuild.ComputeType.SMALL,
            ),
            encryption_key=self.encryption_key,
            timeout=timeout,
            logging=codebuild.LoggingOptions(cloud_watch=codebuild.CloudWatchLoggingOptions(log_group=log_group)),
        )
        role = project.role
        if role is None:
            raise TypeError(f"{project.node.path} has no role")
        ref = stack_ref(project)
        for finding, reason in {
            **{
                f"AwsSolutions-IAM5[Action::{action}]": "CDK grant on the one source bucket and the one key"
                for action in ("s3:GetBucket*", "s3:GetObject*", "s3:List*", "kms:GenerateDataKey*", "kms:ReEncrypt*")
            },
            f"AwsSolutions-IAM5[Resource::{arn_prefix(self, 'logs')}:log-group:/aws/codebuild/<{ref}>:*]": (
                "CodeBuild default: log streams of the project's own default log group"
            ),
            f"AwsSolutions-IAM5[Resource::{arn_prefix(self, 'codebuild')}:report-group/<{ref}>-*]": (
                "CodeBuild default: the project's own report groups"
            ),
        }.items():
            cdk.Validations.of(role).acknowledge(cdk.Acknowledgment(id=finding, reason=reason))
        return project
