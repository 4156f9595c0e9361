"""EKS container observability (issue 17): the cluster construct and AMP + KEDA (CDK), and the plain-Python parts
they build on — versions in one place, Kubernetes manifests of the samples, their offline schema validation, and
a PromQL syntax check."""

from __future__ import annotations

from devops_blueprints.constructs.observability.eks.cluster import ContainerInsightsMode as ContainerInsightsMode
from devops_blueprints.constructs.observability.eks.cluster import NodeGroupOptions as NodeGroupOptions
from devops_blueprints.constructs.observability.eks.cluster import ObservedEksCluster as ObservedEksCluster
from devops_blueprints.constructs.observability.eks.prometheus import PrometheusScaling as PrometheusScaling
from devops_blueprints.constructs.observability.eks.promql import check_promql as check_promql
from devops_blueprints.constructs.observability.eks.schema import ManifestError as ManifestError
from devops_blueprints.constructs.observability.eks.schema import validate_manifest as validate_manifest
from devops_blueprints.constructs.observability.eks.schema import validate_manifests as validate_manifests
from devops_blueprints.constructs.observability.eks.versions import KEDA_CHART as KEDA_CHART
from devops_blueprints.constructs.observability.eks.versions import KUBERNETES_VERSION as KUBERNETES_VERSION
from devops_blueprints.constructs.observability.eks.versions import HelmChartVersion as HelmChartVersion
from devops_blueprints.constructs.observability.eks.versions import check_kubernetes_version as check_kubernetes_version
