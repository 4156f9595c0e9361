"""Every version the EKS observability sample depends on, in one place (plain Python, no CDK import).

Kubernetes 1.36 is the highest minor version that, on 2026-12-03, all of these have:

- Amazon EKS standard support: "Kubernetes 1.36 is now available in Amazon EKS"
  (https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions-standard.html); 14 months of standard
  support from its EKS release (https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html).
- aws-cdk-lib 2.275.0: ``aws_eks_v2.KubernetesVersion.V1_36`` is its newest member (no ``V1_37``).
- PyPI: ``aws-cdk.lambda-layer-kubectl-v36`` 2.0.1 (kubectl 1.36.3, helm 4.2.3), the layer ``V1_36`` asks for.
- kubernetes-validate 1.37.0 bundles the ``v1.36.0-local-strict`` JSON schemas (up to 1.37).
- KEDA 2.21 is tested against Kubernetes 1.34 - 1.36 (https://keda.sh/docs/2.22/operate/cluster/).

``tests/observability/eks/test_versions.py`` fails when these drift apart (a new aws-cdk-lib without the
version, a layer package for another minor version, a schema set without it).
"""

from __future__ import annotations

import importlib.metadata
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

KUBERNETES_VERSION: str = "1.36"
"""The cluster's Kubernetes minor version ("MAJOR.MINOR")."""

KUBECTL_LAYER_PACKAGE: str = "aws-cdk.lambda-layer-kubectl-v36"
"""The PyPI distribution with the kubectl/helm Lambda layer for ``KUBERNETES_VERSION`` (declared in
pyproject.toml, locked in requirements*.txt)."""

KUBECTL_LAYER_MODULE: str = "aws_cdk.lambda_layer_kubectl_v36"
"""The import name of ``KUBECTL_LAYER_PACKAGE``; its class is ``KubectlV36Layer``."""

KUBECTL_LAYER_CLASS: str = "KubectlV36Layer"

CDK_KUBERNETES_VERSIONS: frozenset[str] = frozenset(f"1.{minor}" for minor in range(25, 37))
"""The members ``V1_25`` .. ``V1_36`` of aws-cdk-lib 2.275.0's ``aws_eks_v2.KubernetesVersion`` (the test
compares this with the installed aws-cdk-lib)."""

SCHEMA_PACKAGE: str = "kubernetes-validate"
"""The PyPI package whose bundled JSON schemas (``kubernetes-json-schema/v<MAJOR.MINOR>.0-local-strict``)
schema.py validates manifests against."""

ADDON_VERSIONS: Mapping[str, str] = MappingProxyType(
    {
        # Container Insights: "From version v6.2.0-eksbuild.1 or later of the add-on, Container Insights with
        # OpenTelemetry metrics can be enabled" (v6.0.1 was the preview)
        # (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/install-CloudWatch-Observability-EKS-addon.html);
        # the classic enhanced mode is a configuration of the same add-on
        # (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/container-insights-eks-classic.html).
        "amazon-cloudwatch-observability": "v6.2.0-eksbuild.1",
        # https://docs.aws.amazon.com/eks/latest/userguide/pod-id-agent-setup.html
        "eks-pod-identity-agent": "v1.3.9-eksbuild.3",
    }
)
"""EKS add-on name -> pinned add-on version. Not verifiable offline: before a deploy, check that each is listed
for the cluster version by ``aws eks describe-addon-versions --kubernetes-version 1.36 --addon-name NAME``
(https://docs.aws.amazon.com/eks/latest/APIReference/API_DescribeAddonVersions.html)."""


@dataclass(frozen=True)
class HelmChartVersion:
    """A Helm chart pinned by repository, chart name and version, installed into ``namespace``."""

    repository: str
    chart: str
    version: str
    namespace: str
    app_version: str = ""


KEDA_CHART: HelmChartVersion = HelmChartVersion(
    # https://github.com/kedacore/charts/releases/tag/v2.21.1 (chart 2.21.1, app 2.21.1)
    repository="https://kedacore.github.io/charts",
    chart="keda",
    version="2.21.1",
    namespace="keda",
    app_version="2.21.1",
)

KEDA_TESTED_KUBERNETES: tuple[str, str] = ("1.34", "1.36")
"""The Kubernetes versions KEDA 2.21 is tested against, lowest and highest (https://keda.sh/docs/2.22/operate/cluster/,
"Kubernetes Compatibility")."""

KEDA_CRD_VERSION: str = "2.20.2"
"""The KEDA release whose ScaledObject and TriggerAuthentication CRDs keda_schema.py follows. The 2.21 CRDs could not
be read offline; those two schemas did not change between v2.20.2 and KEDA's main branch of 2026-08-20 (on the way
to 2.21). test_versions.py fails when the chart moves more than one minor version ahead of this."""

KEDA_CRD_SOURCE: str = f"https://github.com/kedacore/keda/tree/v{KEDA_CRD_VERSION}/config/crd/bases"

_VERSION = re.compile(r"^1\.(?P<minor>[0-9]{1,3})$")
_LAYER_DIST = re.compile(r"^aws[-_.]cdk[-_.]lambda[-_.]layer[-_.]kubectl[-_.]v(?P<minor>[0-9]+)$")


def kubectl_layer_package(version: str) -> str:
    """The PyPI name of the kubectl layer for Kubernetes ``version`` ("1.36" -> aws-cdk.lambda-layer-kubectl-v36)."""
    return f"aws-cdk.lambda-layer-kubectl-v{_minor(version)}"


def kubectl_layer_module(version: str) -> str:
    """The import name of the kubectl layer for Kubernetes ``version``."""
    return f"aws_cdk.lambda_layer_kubectl_v{_minor(version)}"


def installed_kubectl_layers() -> list[str]:
    """The Kubernetes versions ("1.36", ...) whose kubectl layer distribution is installed, sorted."""
    found: set[int] = set()
    for dist in importlib.metadata.distributions():
        match = _LAYER_DIST.match((dist.metadata["Name"] or "").lower())
        if match:
            found.add(int(match["minor"]))
    return [f"1.{minor}" for minor in sorted(found)]


def schema_versions() -> list[str]:
    """The Kubernetes versions ("1.36", ...) whose strict JSON schemas the installed kubernetes-validate bundles."""
    from importlib.resources import files

    root = files("kubernetes_validate") / "kubernetes-json-schema"
    found: set[int] = set()
    for entry in root.iterdir():
        match = re.match(r"^v1\.([0-9]+)\.0-local-strict$", entry.name)
        if match:
            found.add(int(match[1]))
    return [f"1.{minor}" for minor in sorted(found)]


def check_kubernetes_version(version: str) -> None:
    """Raise one ValueError unless ``version`` is a "1.MINOR" that aws-cdk-lib's ``KubernetesVersion`` has,
    whose kubectl layer package is installed, and whose JSON schemas the schema package bundles."""
    if not isinstance(version, str) or not _VERSION.match(version):
        raise ValueError(f'kubernetes_version must look like "1.36" (MAJOR.MINOR), got {version!r}')
    if version not in CDK_KUBERNETES_VERSIONS:
        known = ", ".join(sorted(CDK_KUBERNETES_VERSIONS, key=_minor))
        raise ValueError(
            f"kubernetes_version {version} is not a member of aws_cdk.aws_eks_v2.KubernetesVersion "
            f"(aws-cdk-lib 2.275.0 has {known})"
        )
    layers = installed_kubectl_layers()
    if version not in layers:
        have = ", ".join(kubectl_layer_package(v) for v in layers) or "none"
        raise ValueError(
            f"kubernetes_version {version} needs the kubectl layer package {kubectl_layer_package(version)}, "
            f"which is not installed (installed: {have}); the version must match the layer "
            f"({KUBECTL_LAYER_PACKAGE} is the locked one, for {KUBERNETES_VERSION})"
        )
    schemas = schema_versions()
    if version not in schemas:
        raise ValueError(
            f"kubernetes_version {version} has no JSON schemas in the installed {SCHEMA_PACKAGE} "
            f"(it bundles {', '.join(schemas) or 'none'}), so manifests cannot be validated for it"
        )


def _minor(version: str) -> int:
    match = _VERSION.match(version) if isinstance(version, str) else None
    if not match:
        raise ValueError(f'kubernetes_version must look like "1.36" (MAJOR.MINOR), got {version!r}')
    return int(match["minor"])
