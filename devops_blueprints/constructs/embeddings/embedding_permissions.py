"""Least privilege for :class:`~devops_blueprints.constructs.embeddings.embedding.ImageEmbeddingPipeline`: what the job
role and the submitter role may do, and the narrow cdk-nag acknowledgements of what cannot be narrower.

The functions take the resources they read as arguments, so this module sits below ``embedding`` and never
imports it.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_batch as batch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from devops_blueprints.constructs.embeddings.embedding_storage import FAILURES_PREFIX, MANIFESTS_PREFIX


def object_arn(bucket: s3.IBucket, prefix: str) -> str:
    """The ARN of the objects under ``prefix`` in ``bucket``."""
    return bucket.arn_for_objects(f"{prefix}*")


def grant_job(
    role: iam.IRole,
    *,
    bucket: s3.IBucket,
    table: dynamodb.ITable,
    images_prefix: str,
    model_key: str | None = None,
) -> None:
    """Read images and manifests (and the model object, if any), write failures, write items - nothing else."""
    if model_key is not None:
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReadModel", actions=["s3:GetObject"], resources=[bucket.arn_for_objects(model_key)]
            )
        )
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="ReadImagesAndManifests",
            actions=["s3:GetObject"],
            resources=sorted({object_arn(bucket, images_prefix), object_arn(bucket, MANIFESTS_PREFIX)}),
        )
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="WriteFailures", actions=["s3:PutObject"], resources=[object_arn(bucket, FAILURES_PREFIX)]
        )
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="WriteEmbeddings",
            actions=["dynamodb:BatchWriteItem", "dynamodb:PutItem", "dynamodb:DescribeTable"],
            resources=[table.table_arn],
        )
    )
    _grant_key(role, bucket.encryption_key, "kms:Decrypt", "kms:GenerateDataKey")
    _grant_key(role, table.encryption_key, "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey")


def grant_submitter(
    role: iam.IRole,
    *,
    bucket: s3.IBucket,
    images_prefix: str,
    job_queue: batch.IJobQueue,
    job_definition: batch.IJobDefinition,
) -> None:
    """List image prefixes, write manifests, submit to this queue with this job definition."""
    conditions = {"StringLike": {"s3:prefix": [f"{images_prefix}*"]}} if images_prefix else None
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="ListImages", actions=["s3:ListBucket"], resources=[bucket.bucket_arn], conditions=conditions
        )
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="WriteManifests", actions=["s3:PutObject"], resources=[object_arn(bucket, MANIFESTS_PREFIX)]
        )
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="SubmitEmbeddingJobs",
            actions=["batch:SubmitJob"],
            resources=[job_queue.job_queue_arn, job_definition.job_definition_arn],
        )
    )
    _grant_key(role, bucket.encryption_key, "kms:GenerateDataKey")


def _grant_key(role: iam.IRole, key: kms.IKey | None, *actions: str) -> None:
    if key is not None:
        key.grant(role, *actions)


def acknowledge_findings(
    scope: Construct,
    *,
    bucket: s3.IBucket,
    images_prefix: str,
    job_role: iam.IRole,
    submitter_role: iam.IRole,
    container: batch.IEcsContainerDefinition,
    compute_environment: batch.IComputeEnvironment,
) -> None:
    """Acknowledge, on the pipeline's own roles only, the cdk-nag findings that have no narrower fix
    (``scope``: the pipeline, whose stack renders the finding ids)."""
    stack = cdk.Stack.of(scope)
    objects = {
        object_arn(bucket, images_prefix): "the images prefix the job embeds",
        object_arn(bucket, MANIFESTS_PREFIX): "the run manifests",
        object_arn(bucket, FAILURES_PREFIX): "the per-child failure reports",
    }
    for arn, what in objects.items():
        finding = f"AwsSolutions-IAM5[Resource::{nag_text(stack, arn)}]"
        for role in (job_role, submitter_role):
            cdk.Validations.of(role).acknowledge(
                cdk.Acknowledgment(
                    id=finding, reason=f"Object-level grant limited to {what}; keys are not known at deploy time"
                )
            )
    cdk.Validations.of(submitter_role).acknowledge(
        cdk.Acknowledgment(
            id="AwsSolutions-IAM5[Resource::*]",
            reason="X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level permissions",
        )
    )
    cdk.Validations.of(container.execution_role).acknowledge(
        cdk.Acknowledgment(
            id="AwsSolutions-IAM5[Resource::*]",
            reason="ecr:GetAuthorizationToken (pulling the job image) supports no resource-level permissions",
        )
    )
    instance_role = getattr(compute_environment, "instance_role", None)
    if instance_role is not None:
        policy = "arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"
        cdk.Validations.of(instance_role).acknowledge(
            cdk.Acknowledgment(
                id=f"AwsSolutions-IAM4[Policy::{policy}]",
                reason="The ECS container instance role AWS Batch documents for EC2 compute environments; "
                "the job's own permissions are in the separate, least-privilege job role",
            )
        )


def nag_text(stack: cdk.Stack, value: str) -> str:
    """How cdk-nag prints a (possibly tokenized) ARN in a finding id: ``<Logical.Arn>/images/*``."""
    return _render(stack.resolve(value))


def _render(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if "Ref" in value:
            return f"<{value['Ref']}>"
        if "Fn::GetAtt" in value:
            logical, attribute = value["Fn::GetAtt"]
            return f"<{logical}.{attribute}>"
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return str(separator).join(_render(part) for part in parts)
    raise ValueError(f"cannot render {value!r} as a cdk-nag resource")
