"""Image embedding constructs: :class:`ImageEmbeddingPipeline` (S3 -> AWS Batch -> DynamoDB)."""

from __future__ import annotations

from devops_blueprints.constructs.embeddings.embedding import ImageEmbeddingPipeline as ImageEmbeddingPipeline
