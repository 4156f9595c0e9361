"""PrometheusScaling: the AMP workspace with a customer key, the managed collector of the cluster's annotated pods,
its RBAC, KEDA from its pinned Helm chart with a Pod Identity role that may only query this workspace, the region
check (at synth for a literal region, a template rule otherwise), and one clear error per bad input."""

from __future__ import annotations

import base64
import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from devops_blueprints.constructs.observability.eks.cluster import ObservedEksCluster
from devops_blueprints.constructs.observability.eks.prometheus import (
    COLLECTOR_USER,
    QUERY_ACTIONS,
    PrometheusScaling,
    amp_regions,
    collector_rbac,
    scrape_configuration,
)
from devops_blueprints.constructs.observability.eks.schema import validate_manifests
from devops_blueprints.constructs.observability.eks.versions import KEDA_CHART, KUBERNETES_VERSION
from tests.support.cdk import cfn_lint_errors, nag_findings, new_app


def _scaling(
    env: cdk.Environment | None = None, **kwargs: Any
) -> tuple[cdk.Stack, ObservedEksCluster, PrometheusScaling]:
    stack = cdk.Stack(new_app(), "Eks", env=env)
    cluster = ObservedEksCluster(stack, "Cluster")
    return stack, cluster, PrometheusScaling(stack, "Prometheus", cluster=cluster, **kwargs)


@pytest.fixture(scope="module")
def default() -> tuple[cdk.Stack, ObservedEksCluster, PrometheusScaling, Template]:
    stack, cluster, scaling = _scaling()
    return stack, cluster, scaling, Template.from_stack(stack)


def _id(stack: cdk.Stack, construct: Any) -> str:
    return stack.get_logical_id(
        construct.node.default_child if not isinstance(construct, cdk.CfnElement) else construct
    )


def test_synth_is_cdk_nag_and_cfn_lint_clean(default: tuple[Any, ...]) -> None:
    stack, _, _, template = default
    assert nag_findings(stack) == []
    assert cfn_lint_errors(template.to_json()) == []


def test_the_workspace_is_encrypted_with_a_rotated_customer_key(default: tuple[Any, ...]) -> None:
    stack, _, scaling, template = default
    key_id = _id(stack, scaling.encryption_key)
    template.has_resource_properties("AWS::APS::Workspace", {"KmsKeyArn": {"Fn::GetAtt": [key_id, "Arn"]}})
    assert template.to_json()["Resources"][key_id]["Properties"]["EnableKeyRotation"] is True


def test_the_collector_scrapes_annotated_pods_of_the_cluster_into_the_workspace(default: tuple[Any, ...]) -> None:
    stack, cluster, scaling, template = default
    (scraper,) = template.find_resources("AWS::APS::Scraper").values()
    properties = scraper["Properties"]
    source = properties["Source"]["EksConfiguration"]
    assert source["ClusterArn"] == {"Fn::GetAtt": [_id(stack, cluster.cluster), "Arn"]}
    assert source["SubnetIds"] == [{"Ref": _id(stack, subnet)} for subnet in cluster.vpc.private_subnets]
    assert len(source["SubnetIds"]) >= 2  # the collector needs two subnets in two Availability Zones
    assert properties["Destination"]["AmpConfiguration"]["WorkspaceArn"] == {
        "Fn::GetAtt": [_id(stack, scaling.workspace), "Arn"]
    }
    config = json.loads(base64.b64decode(properties["ScrapeConfiguration"]["ConfigurationBlob"]))
    assert config == json.loads(json.dumps(scrape_configuration()))
    (job,) = config["scrape_configs"]
    keep = job["relabel_configs"][0]
    assert keep == {
        "source_labels": ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"],
        "action": "keep",
        "regex": "true",
    }
    assert config["global"]["scrape_interval"] == "30s"


def test_the_collector_rbac_validates_and_binds_the_collector_user(default: tuple[Any, ...]) -> None:
    validate_manifests(collector_rbac(), kubernetes_version=KUBERNETES_VERSION)
    binding = collector_rbac()[1]
    assert binding["subjects"] == [{"kind": "User", "name": COLLECTOR_USER, "apiGroup": "rbac.authorization.k8s.io"}]
    _, _, _, template = default
    manifests = [
        json.dumps(resource["Properties"]["Manifest"])
        for resource in template.find_resources("Custom::AWSCDK-EKS-KubernetesResource").values()
    ]
    assert any("aps-collector-role" in manifest for manifest in manifests)


def test_the_collector_access_entry_is_optional() -> None:
    _, _, _, template = _template(create_collector_access_entry=True)
    template.has_resource_properties("AWS::EKS::AccessEntry", {"Username": COLLECTOR_USER})


def _template(**kwargs: Any) -> tuple[cdk.Stack, ObservedEksCluster, PrometheusScaling, Template]:
    stack, cluster, scaling = _scaling(**kwargs)
    return stack, cluster, scaling, Template.from_stack(stack)


def test_keda_comes_from_its_pinned_chart(default: tuple[Any, ...]) -> None:
    _, _, _, template = default
    template.has_resource_properties(
        "Custom::AWSCDK-EKS-HelmChart",
        {
            "Chart": KEDA_CHART.chart,
            "Repository": KEDA_CHART.repository,
            "Version": KEDA_CHART.version,
            "Namespace": KEDA_CHART.namespace,
            "CreateNamespace": True,
        },
    )


def test_the_keda_operator_may_only_query_this_workspace_through_pod_identity(default: tuple[Any, ...]) -> None:
    stack, _, scaling, template = default
    role_id = _id(stack, scaling.keda_role)
    resources = template.to_json()["Resources"]
    (statement,) = resources[role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert sorted(statement["Action"]) == ["sts:AssumeRole", "sts:TagSession"]
    policies = [
        resource["Properties"]["PolicyDocument"]["Statement"]
        for resource in resources.values()
        if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in resource["Properties"]["Roles"]
    ]
    assert policies == [
        [
            {
                "Action": sorted(QUERY_ACTIONS),
                "Effect": "Allow",
                "Resource": {"Fn::GetAtt": [_id(stack, scaling.workspace), "Arn"]},
            }
        ]
    ]
    template.has_resource_properties(
        "AWS::EKS::PodIdentityAssociation",
        {"Namespace": "keda", "ServiceAccount": "keda-operator", "RoleArn": {"Fn::GetAtt": [role_id, "Arn"]}},
    )


def test_keda_starts_after_its_identity_is_associated(default: tuple[Any, ...]) -> None:
    stack, _, scaling, template = default
    chart_id = _id(stack, scaling.keda.node.find_child("Resource"))
    assert _id(stack, scaling.keda_association) in template.to_json()["Resources"][chart_id]["DependsOn"]


def test_an_environment_agnostic_stack_checks_the_region_at_deploy_time(default: tuple[Any, ...]) -> None:
    _, _, _, template = default
    rules = template.to_json()["Rules"]
    (rule,) = [rule for name, rule in rules.items() if name.startswith("PrometheusAmpRegion")]
    (assertion,) = rule["Assertions"]
    regions, region = assertion["Assert"]["Fn::Contains"]
    assert region == {"Ref": "AWS::Region"}
    assert "us-east-1" in regions
    assert "cn-north-1" not in regions


def test_a_region_without_amp_is_refused_at_synth() -> None:
    assert "cn-north-1" not in amp_regions()
    with pytest.raises(ValueError, match=r"region cn-north-1 has no Amazon Managed Service for Prometheus endpoint"):
        _scaling(env=cdk.Environment(account="111111111111", region="cn-north-1"))


def test_a_region_with_amp_synthesizes_without_a_rule() -> None:
    _, _, _, template = _template(env=cdk.Environment(account="111111111111", region="eu-west-1"))
    assert not [name for name in template.to_json().get("Rules", {}) if name.startswith("PrometheusAmpRegion")]


@pytest.mark.parametrize("interval", [0, 301, True])
def test_a_bad_scrape_interval_is_refused(interval: Any) -> None:
    with pytest.raises(ValueError, match=r"scrape interval must be 1\.\.300 seconds"):
        scrape_configuration(interval_seconds=interval)


def test_keda_values_set_the_operator_identity_and_resources_and_validate(default: tuple[Any, ...]) -> None:
    from devops_blueprints.constructs.observability.eks.prometheus import keda_demand, keda_values
    from devops_blueprints.constructs.observability.eks.schema import validate_helm_values

    values = keda_values()
    validate_helm_values(values, kubernetes_version=KUBERNETES_VERSION)
    _, cluster, _, template = default
    (chart,) = template.find_resources("Custom::AWSCDK-EKS-HelmChart").values()
    assert json.loads(chart["Properties"]["Values"]) == values
    assert values["serviceAccount"]["operator"]["name"] == "keda-operator"
    # The capacity check counts exactly what the chart is told to request.
    assert keda_demand() in cluster.demands
    assert keda_demand().cpu_millicores == 250 and keda_demand().memory_mib == 320
