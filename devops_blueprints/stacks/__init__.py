"""Deployable stacks composed from the constructs."""

from __future__ import annotations

# One line per public stack (explicit re-exports: `import X as X`).
from devops_blueprints.stacks.anomalous_lambda import AnomalousLambdaStack as AnomalousLambdaStack
from devops_blueprints.stacks.container_insights_ecs import ContainerInsightsEcsStack as ContainerInsightsEcsStack
from devops_blueprints.stacks.deployment_pipeline import DeploymentPipelineStack as DeploymentPipelineStack
from devops_blueprints.stacks.devops_guru import DevOpsGuruStack as DevOpsGuruStack
from devops_blueprints.stacks.embedding import EmbeddingStack as EmbeddingStack
from devops_blueprints.stacks.governance import GovernanceStack as GovernanceStack
from devops_blueprints.stacks.serverless_sample import ServerlessSampleStack as ServerlessSampleStack
from devops_blueprints.stacks.toolchain import ToolchainStack as ToolchainStack
