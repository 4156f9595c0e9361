"""EmbeddingStack: the image embedding pipeline (ARCHITECTURE.md section 3) as one deployable stack."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from constructs import Construct

from devops_blueprints.constructs.embeddings.embedding import ImageEmbeddingPipeline


class EmbeddingStack(cdk.Stack):
    """An :class:`ImageEmbeddingPipeline` with everything created, plus outputs to drive it.

    Outputs: ``BucketName`` (upload images under ``images_prefix``), ``TableName`` (the vectors),
    ``SubmitterFunctionName`` (invoke with ``{"Paths": ["images/"]}``), ``JobQueueArn``, ``DashboardName``.

    :param compute_type: ``"fargate"``, ``"fargate-spot"``, ``"ec2"`` or ``"spot"``. Default: ``"fargate"``.
    :param gpu_count: GPUs per job (needs ``"ec2"`` or ``"spot"``). Default: 0.
    :param max_vcpus: the compute environment's vCPU ceiling. Default: 256.
    :param images_prefix: the key prefix the job may read. Default: ``"images/"``.
    :param removal_policy: what happens to the bucket, table, key and logs on removal. Default: ``RETAIN``.
    :param pipeline_options: any other :class:`ImageEmbeddingPipeline` prop. Default: none.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        compute_type: str = "fargate",
        gpu_count: int = 0,
        max_vcpus: int = 256,
        images_prefix: str = "images/",
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
        pipeline_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault(
            "description", "Image embeddings: S3 -> AWS Batch (ResNet-18) -> DynamoDB (devops-blueprints)"
        )
        super().__init__(scope, construct_id, **kwargs)
        self._pipeline = ImageEmbeddingPipeline(
            self,
            "Pipeline",
            compute_type=compute_type,
            gpu_count=gpu_count,
            max_vcpus=max_vcpus,
            images_prefix=images_prefix,
            removal_policy=removal_policy,
            **(pipeline_options or {}),
        )
        outputs = {
            "BucketName": (self._pipeline.bucket.bucket_name, "Upload images under the images prefix here"),
            "TableName": (self._pipeline.table.table_name, "One item per image: ImageId, Vector, Dimension, ..."),
            "SubmitterFunctionName": (
                self._pipeline.submitter.function_name,
                'Invoke with {"Paths": ["images/"], "BatchSize": 1000}',
            ),
            "JobQueueArn": (self._pipeline.job_queue.job_queue_arn, "AWS Batch job queue of the embedding jobs"),
            "DashboardName": (self._pipeline.dashboard.dashboard_name, "CloudWatch dashboard of the pipeline"),
        }
        for output_id, (value, description) in outputs.items():
            cdk.CfnOutput(self, output_id, value=value, description=description)

    @property
    def pipeline(self) -> ImageEmbeddingPipeline:
        """The stack's :class:`ImageEmbeddingPipeline`."""
        return self._pipeline
