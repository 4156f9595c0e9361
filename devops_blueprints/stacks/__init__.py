"""Deployable stacks composed from the constructs, grouped by capability (one subpackage each)."""

from __future__ import annotations

# One line per public stack (explicit re-exports: `import X as X`), from the capability subpackages.
from devops_blueprints.stacks.embeddings import EmbeddingStack as EmbeddingStack
from devops_blueprints.stacks.guardrails import GovernanceStack as GovernanceStack
from devops_blueprints.stacks.observability import AnomalousLambdaStack as AnomalousLambdaStack
from devops_blueprints.stacks.observability import CloudWatchObservabilityStack as CloudWatchObservabilityStack
from devops_blueprints.stacks.observability import ContainerInsightsEcsStack as ContainerInsightsEcsStack
from devops_blueprints.stacks.observability import DevOpsGuruStack as DevOpsGuruStack
from devops_blueprints.stacks.observability import EksObservabilityStack as EksObservabilityStack
from devops_blueprints.stacks.observability import ServerlessSampleStack as ServerlessSampleStack
from devops_blueprints.stacks.observability import StaticSiteStack as StaticSiteStack
from devops_blueprints.stacks.tenants import DeploymentPipelineStack as DeploymentPipelineStack
from devops_blueprints.stacks.tenants import ToolchainStack as ToolchainStack
