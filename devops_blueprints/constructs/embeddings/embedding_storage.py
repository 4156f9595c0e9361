"""Storage of :class:`~devops_blueprints.constructs.embeddings.embedding.ImageEmbeddingPipeline`: the KMS key, the images
bucket (and its access-logs bucket) and the results table, each existing or created.

The functions create their resources as children of the pipeline (``scope``) with the pipeline's construct
ids (``Key``, ``AccessLogsBucket``, ``Bucket``, ``Table``).
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

#: Where the submitter writes run manifests and the job writes per-child failure reports (the bucket layout
#: the job role, submitter role and ``images_prefix`` validation rely on).
MANIFESTS_PREFIX = "manifests/"
FAILURES_PREFIX = "failures/"


@dataclass(frozen=True)
class PipelineStorage:
    """The storage a pipeline uses (created or given)."""

    encryption_key: kms.IKey | None
    access_logs_bucket: s3.IBucket | None
    bucket: s3.IBucket
    table: dynamodb.ITable


def create_storage(
    scope: Construct,
    *,
    bucket: s3.IBucket | None,
    table: dynamodb.ITable | None,
    encryption: str | None,
    encryption_key: kms.IKey | None,
    access_logs_bucket: s3.IBucket | None,
    removal_policy: cdk.RemovalPolicy,
) -> PipelineStorage:
    """The given bucket and table, or new ones (and the key and access-logs bucket they need) under ``scope``."""
    creates_storage = bucket is None or table is None
    kms_wanted = (encryption or "kms") == "kms" and creates_storage
    if encryption_key is None and kms_wanted:
        encryption_key = kms.Key(
            scope,
            "Key",
            description="Images bucket and embeddings table (devops-blueprints ImageEmbeddingPipeline)",
            enable_key_rotation=True,
            removal_policy=removal_policy,
        )
    if bucket is None:
        if access_logs_bucket is None:
            access_logs_bucket = _new_access_logs_bucket(scope, removal_policy)
        bucket = s3.Bucket(
            scope,
            "Bucket",
            encryption=s3.BucketEncryption.KMS if encryption_key else s3.BucketEncryption.S3_MANAGED,
            encryption_key=encryption_key,
            bucket_key_enabled=encryption_key is not None,
            enforce_ssl=True,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=removal_policy,
        )
        _log_access(bucket, access_logs_bucket, prefix="images-bucket/")
    if table is None:
        table = dynamodb.Table(
            scope,
            "Table",
            partition_key=dynamodb.Attribute(name="ImageId", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED
            if encryption_key
            else dynamodb.TableEncryption.AWS_MANAGED,
            encryption_key=encryption_key,
            removal_policy=removal_policy,
        )
    return PipelineStorage(
        encryption_key=encryption_key, access_logs_bucket=access_logs_bucket, bucket=bucket, table=table
    )


def _log_access(bucket: s3.Bucket, logs_bucket: s3.IBucket, *, prefix: str) -> None:
    """Server access logs of ``bucket`` into ``logs_bucket`` through a bucket policy, never ACLs.

    The L2 ``server_access_logs_bucket`` prop grants log delivery with a bucket policy only when the app sets
    ``@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy``; without that flag it switches the logs bucket to
    ACLs, which its BUCKET_OWNER_ENFORCED ownership refuses at synth. Configuring it here works in any app.
    """
    cfn_bucket = bucket.node.default_child
    if not isinstance(cfn_bucket, s3.CfnBucket):
        raise TypeError(f"{bucket.node.path} has no CfnBucket default child")
    cfn_bucket.logging_configuration = s3.CfnBucket.LoggingConfigurationProperty(
        destination_bucket_name=logs_bucket.bucket_name, log_file_prefix=prefix
    )
    logs_bucket.add_to_resource_policy(
        iam.PolicyStatement(
            principals=[iam.ServicePrincipal("logging.s3.amazonaws.com")],
            actions=["s3:PutObject"],
            resources=[logs_bucket.arn_for_objects(f"{prefix}*")],
            conditions={
                "ArnLike": {"aws:SourceArn": bucket.bucket_arn},
                "StringEquals": {"aws:SourceAccount": cdk.Stack.of(bucket).account},
            },
        )
    )


def _new_access_logs_bucket(scope: Construct, removal_policy: cdk.RemovalPolicy) -> s3.Bucket:
    logs_bucket = s3.Bucket(
        scope,
        "AccessLogsBucket",
        encryption=s3.BucketEncryption.S3_MANAGED,  # server access log delivery supports SSE-S3 only
        enforce_ssl=True,
        versioned=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        lifecycle_rules=[s3.LifecycleRule(noncurrent_version_expiration=cdk.Duration.days(90))],
        removal_policy=removal_policy,
    )
    cdk.Validations.of(logs_bucket).acknowledge(
        cdk.Acknowledgment(
            id="AwsSolutions-S1",
            reason="This is the access-logs bucket of the images bucket; logging it to itself would loop",
        )
    )
    return logs_bucket
