"""``PrometheusScaling``: an Amazon Managed Service for Prometheus (AMP) workspace encrypted with a customer key, an
AWS managed collector (``AWS::APS::Scraper``) that scrapes the cluster's annotated pods into it, and KEDA from its
Helm chart, which reads the workspace with its own EKS Pod Identity (no SigV4 proxy) to scale deployments on PromQL.

Why the managed collector and not ADOT remote write (the source article's route): the collector is agentless —
nothing to run, size or patch in the cluster, no cert-manager, no collector pods competing with the samples for the
node group — and it is a CloudFormation resource, so it comes and goes with the stack
(https://docs.aws.amazon.com/prometheus/latest/userguide/AMP-collector-how-to.html). What it costs: a scraper is
billed per hour and per sample ingested (see docs/observability-eks.md), it needs the cluster's private endpoint and
two subnets in two Availability Zones (the cluster has both), and its configuration cannot be updated in place
(a change replaces the scraper).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_aps as aps
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from devops_blueprints.constructs._regions import region_rule
from devops_blueprints.constructs.observability.eks.capacity import Demand, parse_cpu, parse_memory
from devops_blueprints.constructs.observability.eks.cluster import ObservedEksCluster, pod_identity_role
from devops_blueprints.constructs.observability.eks.schema import validate_helm_values
from devops_blueprints.constructs.observability.eks.versions import KEDA_CHART, HelmChartVersion

#: The KEDA operator's service account in the chart's namespace (``serviceAccount.operator.name``, set below);
#: the ``aws`` pod identity provider of a TriggerAuthentication uses the operator's credentials
#: (https://keda.sh/docs/latest/authentication-providers/aws/).
KEDA_OPERATOR_SERVICE_ACCOUNT = "keda-operator"
#: The PromQL read APIs KEDA's prometheus scaler calls (``/api/v1/query``) and their neighbours, on one workspace
#: (https://docs.aws.amazon.com/prometheus/latest/userguide/AMP-and-IAM.html).
QUERY_ACTIONS = ("aps:QueryMetrics", "aps:GetLabels", "aps:GetSeries", "aps:GetMetricMetadata")
#: The Kubernetes user the managed collector acts as, and what it may read
#: (https://docs.aws.amazon.com/prometheus/latest/userguide/AMP-collector-how-to.html, "Configuring your Amazon EKS
#: cluster").
COLLECTOR_USER = "aps-collector-user"
#: Requests and limits of the KEDA chart's three deployments (one replica each), set explicitly so that the
#: node-group capacity check counts what is deployed (chart keys ``resources.operator``, ``.metricServer``,
#: ``.webhooks``: https://github.com/kedacore/charts/blob/v2.21.1/keda/values.yaml).
KEDA_RESOURCES: Mapping[str, Mapping[str, Mapping[str, str]]] = {
    "operator": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "1000Mi"}},
    "metricServer": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "1000Mi"}},
    "webhooks": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
}


def keda_values() -> dict[str, Any]:
    """The KEDA chart's values: the operator's service account name (the Pod Identity association names it) and
    the resources above."""
    return {
        "serviceAccount": {"operator": {"name": KEDA_OPERATOR_SERVICE_ACCOUNT}},
        "resources": {name: {k: dict(v) for k, v in spec.items()} for name, spec in KEDA_RESOURCES.items()},
    }


def keda_demand() -> Demand:
    """What KEDA's pods request of the node group."""
    cpu = sum(parse_cpu(spec["requests"]["cpu"], where=f"KEDA {name}") for name, spec in KEDA_RESOURCES.items())
    memory = sum(
        parse_memory(spec["requests"]["memory"], where=f"KEDA {name}") for name, spec in KEDA_RESOURCES.items()
    )
    return Demand("KEDA (operator, metrics API server, webhooks)", cpu, memory)


@cache
def amp_regions() -> frozenset[str]:
    """Regions with an AMP endpoint in botocore's endpoint data, every partition (the list the endpoints page,
    https://docs.aws.amazon.com/general/latest/gr/prometheus-service.html, publishes)."""
    import botocore.session

    session = botocore.session.get_session()
    regions: set[str] = set()
    for partition in session.get_available_partitions():
        regions.update(session.get_available_regions("amp", partition_name=partition))
    return frozenset(regions)


def check_amp_region(region: str) -> None:
    """One ValueError for a literal region without AMP (unresolved regions are checked at deploy time by a rule)."""
    if cdk.Token.is_unresolved(region):
        return
    if region not in amp_regions():
        raise ValueError(
            f"region {region} has no Amazon Managed Service for Prometheus endpoint "
            "(https://docs.aws.amazon.com/general/latest/gr/prometheus-service.html); deploy the EKS observability "
            f"stack to one of: {', '.join(sorted(amp_regions()))}"
        )


def scrape_configuration(*, interval_seconds: int = 30) -> dict[str, Any]:
    """Prometheus configuration of the collector: every pod annotated ``prometheus.io/scrape: "true"`` (port and
    path from ``prometheus.io/port`` and ``prometheus.io/path``), labelled with its namespace and pod. YAML is a
    superset of JSON, so the JSON form is the configuration file
    (https://docs.aws.amazon.com/prometheus/latest/userguide/AMP-collector-how-to.html, "Scraper configuration")."""
    if isinstance(interval_seconds, bool) or not 1 <= interval_seconds <= 300:
        raise ValueError(f"scrape interval must be 1..300 seconds, got {interval_seconds!r}")
    return {
        "global": {"scrape_interval": f"{interval_seconds}s"},
        "scrape_configs": [
            {
                "job_name": "annotated-pods",
                "kubernetes_sd_configs": [{"role": "pod"}],
                "relabel_configs": [
                    {
                        "source_labels": ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"],
                        "action": "keep",
                        "regex": "true",
                    },
                    {
                        "source_labels": ["__address__", "__meta_kubernetes_pod_annotation_prometheus_io_port"],
                        "action": "replace",
                        "regex": r"([^:]+)(?::\d+)?;(\d+)",
                        "replacement": "$1:$2",
                        "target_label": "__address__",
                    },
                    {
                        "source_labels": ["__meta_kubernetes_pod_annotation_prometheus_io_path"],
                        "action": "replace",
                        "regex": "(.+)",
                        "target_label": "__metrics_path__",
                    },
                    {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
                    {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
                ],
            }
        ],
    }


def collector_rbac() -> list[dict[str, Any]]:
    """The ClusterRole and ClusterRoleBinding the managed collector's Kubernetes user needs (the AMP guide's)."""
    read = ["get", "list", "watch"]
    return [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "aps-collector-role"},
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": [
                        "nodes",
                        "nodes/proxy",
                        "nodes/metrics",
                        "services",
                        "endpoints",
                        "pods",
                        "configmaps",
                    ],
                    "verbs": read,
                },
                {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses", "ingresses/status"], "verbs": read},
                {"nonResourceURLs": ["/metrics"], "verbs": ["get"]},
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "aps-collector-user-role-binding"},
            "subjects": [{"kind": "User", "name": COLLECTOR_USER, "apiGroup": "rbac.authorization.k8s.io"}],
            "roleRef": {"kind": "ClusterRole", "name": "aps-collector-role", "apiGroup": "rbac.authorization.k8s.io"},
        },
    ]


class PrometheusScaling(Construct):
    """AMP workspace + managed collector for an :class:`ObservedEksCluster`, and KEDA reading it.

    :param cluster: the cluster to scrape and to install KEDA into.
    :param encryption_key: the workspace's customer key. Default: a new key with rotation on.
    :param scrape_interval_seconds: of the collector. Default: 30.
    :param keda_chart: the KEDA Helm chart. Default: ``versions.KEDA_CHART``.
    :param create_collector_access_entry: create the access entry of the collector's role (user
        ``aps-collector-user``) in the stack. Default: False, on the assumption that AMP creates it itself for a
        cluster in the API authentication mode (the scraper's service-linked role policy holds
        ``eks:DeleteAccessEntry`` for the entry it manages), where a second entry would fail the deploy. Not
        verified offline (docs/observability-eks.md); set it where AMP does not create one.
    :param removal_policy: of the key. Default: DESTROY (a sample).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cluster: ObservedEksCluster,
        encryption_key: kms.IKey | None = None,
        scrape_interval_seconds: int = 30,
        keda_chart: HelmChartVersion = KEDA_CHART,
        create_collector_access_entry: bool = False,
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.DESTROY,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        check_amp_region(stack.region)
        config = scrape_configuration(interval_seconds=scrape_interval_seconds)
        self.eks = cluster
        # An environment-agnostic stack: the region is known at deploy time, so a rule refuses the regions without
        # AMP before any resource is created.
        region_rule(
            self,
            "AmpRegion",
            amp_regions(),
            "Amazon Managed Service for Prometheus is not available in this Region "
            "(https://docs.aws.amazon.com/general/latest/gr/prometheus-service.html)",
        )
        self.encryption_key: kms.IKey = encryption_key or kms.Key(
            self,
            "Key",
            description=f"Encrypts the Amazon Managed Service for Prometheus workspace of {cluster.cluster_name}",
            enable_key_rotation=True,
            removal_policy=removal_policy,
        )
        self.workspace = aps.CfnWorkspace(
            self,
            "Workspace",
            alias=f"{cluster.cluster_name}-metrics",
            kms_key_arn=self.encryption_key.key_arn,
        )
        self.workspace_arn = self.workspace.attr_arn
        #: KEDA's serverAddress: the workspace's Prometheus-compatible root, without the trailing slash the
        #: ``PrometheusEndpoint`` attribute has (KEDA appends ``/api/v1/query``).
        self.query_endpoint = cdk.Fn.join(
            "",
            [
                "https://aps-workspaces.",
                cdk.Aws.REGION,
                ".",
                cdk.Aws.URL_SUFFIX,
                "/workspaces/",
                self.workspace.attr_workspace_id,
            ],
        )
        eks_cluster = cluster.cluster
        self.scraper = aps.CfnScraper(
            self,
            "Scraper",
            alias=f"{cluster.cluster_name}-scraper",
            source=aps.CfnScraper.SourceProperty(
                eks_configuration=aps.CfnScraper.EksConfigurationProperty(
                    cluster_arn=eks_cluster.cluster_arn,
                    subnet_ids=cluster.vpc.select_subnets(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS).subnet_ids,
                    security_group_ids=[eks_cluster.cluster_security_group_id],
                )
            ),
            destination=aps.CfnScraper.DestinationProperty(
                amp_configuration=aps.CfnScraper.AmpConfigurationProperty(workspace_arn=self.workspace_arn)
            ),
            scrape_configuration=aps.CfnScraper.ScrapeConfigurationProperty(
                configuration_blob=base64.b64encode(json.dumps(config, sort_keys=True).encode()).decode()
            ),
        )
        self.scraper.node.add_dependency(eks_cluster)
        self.collector_rbac = cluster.add_validated_manifest("CollectorRbac", collector_rbac())
        self.collector_access_entry: eks.CfnAccessEntry | None = None
        if create_collector_access_entry:
            self.collector_access_entry = eks.CfnAccessEntry(
                self,
                "CollectorAccess",
                cluster_name=eks_cluster.cluster_name,
                principal_arn=self.scraper.attr_role_arn,
                username=COLLECTOR_USER,
            )
        values = keda_values()
        validate_helm_values(
            values, kubernetes_version=cluster.kubernetes_version, where=f"{self.node.path}/Keda values"
        )
        self.keda = eks_cluster.add_helm_chart(
            "Keda",
            chart=keda_chart.chart,
            repository=keda_chart.repository,
            version=keda_chart.version,
            namespace=keda_chart.namespace,
            release="keda",
            create_namespace=True,
            wait=True,
            values=values,
        )
        self.keda.node.add_dependency(cluster.nodegroup)
        cluster.reserve(keda_demand())
        self.keda_role = pod_identity_role(
            self,
            "KedaOperatorRole",
            description=f"KEDA operator of {cluster.cluster_name}: PromQL reads of one workspace",
        )
        self.keda_role.add_to_policy(iam.PolicyStatement(actions=list(QUERY_ACTIONS), resources=[self.workspace_arn]))
        self.keda_association = cluster.pod_identity(
            "KedaOperatorIdentity",
            namespace=keda_chart.namespace,
            service_account=KEDA_OPERATOR_SERVICE_ACCOUNT,
            role=self.keda_role,
        )
        # The operator picks up Pod Identity credentials when its pods start: associate first.
        self.keda.node.add_dependency(self.keda_association)

    def scale(
        self, construct_id: str, objs: Sequence[Mapping[str, Any]], *, target: Construct | None = None
    ) -> Construct:
        """Apply KEDA objects (a TriggerAuthentication and ScaledObject from ``manifests.keda_scaling``), validated,
        after KEDA's CRDs (the chart) and the ``target`` manifest exist."""
        manifest = self.eks.add_validated_manifest(construct_id, objs)
        manifest.node.add_dependency(self.keda)
        if target is not None:
            manifest.node.add_dependency(target)
        return manifest
