"""ObservedEksCluster: the cluster (API authentication, private endpoint, encrypted secrets, every control-plane log
type into an encrypted log group), the managed node group, the Pod Identity agent and the CloudWatch observability
add-on in both Container Insights modes with the agent's permissions through Pod Identity; cdk-nag and cfn-lint
clean; one clear error for each kind of bad input (node group, version, CIDR, too small for what it must run)."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template

from devops_blueprints.constructs.observability.eks import cluster as cluster_module
from devops_blueprints.constructs.observability.eks.capacity import (
    Demand,
    allocatable,
    check_capacity,
    parse_cpu,
    parse_memory,
    requests_of,
)
from devops_blueprints.constructs.observability.eks.cluster import (
    ContainerInsightsMode,
    NodeGroupOptions,
    ObservedEksCluster,
    addon_version_tuple,
)
from devops_blueprints.constructs.observability.eks.schema import ManifestError
from devops_blueprints.constructs.observability.eks.versions import ADDON_VERSIONS, KUBERNETES_VERSION
from tests.support.cdk import cfn_lint_errors, nag_findings, new_app


def _cluster(**kwargs: Any) -> tuple[cdk.Stack, ObservedEksCluster]:
    stack = cdk.Stack(new_app(), "Eks")
    return stack, ObservedEksCluster(stack, "Cluster", **kwargs)


@pytest.fixture(scope="module")
def default() -> tuple[cdk.Stack, ObservedEksCluster, Template]:
    stack, cluster = _cluster()
    return stack, cluster, Template.from_stack(stack)


def _resources(template: Template, resource_type: str) -> dict[str, Any]:
    return dict(template.find_resources(resource_type))


def test_synth_is_cdk_nag_and_cfn_lint_clean(default: tuple[cdk.Stack, ObservedEksCluster, Template]) -> None:
    stack, _, template = default
    assert nag_findings(stack) == []
    assert cfn_lint_errors(dict(template.to_json())) == []


def test_the_cluster_authenticates_with_access_entries_behind_a_private_endpoint(
    default: tuple[cdk.Stack, ObservedEksCluster, Template],
) -> None:
    _, _, template = default
    template.has_resource_properties(
        "AWS::EKS::Cluster",
        {
            "Name": "Eks-Cluster",
            "Version": KUBERNETES_VERSION,
            "AccessConfig": {"AuthenticationMode": "API"},
            "ResourcesVpcConfig": Match.object_like({"EndpointPrivateAccess": True, "EndpointPublicAccess": False}),
            "Logging": {
                "ClusterLogging": {
                    "EnabledTypes": [
                        {"Type": "api"},
                        {"Type": "audit"},
                        {"Type": "authenticator"},
                        {"Type": "controllerManager"},
                        {"Type": "scheduler"},
                    ]
                }
            },
        },
    )
    # No aws-auth ConfigMap: nothing patches kube-system/aws-auth.
    for resource in _resources(template, "Custom::AWSCDK-EKS-KubernetesResource").values():
        assert "aws-auth" not in json.dumps(resource["Properties"])


def test_secrets_and_control_plane_logs_are_encrypted_with_a_rotated_customer_key(
    default: tuple[cdk.Stack, ObservedEksCluster, Template],
) -> None:
    stack, cluster, template = default
    key_id = stack.get_logical_id(cluster.secrets_key.node.default_child)  # type: ignore[arg-type]
    template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    template.has_resource_properties(
        "AWS::EKS::Cluster",
        {"EncryptionConfig": [{"Provider": {"KeyArn": {"Fn::GetAtt": [key_id, "Arn"]}}, "Resources": ["secrets"]}]},
    )
    template.has_resource_properties(
        "AWS::Logs::LogGroup",
        {
            "LogGroupName": "/aws/eks/Eks-Cluster/cluster",
            "KmsKeyId": {"Fn::GetAtt": [key_id, "Arn"]},
            "RetentionInDays": 30,
        },
    )
    # The group exists before the cluster, which would otherwise create it unencrypted and never expiring.
    (cluster_resource,) = _resources(template, "AWS::EKS::Cluster").values()
    log_group_id = stack.get_logical_id(cluster.control_plane_logs.node.default_child)  # type: ignore[arg-type]
    assert log_group_id in cluster_resource["DependsOn"]


def test_the_managed_node_group_runs_al2023_in_the_private_subnets(
    default: tuple[cdk.Stack, ObservedEksCluster, Template],
) -> None:
    stack, cluster, template = default
    private = [
        {"Ref": stack.get_logical_id(subnet.node.default_child)}  # type: ignore[arg-type]
        for subnet in cluster.vpc.private_subnets
    ]
    template.has_resource_properties(
        "AWS::EKS::Nodegroup",
        {
            "AmiType": "AL2023_x86_64_STANDARD",
            "InstanceTypes": ["t3.large"],
            "ScalingConfig": {"MinSize": 2, "DesiredSize": 2, "MaxSize": 4},
            "Subnets": private,
        },
    )
    assert len(_resources(template, "AWS::EKS::Nodegroup")) == 1


def test_the_pod_identity_agent_and_the_observability_add_on_are_pinned(
    default: tuple[cdk.Stack, ObservedEksCluster, Template],
) -> None:
    _, _, template = default
    template.has_resource_properties(
        "AWS::EKS::Addon",
        {"AddonName": "eks-pod-identity-agent", "AddonVersion": ADDON_VERSIONS["eks-pod-identity-agent"]},
    )
    template.has_resource_properties(
        "AWS::EKS::Addon",
        {
            "AddonName": "amazon-cloudwatch-observability",
            "AddonVersion": ADDON_VERSIONS["amazon-cloudwatch-observability"],
            "ConfigurationValues": json.dumps({"containerInsights": {"enhanced": True}}, separators=(",", ":")),
        },
    )


def test_the_cloudwatch_agent_gets_its_permissions_through_pod_identity_not_the_node_role(
    default: tuple[cdk.Stack, ObservedEksCluster, Template],
) -> None:
    stack, cluster, template = default
    role_id = stack.get_logical_id(cluster.cloudwatch_agent_role.node.default_child)  # type: ignore[arg-type]
    template.has_resource_properties(
        "AWS::EKS::Addon",
        {
            "AddonName": "amazon-cloudwatch-observability",
            "PodIdentityAssociations": [
                {"RoleArn": {"Fn::GetAtt": [role_id, "Arn"]}, "ServiceAccount": "cloudwatch-agent"}
            ],
        },
    )
    role = template.to_json()["Resources"][role_id]["Properties"]
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert sorted(statement["Action"]) == ["sts:AssumeRole", "sts:TagSession"]
    assert "CloudWatchAgentServerPolicy" in json.dumps(role["ManagedPolicyArns"])
    for logical_id, resource in _resources(template, "AWS::IAM::Role").items():
        if "ec2.amazonaws.com" in json.dumps(resource["Properties"]["AssumeRolePolicyDocument"]):
            assert "CloudWatchAgentServerPolicy" not in json.dumps(resource["Properties"]), logical_id


def test_the_agent_runs_after_the_pod_identity_agent(default: tuple[cdk.Stack, ObservedEksCluster, Template]) -> None:
    stack, cluster, template = default
    addon_id = stack.get_logical_id(cluster.observability_addon.node.default_child)  # type: ignore[arg-type]
    agent_id = stack.get_logical_id(cluster.pod_identity_agent.node.default_child)  # type: ignore[arg-type]
    assert agent_id in template.to_json()["Resources"][addon_id]["DependsOn"]


def test_otel_mode_configures_the_add_on_for_opentelemetry(monkeypatch: pytest.MonkeyPatch) -> None:
    pins = {**ADDON_VERSIONS, "amazon-cloudwatch-observability": "v6.2.0-eksbuild.1"}
    monkeypatch.setattr(cluster_module, "ADDON_VERSIONS", pins)
    stack, _ = _cluster(container_insights=ContainerInsightsMode.OTEL)
    Template.from_stack(stack).has_resource_properties(
        "AWS::EKS::Addon",
        {
            "AddonName": "amazon-cloudwatch-observability",
            "AddonVersion": "v6.2.0-eksbuild.1",
            "ConfigurationValues": json.dumps({"otelContainerInsights": {"enabled": True}}, separators=(",", ":")),
        },
    )


def test_otel_mode_refuses_an_add_on_version_without_it(monkeypatch: pytest.MonkeyPatch) -> None:
    pins = {**ADDON_VERSIONS, "amazon-cloudwatch-observability": "v6.0.1-eksbuild.1"}
    monkeypatch.setattr(cluster_module, "ADDON_VERSIONS", pins)
    with pytest.raises(ValueError, match=r"container_insights=OTEL needs amazon-cloudwatch-observability v6\.2\.0"):
        _cluster(container_insights=ContainerInsightsMode.OTEL)


def test_a_mode_that_is_not_the_enum_is_refused() -> None:
    with pytest.raises(ValueError, match="container_insights must be a ContainerInsightsMode"):
        _cluster(container_insights="otel")


def test_public_access_is_only_for_the_named_networks_and_acknowledged_narrowly() -> None:
    stack, _ = _cluster(public_access_cidrs=["203.0.113.7/32"])
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::EKS::Cluster",
        {
            "ResourcesVpcConfig": Match.object_like(
                {"EndpointPublicAccess": True, "EndpointPrivateAccess": True, "PublicAccessCidrs": ["203.0.113.7/32"]}
            )
        },
    )
    assert nag_findings(stack) == []


@pytest.mark.parametrize(
    ("cidrs", "message"),
    [
        ("203.0.113.7/32", "must be a list of CIDRs"),
        (["203.0.113.7"], "is not an IPv4 CIDR"),
        (["0.0.0.0/0"], "opens the API endpoint to the internet"),
    ],
)
def test_bad_public_access_cidrs_are_refused(cidrs: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _cluster(public_access_cidrs=cidrs)


def test_admin_principals_get_cluster_admin_access_entries() -> None:
    arn = "arn:aws:iam::111111111111:role/platform-admins"
    stack, _ = _cluster(admin_principal_arns=[arn])
    Template.from_stack(stack).has_resource_properties(
        "AWS::EKS::AccessEntry",
        {
            "PrincipalArn": arn,
            "AccessPolicies": [
                {
                    "AccessScope": {"Type": "cluster"},
                    "PolicyArn": {
                        "Fn::Join": [
                            "",
                            [
                                "arn:",
                                {"Ref": "AWS::Partition"},
                                ":eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
                            ],
                        ]
                    },
                }
            ],
        },
    )


def test_a_kubernetes_version_the_kubectl_layer_does_not_match_is_refused() -> None:
    minor = int(KUBERNETES_VERSION.split(".")[1]) - 1
    with pytest.raises(ValueError, match=rf"kubernetes_version 1\.{minor} needs the kubectl layer package"):
        _cluster(kubernetes_version=f"1.{minor}")


def test_a_malformed_kubernetes_version_is_refused() -> None:
    with pytest.raises(ValueError, match="kubernetes_version must look like"):
        _cluster(kubernetes_version="v1.36")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"min_size": 0}, r"node_group\.min_size must be a whole number >= 1, got 0"),
        ({"min_size": 3, "max_size": 2}, r"node_group\.max_size \(2\) must be >= min_size \(3\)"),
        ({"instance_type": "large"}, r'node_group\.instance_type must look like "t3\.large"'),
        ({"instance_type": "r7g.large"}, r"not one the capacity check knows .* give its vcpus and memory_mib"),
        ({"instance_type": "r7i.large", "vcpus": 2}, "give both vcpus and memory_mib, or neither"),
        ({"instance_type": "r7i.large", "vcpus": 0, "memory_mib": 16384}, r"node_group\.vcpus must be"),
    ],
)
def test_bad_node_group_options_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        NodeGroupOptions(**options)


def test_an_instance_type_with_its_size_given_is_accepted() -> None:
    assert NodeGroupOptions(instance_type="r7i.large", vcpus=2, memory_mib=16384).size == (2, 16384)


def test_a_node_group_too_small_for_what_it_must_run_fails_synth_with_one_clear_line() -> None:
    stack, cluster = _cluster(node_group=NodeGroupOptions(instance_type="t3.medium", min_size=1, max_size=1))
    cluster.reserve(Demand("Deployment/big x3", 300, 3 * 1024))
    with pytest.raises(
        Exception, match=r"node_group: 1 x t3\.medium leave about .* MiB .* request 300m CPU and 3072 MiB"
    ):
        Template.from_stack(stack)


def test_a_manifest_that_does_not_validate_is_refused_with_the_path_and_reason(
    default: tuple[cdk.Stack, ObservedEksCluster, Template],
) -> None:
    _, cluster, _ = default
    bad = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "settings"},
        "data": {"replicas": 3},
    }
    with pytest.raises(ManifestError, match=r"ConfigMap.*settings.*data"):
        cluster.add_validated_manifest("Bad", [bad])


# -- capacity (plain Python) --------------------------------------------------------------------------------


@pytest.mark.parametrize(("quantity", "millicores"), [("250m", 250), ("0.5", 500), (2, 2000), ("1.5", 1500)])
def test_cpu_quantities(quantity: Any, millicores: float) -> None:
    assert parse_cpu(quantity, where="x") == millicores


@pytest.mark.parametrize(
    ("quantity", "mib"), [("64Mi", 64), ("1Gi", 1024), ("512Ki", 0.5), ("1048576", 1), ("128M", 128e6 / 2**20)]
)
def test_memory_quantities(quantity: Any, mib: float) -> None:
    assert parse_memory(quantity, where="x") == pytest.approx(mib)


@pytest.mark.parametrize("quantity", ["lots", "64MB", "-1", True])
def test_bad_quantities_name_where_they_are(quantity: Any) -> None:
    with pytest.raises(ValueError, match="Deployment/a container 'c'"):
        parse_memory(quantity, where="Deployment/a container 'c'")


def test_requests_count_every_replica_and_an_override() -> None:
    deployment = {
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 2,
            "template": {
                "spec": {
                    "containers": [
                        {"name": "app", "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}},
                        {"name": "sidecar"},
                    ]
                }
            },
        },
    }
    service = {"kind": "Service", "metadata": {"name": "web"}}
    assert requests_of([deployment, service]) == Demand("Deployment/web x2", 200, 128)
    assert requests_of([deployment], replicas={"web": 10}) == Demand("Deployment/web x10", 1000, 640)


def test_capacity_subtracts_what_the_node_keeps_and_the_daemonsets() -> None:
    cpu, memory = allocatable(2, 8192)
    assert 1000 < cpu < 2000
    assert 6000 < memory < 8192
    check_capacity(
        instance_type="t3.large", vcpus=2, memory_mib=8192, nodes=2, demands=[Demand("a", 2 * cpu, 2 * memory)]
    )
    with pytest.raises(ValueError, match=r"2 x t3\.large"):
        check_capacity(
            instance_type="t3.large", vcpus=2, memory_mib=8192, nodes=2, demands=[Demand("a", 1, 2 * memory + 1)]
        )


def test_addon_versions_parse() -> None:
    assert addon_version_tuple("v6.2.0-eksbuild.1") == (6, 2, 0)
    with pytest.raises(ValueError, match="add-on version must look like"):
        addon_version_tuple("6.2.0")


def test_a_given_vpc_and_key_are_used_instead_of_new_ones() -> None:
    from aws_cdk import aws_ec2 as ec2
    from aws_cdk import aws_kms as kms

    stack = cdk.Stack(new_app(), "Eks")
    vpc = ec2.Vpc(stack, "Network", max_azs=2, nat_gateways=1)
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    cluster = ObservedEksCluster(stack, "Cluster", vpc=vpc, secrets_key=key)
    assert cluster.vpc is vpc and cluster.secrets_key is key
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::EC2::VPC", 1)
    template.resource_count_is("AWS::KMS::Key", 1)
    template.has_resource_properties(
        "AWS::EKS::Cluster",
        {
            "EncryptionConfig": [
                {
                    "Provider": {"KeyArn": {"Fn::GetAtt": [stack.get_logical_id(key.node.default_child), "Arn"]}},
                    "Resources": ["secrets"],
                }
            ]
        },  # type: ignore[arg-type]
    )
