"""Tenant deployment stacks: the toolchain and the per-deployment pipeline (and the deployment synth mode).

``component_execution_policy.json`` beside these modules is the execution policy of the component stacks
(package data, shipped in the wheel).
"""

from __future__ import annotations

from devops_blueprints.stacks.tenants.deployment_pipeline import DeploymentPipelineStack as DeploymentPipelineStack
from devops_blueprints.stacks.tenants.toolchain import ToolchainStack as ToolchainStack
