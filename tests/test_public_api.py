"""The public import paths of ARCHITECTURE.md ("Repository layout"): constructs from
``devops_blueprints.constructs``, stacks from ``devops_blueprints.stacks``, stages from
``devops_blueprints.stages``.

The lists were pinned before the constructs and stacks were grouped by capability, and grow only by the
names an issue adds (the observability boundary and CloudWatch engine, issue 13; the tenants' feature flags,
issue 14; the EKS observability sample, issue 17), so a name lost (or
silently added) by a move fails here. Submodules are not part of them: module paths below the three
packages are implementation detail and follow the layout.
"""

from __future__ import annotations

import importlib
import types

import pytest

PUBLIC_NAMES = {
    "devops_blueprints.constructs": [
        "AnomalyDetection",
        "ApplicationBoundary",
        "CloudWatchEngine",
        "CloudWatchEngineOptions",
        "ContainerInsightsMode",
        "DeploymentProvisioner",
        "DeploymentTable",
        "DevOpsAgentSpace",
        "DevOpsGuruAppBoundary",
        "DevOpsGuruDelegatedAdmin",
        "DevOpsGuruNotifications",
        "DevOpsGuruStackCoverage",
        "ExtendedMetric",
        "FlagEnvironment",
        "ImageEmbeddingPipeline",
        "InvestigationGroup",
        "LambdaErrorQueries",
        "NodeGroupOptions",
        "ObservedEksCluster",
        "ObservedFunction",
        "OrganizationGuardrails",
        "PageMetric",
        "PrometheusScaling",
        "ReleaseOrchestrator",
        "ServiceControlPolicy",
        "TenantFeatureFlags",
        "Threshold",
        "WebAppMonitor",
    ],
    "devops_blueprints.stacks": [
        "AnomalousLambdaStack",
        "CloudWatchObservabilityStack",
        "ContainerInsightsEcsStack",
        "DeploymentPipelineStack",
        "DevOpsGuruStack",
        "EksObservabilityStack",
        "EmbeddingStack",
        "GovernanceStack",
        "ServerlessSampleStack",
        "StaticSiteStack",
        "ToolchainStack",
    ],
    "devops_blueprints.stages": [
        "ComponentStage",
        "EmbeddingStage",
        "GovernanceStage",
        "ObservabilityStage",
        "ToolchainStage",
    ],
}


def public_names(package: str) -> list[str]:
    """The names ``package`` exports: everything in ``dir()`` but private names, submodules and the
    ``annotations`` feature flag of ``from __future__ import annotations``."""
    module = importlib.import_module(package)
    return sorted(
        name
        for name in dir(module)
        if not name.startswith("_")
        and name != "annotations"
        and not isinstance(getattr(module, name), types.ModuleType)
    )


@pytest.mark.parametrize("package", sorted(PUBLIC_NAMES))
def test_package_exports_exactly_the_pinned_names(package: str) -> None:
    assert public_names(package) == PUBLIC_NAMES[package]


@pytest.mark.parametrize(
    ("package", "name"), [(package, name) for package, names in sorted(PUBLIC_NAMES.items()) for name in names]
)
def test_every_public_name_is_a_class_importable_from_its_package(package: str, name: str) -> None:
    exported = getattr(importlib.import_module(package), name)
    assert isinstance(exported, type)
    assert exported.__name__ == name
