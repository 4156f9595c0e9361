"""Tenant deployment constructs: the deployment table, its provisioner, the release orchestrator and the tenants'
feature flags."""

from __future__ import annotations

from devops_blueprints.constructs.tenants.deployment_provisioner import (
    DeploymentProvisioner as DeploymentProvisioner,
)
from devops_blueprints.constructs.tenants.deployment_table import DeploymentTable as DeploymentTable
from devops_blueprints.constructs.tenants.feature_flags import FlagEnvironment as FlagEnvironment
from devops_blueprints.constructs.tenants.feature_flags import TenantFeatureFlags as TenantFeatureFlags
from devops_blueprints.constructs.tenants.release_orchestrator import ReleaseOrchestrator as ReleaseOrchestrator
