"""Reusable constructs, grouped by capability (one subpackage each, one module per concern).

``observability/`` (application boundary and CloudWatch engine; DevOps Guru coverage, notifications, delegated admin; observed functions; RUM app monitors; EKS clusters with Container Insights, AMP and KEDA), ``tenants/``
(deployment table, provisioner, release orchestrator, feature flags), ``embeddings/`` (the image embedding pipeline),
``guardrails/`` (SCPs and the OU tree). Modules directly in this package (``key_policies``,
``app_boundary``) are shared by several capabilities and import none of them.
"""

from __future__ import annotations

# One line per public construct (explicit re-exports: `import X as X`), from the capability subpackages.
from devops_blueprints.constructs.embeddings import ImageEmbeddingPipeline as ImageEmbeddingPipeline
from devops_blueprints.constructs.guardrails import OrganizationGuardrails as OrganizationGuardrails
from devops_blueprints.constructs.guardrails import ServiceControlPolicy as ServiceControlPolicy
from devops_blueprints.constructs.observability import AnomalyDetection as AnomalyDetection
from devops_blueprints.constructs.observability import ApplicationBoundary as ApplicationBoundary
from devops_blueprints.constructs.observability import CloudWatchEngine as CloudWatchEngine
from devops_blueprints.constructs.observability import CloudWatchEngineOptions as CloudWatchEngineOptions
from devops_blueprints.constructs.observability import ContainerInsightsMode as ContainerInsightsMode
from devops_blueprints.constructs.observability import DevOpsAgentSpace as DevOpsAgentSpace
from devops_blueprints.constructs.observability import DevOpsGuruAppBoundary as DevOpsGuruAppBoundary
from devops_blueprints.constructs.observability import DevOpsGuruDelegatedAdmin as DevOpsGuruDelegatedAdmin
from devops_blueprints.constructs.observability import DevOpsGuruNotifications as DevOpsGuruNotifications
from devops_blueprints.constructs.observability import DevOpsGuruStackCoverage as DevOpsGuruStackCoverage
from devops_blueprints.constructs.observability import ExtendedMetric as ExtendedMetric
from devops_blueprints.constructs.observability import InvestigationGroup as InvestigationGroup
from devops_blueprints.constructs.observability import LambdaErrorQueries as LambdaErrorQueries
from devops_blueprints.constructs.observability import NodeGroupOptions as NodeGroupOptions
from devops_blueprints.constructs.observability import ObservedEksCluster as ObservedEksCluster
from devops_blueprints.constructs.observability import ObservedFunction as ObservedFunction
from devops_blueprints.constructs.observability import PageMetric as PageMetric
from devops_blueprints.constructs.observability import PrometheusScaling as PrometheusScaling
from devops_blueprints.constructs.observability import Threshold as Threshold
from devops_blueprints.constructs.observability import WebAppMonitor as WebAppMonitor
from devops_blueprints.constructs.tenants import DeploymentProvisioner as DeploymentProvisioner
from devops_blueprints.constructs.tenants import DeploymentTable as DeploymentTable
from devops_blueprints.constructs.tenants import FlagEnvironment as FlagEnvironment
from devops_blueprints.constructs.tenants import ReleaseOrchestrator as ReleaseOrchestrator
from devops_blueprints.constructs.tenants import TenantFeatureFlags as TenantFeatureFlags
