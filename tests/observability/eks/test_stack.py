"""EksObservabilityStack: synthesizes clean (cdk-nag, cfn-lint) and matches its snapshot; every manifest it applies
validates against its schema; the samples' restart and memory alarms read Container Insights' pod metrics and
have the literal names the CloudWatch engine's composite alarm needs; KEDA scales the ho11y-style target on a
PromQL query against the workspace; one clear error for each kind of bad input."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from devops_blueprints.constructs.observability.eks import cluster as cluster_module
from devops_blueprints.constructs.observability.eks import manifests
from devops_blueprints.constructs.observability.eks.cluster import ContainerInsightsMode, NodeGroupOptions
from devops_blueprints.constructs.observability.eks.schema import validate_manifests
from devops_blueprints.constructs.observability.eks.versions import ADDON_VERSIONS, KUBERNETES_VERSION
from devops_blueprints.stacks import EksObservabilityStack
from tests.support.cdk import cfn_lint_errors, nag_findings, new_app, scrub


def _stack(**kwargs: Any) -> EksObservabilityStack:
    return EksObservabilityStack(new_app(), "EksObservability", **kwargs)


@pytest.fixture(scope="module")
def stack() -> EksObservabilityStack:
    return _stack()


@pytest.fixture(scope="module")
def template(stack: EksObservabilityStack) -> dict[str, Any]:
    return Template.from_stack(stack).to_json()


def test_cdk_nag_has_no_unacknowledged_findings(stack: EksObservabilityStack) -> None:
    assert nag_findings(stack) == []


def test_cfn_lint_has_no_errors(template: dict[str, Any]) -> None:
    assert cfn_lint_errors(template) == []


def test_template_snapshot(template: dict[str, Any], snapshot: SnapshotAssertion) -> None:
    assert scrub(template) == snapshot.use_extension(JSONSnapshotExtension)


def _applied(template: dict[str, Any]) -> list[dict[str, Any]]:
    """Every object the stack applies with kubectl whose manifest is a literal JSON string."""
    objs: list[dict[str, Any]] = []
    for resource in template["Resources"].values():
        if resource["Type"] == "Custom::AWSCDK-EKS-KubernetesResource":
            manifest = resource["Properties"]["Manifest"]
            if isinstance(manifest, str):
                objs.extend(json.loads(manifest))
    return objs


def test_every_applied_manifest_validates_against_its_schema(template: dict[str, Any]) -> None:
    objs = _applied(template)
    kinds = {obj["kind"] for obj in objs}
    assert {"Deployment", "ClusterRole", "ClusterRoleBinding"} <= kinds
    validate_manifests(objs, kubernetes_version=KUBERNETES_VERSION)


def test_the_keda_objects_point_at_the_workspace_with_pod_identity(
    stack: EksObservabilityStack, template: dict[str, Any]
) -> None:
    assert stack.prometheus is not None
    workspace_id = stack.get_logical_id(stack.prometheus.workspace)
    scaling = [
        resource
        for resource in template["Resources"].values()
        if resource["Type"] == "Custom::AWSCDK-EKS-KubernetesResource"
        and "ScaledObject" in json.dumps(resource["Properties"]["Manifest"])
    ]
    assert len(scaling) == 1
    text = json.dumps(scaling[0]["Properties"]["Manifest"])
    assert workspace_id in text and "WorkspaceId" in text
    assert '\\"provider\\":\\"aws\\"' in text
    assert "prometheus" in text


def test_the_sample_alarms_read_container_insights_and_are_named_for_the_application(
    stack: EksObservabilityStack, template: dict[str, Any]
) -> None:
    alarms = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    assert len(alarms) == len(stack.alarms) == 4
    deployments = {
        (obj["metadata"].get("namespace", "default"), obj["metadata"]["name"])
        for objs in (manifests.oom_sample(), manifests.healthy_sample())
        for obj in objs
        if obj["kind"] == "Deployment"
    }
    seen = set()
    for alarm in alarms:
        assert alarm["AlarmName"].startswith("eks-observability-")
        assert alarm["Namespace"] == "ContainerInsights"
        assert alarm["MetricName"] in {"pod_number_of_container_restarts", "pod_memory_utilization_over_pod_limit"}
        dimensions = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
        assert dimensions["ClusterName"] == stack.cluster.cluster_name == "EksObservability-Cluster"
        seen.add((dimensions["Namespace"], dimensions["PodName"]))
    assert seen == deployments
    for alarm in stack.alarms:
        name = alarm.node.default_child.alarm_name  # type: ignore[union-attr]
        assert isinstance(name, str) and not cdk.Token.is_unresolved(name)


def test_the_oom_sample_alarm_fires_on_any_restart(template: dict[str, Any]) -> None:
    Template.from_json(template).has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "pod_number_of_container_restarts",
            "ComparisonOperator": "GreaterThanThreshold",
            "Threshold": 0,
            "TreatMissingData": "notBreaching",
            "AlarmName": Match.string_like_regexp("restarts$"),
        },
    )


def test_otel_mode_leaves_the_classic_alarms_out_with_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        cluster_module, "ADDON_VERSIONS", {**ADDON_VERSIONS, "amazon-cloudwatch-observability": "v6.2.0-eksbuild.1"}
    )
    stack = _stack(container_insights=ContainerInsightsMode.OTEL, keda=False)
    assert stack.alarms == []
    warnings = [
        message.entry.data
        for message in cdk.assertions.Annotations.from_stack(stack).find_warning("*", Match.any_value())
    ]
    assert any("OTel Container Insights" in str(warning) for warning in warnings)


def test_without_keda_there_is_no_prometheus_workspace() -> None:
    template = Template.from_stack(_stack(keda=False))
    template.resource_count_is("AWS::APS::Workspace", 0)
    template.resource_count_is("Custom::AWSCDK-EKS-HelmChart", 0)


def test_a_node_group_too_small_for_the_samples_fails_synth() -> None:
    stack = _stack(node_group=NodeGroupOptions(instance_type="t3.medium", min_size=1, max_size=1), keda_max_replicas=40)
    with pytest.raises(Exception, match=r"node_group: 1 x t3\.medium leave about"):
        Template.from_stack(stack)


def test_a_promql_query_that_does_not_parse_is_refused() -> None:
    with pytest.raises(ValueError, match=r"(?i)promql|query"):
        _stack(keda_query="sum(rate(ho11y_total[1m])")


def test_keda_min_above_max_is_refused() -> None:
    with pytest.raises(ValueError, match=r"(?i)replicas"):
        _stack(keda_max_replicas=0)


def test_a_bad_application_name_is_refused() -> None:
    with pytest.raises(ValueError, match="application_name must be 1-63 lower-case letters"):
        _stack(application_name="EKS Sample")
