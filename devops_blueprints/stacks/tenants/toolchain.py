"""The toolchain stack of the tenant-deployment flow (ARCHITECTURE.md section 2).

Deployment table -> provisioner (stream -> CodeBuild -> one pipeline stack per deployment) and a
self-mutating CI/CD pipeline for the toolchain app whose last steps publish the released source (what
the provisioning builds run) and start the release orchestrator, which updates every ACTIVE
deployment's pipeline wave by wave.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_codecommit as codecommit
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import pipelines
from constructs import Construct

from devops_blueprints.constructs.key_policies import logs_key
from devops_blueprints.constructs.tenants.deployment_provisioner import DeploymentProvisioner
from devops_blueprints.constructs.tenants.deployment_table import DeploymentTable
from devops_blueprints.constructs.tenants.release_orchestrator import ReleaseOrchestrator
from devops_blueprints.stacks.tenants._cdk_pipelines import acknowledge_pipeline_findings
from devops_blueprints.stacks.tenants._security_scan import security_scan_step
from devops_blueprints.stacks.tenants.deployment_pipeline import (
    CDK_CLI_VERSION,
    DEFAULT_BRANCH,
    source_from_context,
    toolchain_source,
)

__all__ = ["ToolchainStack"]


class ToolchainStack(cdk.Stack):
    """Table, provisioner, release orchestrator and the toolchain's own self-mutating pipeline.

    Source (exactly one; default: from context ``toolchain_connection_arn``/``toolchain_repository``/
    ``toolchain_branch`` or ``toolchain_codecommit_repository``, else a placeholder connection with a
    warning):

    :param connection_arn: a CodeConnections (CodeStar Connections) connection to GitHub, GitLab or
        Bitbucket, with ``repository`` (``owner/name``).
    :param repository: ``owner/name`` of the connected repository.
    :param code_commit_repository: an existing CodeCommit repository instead of a connection.
    :param branch: Default: ``main``.

    Others:

    :param table: an existing deployment table (with its stream ARN). Default: a new ``DeploymentTable``.
    :param concurrency: pipelines updated at once within a release wave. Default: 10.
    :param failure_budget: failed deployments a release tolerates. Default: 0.
    :param poll_interval: between pipeline status checks. Default: 30 seconds.
    :param bootstrap_qualifier: CDK bootstrap qualifier of every account. Default: ``hnb659fds``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        connection_arn: str | None = None,
        repository: str | None = None,
        code_commit_repository: codecommit.IRepository | None = None,
        branch: str | None = None,
        table: dynamodb.ITable | None = None,
        concurrency: int = 10,
        failure_budget: int = 0,
        poll_interval: cdk.Duration | None = None,
        bootstrap_qualifier: str = "hnb659fds",
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        if connection_arn is None and code_commit_repository is None:
            if repository is not None or branch is not None:
                raise ValueError(
                    "ToolchainStack: repository/branch need connection_arn or code_commit_repository, "
                    f"got repository={repository!r}, branch={branch!r} and neither"
                )
            source = source_from_context(self, trigger=True)
        else:
            source = toolchain_source(
                connection_arn=connection_arn,
                repository=repository,
                branch=branch or DEFAULT_BRANCH,
                code_commit_repository=code_commit_repository,
                trigger=True,
            )

        self.encryption_key = logs_key(
            self, "Encrypts the tenant toolchain's queue, logs, builds, source bundle and idempotency table"
        )
        self.deployment_table = DeploymentTable(self, "DeploymentTable", table=table)
        self.provisioner = DeploymentProvisioner(
            self,
            "Provisioner",
            table=self.deployment_table,
            encryption_key=self.encryption_key,
            bootstrap_qualifier=bootstrap_qualifier,
        )
        self.orchestrator = ReleaseOrchestrator(
            self,
            "ReleaseOrchestrator",
            table=self.deployment_table,
            concurrency=concurrency,
            failure_budget=failure_budget,
            poll_interval=poll_interval,
            encryption_key=self.encryption_key,
        )

        self.pipeline = pipelines.CodePipeline(
            self,
            "Pipeline",
            synth=pipelines.ShellStep(
                "Synth",
                input=source,
                install_commands=[
                    "python -m pip install --quiet -r requirements.txt",
                    f"npm install --global --no-audit --no-fund aws-cdk@{CDK_CLI_VERSION}",
                ],
                commands=["cdk synth --no-notices"],
            ),
            cross_account_keys=True,
            enable_key_rotation=True,
            publish_assets_in_parallel=False,
            cli_version=CDK_CLI_VERSION,
        )
        bucket = self.provisioner.source_bucket
        publish = pipelines.CodeBuildStep(
            "PublishSource",
            input=source,
            env={"SOURCE_BUCKET": bucket.bucket_name, "SOURCE_KEY": self.provisioner.source_key},
            commands=[
                'zip -qr "$CODEBUILD_SRC_DIR/../source.zip" . -x ".git/*" "cdk.out/*" ".venv/*" ".tools/*"',
                'aws s3 cp "$CODEBUILD_SRC_DIR/../source.zip" "s3://${SOURCE_BUCKET}/${SOURCE_KEY}"',
            ],
            role_policy_statements=[
                iam.PolicyStatement(
                    actions=["s3:PutObject"],
                    resources=[bucket.arn_for_objects(self.provisioner.source_key)],
                ),
                iam.PolicyStatement(
                    actions=["kms:GenerateDataKey", "kms:Encrypt"],
                    resources=[self.encryption_key.key_arn],
                ),
            ],
        )
        start = pipelines.CodeBuildStep(
            "StartRelease",
            env={"STATE_MACHINE_ARN": self.orchestrator.state_machine.state_machine_arn},
            commands=[
                'aws stepfunctions start-execution --state-machine-arn "$STATE_MACHINE_ARN" '
                '--name "release-$(date -u +%Y%m%dT%H%M%S)-${CODEBUILD_BUILD_NUMBER}"',
            ],
            role_policy_statements=[
                iam.PolicyStatement(
                    actions=["states:StartExecution"],
                    resources=[self.orchestrator.state_machine.state_machine_arn],
                )
            ],
        )
        start.add_step_dependency(publish)
        # Nothing is published or released before the source passes the security scan.
        self.security_scan = security_scan_step(source)
        # A wave without stages runs pre and post steps side by side: order them explicitly.
        publish.add_step_dependency(self.security_scan)
        self.pipeline.add_wave("Release", pre=[self.security_scan], post=[publish, start])
        self.pipeline.build_pipeline()
        acknowledge_pipeline_findings(self.pipeline, extra_steps=(self.security_scan, publish, start))
