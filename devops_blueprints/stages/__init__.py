"""cdk.Stage compositions of the stacks."""

from __future__ import annotations

# One line per public stage (explicit re-exports: `import X as X`).
from devops_blueprints.stacks.tenants.deployment_pipeline import ComponentStage as ComponentStage
from devops_blueprints.stages.embedding import EmbeddingStage as EmbeddingStage
from devops_blueprints.stages.governance import GovernanceStage as GovernanceStage
from devops_blueprints.stages.observability import ObservabilityStage as ObservabilityStage
from devops_blueprints.stages.toolchain import ToolchainStage as ToolchainStage
