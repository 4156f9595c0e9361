"""Reusable constructs (one module per concern)."""

from __future__ import annotations

# One line per public construct (explicit re-exports: `import X as X`).
from devops_blueprints.constructs.deployment_provisioner import DeploymentProvisioner as DeploymentProvisioner
from devops_blueprints.constructs.deployment_table import DeploymentTable as DeploymentTable
from devops_blueprints.constructs.devops_guru_admin import DevOpsGuruDelegatedAdmin as DevOpsGuruDelegatedAdmin
from devops_blueprints.constructs.devops_guru_coverage import DevOpsGuruAppBoundary as DevOpsGuruAppBoundary
from devops_blueprints.constructs.devops_guru_coverage import DevOpsGuruStackCoverage as DevOpsGuruStackCoverage
from devops_blueprints.constructs.devops_guru_notifications import (
    DevOpsGuruNotifications as DevOpsGuruNotifications,
)
from devops_blueprints.constructs.embedding import ImageEmbeddingPipeline as ImageEmbeddingPipeline
from devops_blueprints.constructs.guardrails import OrganizationGuardrails as OrganizationGuardrails
from devops_blueprints.constructs.guardrails import ServiceControlPolicy as ServiceControlPolicy
from devops_blueprints.constructs.observed_function import ObservedFunction as ObservedFunction
from devops_blueprints.constructs.release_orchestrator import ReleaseOrchestrator as ReleaseOrchestrator
