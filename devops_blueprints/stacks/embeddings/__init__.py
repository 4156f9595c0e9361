"""Image embedding stacks: :class:`EmbeddingStack`."""

from __future__ import annotations

from devops_blueprints.stacks.embeddings.embedding import EmbeddingStack as EmbeddingStack
