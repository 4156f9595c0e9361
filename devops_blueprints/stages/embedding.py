"""EmbeddingStage: the image embedding pipeline as a deployable stage."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from constructs import Construct

from devops_blueprints.stacks.embeddings.embedding import EmbeddingStack


class EmbeddingStage(cdk.Stage):
    """One stack, ``Embedding`` (:class:`EmbeddingStack`): bucket, table, VPC, AWS Batch, submitter, dashboard.

    ``EmbeddingStage(app, "Embedding")`` deploys the Fargate (CPU) pipeline with every default.

    :param compute_type: ``"fargate"``, ``"fargate-spot"``, ``"ec2"`` or ``"spot"``. Default: ``"fargate"``.
    :param gpu_count: GPUs per job (needs ``"ec2"`` or ``"spot"``). Default: 0.
    :param max_vcpus: the compute environment's vCPU ceiling. Default: 256.
    :param images_prefix: the key prefix the job may read. Default: ``"images/"``.
    :param removal_policy: what happens to the bucket, table, key and logs on removal. Default: ``RETAIN``.
    :param pipeline_options: any other ``ImageEmbeddingPipeline`` prop. Default: none.
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
        super().__init__(scope, construct_id, **kwargs)
        self._embedding = EmbeddingStack(
            self,
            "Embedding",
            compute_type=compute_type,
            gpu_count=gpu_count,
            max_vcpus=max_vcpus,
            images_prefix=images_prefix,
            removal_policy=removal_policy,
            pipeline_options=pipeline_options,
        )

    @property
    def embedding(self) -> EmbeddingStack:
        """The stage's one stack."""
        return self._embedding
