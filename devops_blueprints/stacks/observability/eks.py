"""Sample workload: container observability on Amazon EKS — the source articles' OOM-restarting sample (and a
healthy one) watched by Container Insights, restart and memory alarms for the CloudWatch engine and DevOps Guru,
and a ho11y-style deployment that KEDA scales on a PromQL query against Amazon Managed Service for Prometheus."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from devops_blueprints.constructs.observability.eks import manifests
from devops_blueprints.constructs.observability.eks.capacity import requests_of
from devops_blueprints.constructs.observability.eks.cluster import (
    ContainerInsightsMode,
    NodeGroupOptions,
    ObservedEksCluster,
)
from devops_blueprints.constructs.observability.eks.prometheus import PrometheusScaling
from devops_blueprints.constructs.observability.eks.versions import KUBERNETES_VERSION

#: Container Insights (classic) publishes pod metrics per ClusterName, Namespace and PodName, where PodName is the
#: pod's workload (Deployment) name
#: (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/container-insights-eks-classic-metrics.html).
CONTAINER_INSIGHTS_NAMESPACE = "ContainerInsights"
RESTARTS_METRIC = "pod_number_of_container_restarts"
MEMORY_OVER_LIMIT_METRIC = "pod_memory_utilization_over_pod_limit"
#: Percent of the pod's memory limit above which the memory alarm fires.
MEMORY_ALARM_PERCENT = 80
_APP_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")


def _deployment(objs: Sequence[Mapping[str, Any]], what: str) -> tuple[str, str]:
    """(namespace, name) of the one Deployment in ``objs``."""
    found = [obj for obj in objs if obj.get("kind") == "Deployment"]
    if len(found) != 1:
        raise ValueError(f"{what}: expected one Deployment, got {len(found)}")
    metadata = found[0].get("metadata") or {}
    return str(metadata.get("namespace", "default")), str(metadata["name"])


class EksObservabilityStack(cdk.Stack):
    """An :class:`ObservedEksCluster` with the samples, AMP + KEDA and the sample alarms.

    Alarms (classic Container Insights only; :attr:`alarms`, each with a literal name starting with
    ``application_name``): for the OOM and the healthy sample, container restarts (``pod_number_of_container_restarts``
    above 0 in 5 minutes) and memory over 80 % of the pod limit (``pod_memory_utilization_over_pod_limit``).

    :param application_name: the boundary application the alarms are named after. Default: ``eks-observability``.
    :param container_insights: the add-on's mode. Default: CLASSIC (the metrics the alarms and DevOps Guru read).
    :param kubernetes_version: default ``versions.KUBERNETES_VERSION``.
    :param node_group: default ``NodeGroupOptions()`` (2-4 x t3.large).
    :param public_access_cidrs: networks allowed to the API endpoint (for ``kubectl`` from there). Default: none
        (private endpoint).
    :param admin_principal_arns: IAM principals with cluster-admin access entries. Default: none.
    :param keda: AMP, the managed collector, KEDA and the scaled sample. Default: True.
    :param keda_max_replicas: the scaled sample's maximum. Default: 10.
    :param keda_query: the PromQL query KEDA scales the sample on (syntax-checked at synth). Default:
        ``manifests.SCALED_TARGET_QUERY``.
    :param keda_threshold: the query value per replica. Default: ``manifests.SCALED_TARGET_THRESHOLD``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        application_name: str = "eks-observability",
        container_insights: ContainerInsightsMode = ContainerInsightsMode.CLASSIC,
        kubernetes_version: str = KUBERNETES_VERSION,
        node_group: NodeGroupOptions | None = None,
        public_access_cidrs: Sequence[str] = (),
        admin_principal_arns: Sequence[str] = (),
        keda: bool = True,
        keda_max_replicas: int = 10,
        keda_query: str | None = None,
        keda_threshold: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        if not _APP_NAME.match(application_name or ""):
            raise ValueError(
                f"application_name must be 1-63 lower-case letters, digits or '-', starting with a letter, got "
                f"{application_name!r}"
            )
        self.application_name = application_name
        self.cluster = ObservedEksCluster(
            self,
            "Cluster",
            kubernetes_version=kubernetes_version,
            node_group=node_group,
            container_insights=container_insights,
            public_access_cidrs=public_access_cidrs,
            admin_principal_arns=admin_principal_arns,
        )
        oom = manifests.oom_sample()
        healthy = manifests.healthy_sample()
        self.oom_sample = self.cluster.add_validated_manifest("OomSample", oom)
        self.healthy_sample = self.cluster.add_validated_manifest("HealthySample", healthy)
        self.cluster.reserve(requests_of(oom))
        self.cluster.reserve(requests_of(healthy))
        self.prometheus: PrometheusScaling | None = None
        if keda:
            self._keda(keda_max_replicas, keda_query, keda_threshold)
        self.alarms: list[cloudwatch.Alarm] = []
        if container_insights is ContainerInsightsMode.CLASSIC:
            for what, objs in (("oom-sample", oom), ("healthy-sample", healthy)):
                namespace, name = _deployment(objs, what)
                self._pod_alarms(namespace, name)
        else:
            cdk.Annotations.of(self).add_warning_v2(
                "devops-blueprints:eks-otel-no-alarms",
                "OTel Container Insights publishes no ContainerInsights-namespace metrics: the restart and memory "
                "alarms of the samples are not created (recreate them as PromQL alarms)",
            )
        cdk.CfnOutput(self, "ClusterName", value=self.cluster.cluster.cluster_name)
        cdk.CfnOutput(
            self,
            "KubeconfigCommand",
            value=f"aws eks update-kubeconfig --name {self.cluster.cluster_name} --region {self.region}",
        )

    def _keda(self, max_replicas: int, query: str | None, threshold: float | None) -> None:
        self.prometheus = PrometheusScaling(self, "Prometheus", cluster=self.cluster)
        target = manifests.scaled_target_sample()
        namespace, name = _deployment(target, "scaled-target-sample")
        self.scaled_target = self.cluster.add_validated_manifest("ScaledTarget", target)
        self.cluster.reserve(requests_of(target, replicas={name: max_replicas}))
        scaling = manifests.keda_scaling(
            name=name,
            namespace=namespace,
            deployment=name,
            server_address=self.prometheus.query_endpoint,
            query=query if query is not None else manifests.SCALED_TARGET_QUERY,
            threshold=threshold if threshold is not None else manifests.SCALED_TARGET_THRESHOLD,
            region=self.region,
            min_replicas=1,
            max_replicas=max_replicas,
        )
        self.scaling = self.prometheus.scale("KedaScaling", scaling, target=self.scaled_target)

    def _pod_alarms(self, namespace: str, pod: str) -> None:
        dimensions = {"ClusterName": self.cluster.cluster_name, "Namespace": namespace, "PodName": pod}
        # (construct suffix, name suffix, description, metric, period in minutes, threshold, evaluation periods,
        # datapoints to alarm, None: all of them)
        kinds = (
            (
                "Restarts",
                "restarts",
                f"Containers of {namespace}/{pod} restarted (e.g. OOM-killed) in the last 5 minutes",
                RESTARTS_METRIC,
                5,
                0,
                1,
                None,
            ),
            (
                "MemoryOverLimit",
                "memory-over-limit",
                f"Pods of {namespace}/{pod} use over {MEMORY_ALARM_PERCENT} % of their memory limit",
                MEMORY_OVER_LIMIT_METRIC,
                1,
                MEMORY_ALARM_PERCENT,
                3,
                2,
            ),
        )
        for suffix, name, description, metric_name, minutes, threshold, periods, datapoints in kinds:
            self.alarms.append(
                cloudwatch.Alarm(
                    self,
                    f"{pod}-{suffix}",
                    alarm_name=f"{self.application_name}-{pod}-{name}",
                    alarm_description=description,
                    metric=cloudwatch.Metric(
                        namespace=CONTAINER_INSIGHTS_NAMESPACE,
                        metric_name=metric_name,
                        dimensions_map=dimensions,
                        statistic="Maximum",
                        period=cdk.Duration.minutes(minutes),
                    ),
                    threshold=threshold,
                    comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                    evaluation_periods=periods,
                    datapoints_to_alarm=datapoints,
                    treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                )
            )
