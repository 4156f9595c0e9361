"""``ObservedEksCluster``: an Amazon EKS cluster (``aws_cdk.aws_eks_v2``) set up to be observed — a managed node
group in private subnets, access entries instead of the aws-auth ConfigMap, the EKS Pod Identity agent,
control-plane logging, secrets encrypted with a customer key, and Container Insights from the
``amazon-cloudwatch-observability`` add-on whose CloudWatch agent gets its permissions through EKS Pod Identity.

Container Insights comes in two configurations of the same add-on
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/deploy-container-insights-EKS.html):

- :attr:`ContainerInsightsMode.CLASSIC` — Enhanced Container Insights (Classic): the CloudWatch agent publishes
  the ``ContainerInsights`` namespace metrics (``pod_number_of_container_restarts``,
  ``pod_memory_utilization_over_pod_limit``, ...) that CloudWatch alarms and Amazon DevOps Guru read, and that
  the source article uses. In maintenance mode: security fixes only
  (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/container-insights-eks-classic.html).
- :attr:`ContainerInsightsMode.OTEL` — OTel Container Insights, which AWS recommends for new clusters: open-source
  metric names (cAdvisor, kube-state-metrics, node exporter) over OTLP, queried with PromQL; add-on v6.2.0 or
  later (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/container-insights-eks-otel.html).
  Alarms on the classic metric names do not see these metrics ("CloudWatch alarms configured with Classic metric
  names do not automatically work with OTel metrics",
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/container-insights-eks-migrate-from-classic.html),
  so the stack builds its restart and memory alarms only in the classic mode.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, cast

import aws_cdk as cdk
import jsii
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct, IValidation

from devops_blueprints.constructs.key_policies import allow_logs_service, logs_key
from devops_blueprints.constructs.networking import flow_logged_vpc
from devops_blueprints.constructs.observability.eks.capacity import INSTANCE_SIZES, Demand, check_capacity
from devops_blueprints.constructs.observability.eks.schema import validate_manifests
from devops_blueprints.constructs.observability.eks.versions import (
    ADDON_VERSIONS,
    KUBECTL_LAYER_MODULE,
    KUBERNETES_VERSION,
    check_kubernetes_version,
    kubectl_layer_module,
)

CLOUDWATCH_ADDON = "amazon-cloudwatch-observability"
POD_IDENTITY_ADDON = "eks-pod-identity-agent"
#: The add-on's agent runs as this service account in this namespace (the names its Pod Identity association
#: takes, https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/install-CloudWatch-Observability-EKS-addon.html).
CLOUDWATCH_AGENT_NAMESPACE = "amazon-cloudwatch"
CLOUDWATCH_AGENT_SERVICE_ACCOUNT = "cloudwatch-agent"
#: The first add-on version with the OpenTelemetry mode (the install page above: "From version v6.2.0-eksbuild.1").
OTEL_MIN_ADDON_VERSION = (6, 2, 0)
#: The principal EKS Pod Identity assumes roles as (https://docs.aws.amazon.com/eks/latest/userguide/pod-id-role.html).
POD_IDENTITY_PRINCIPAL = "pods.eks.amazonaws.com"
#: CreateCluster's name: 1-100 characters, a letter or digit first
#: (https://docs.aws.amazon.com/eks/latest/APIReference/API_CreateCluster.html).
_CLUSTER_NAME = re.compile(r"^[0-9A-Za-z][A-Za-z0-9\-_]{0,99}$")
_ADDON_VERSION = re.compile(r"^v(?P<major>[0-9]+)\.(?P<minor>[0-9]+)\.(?P<patch>[0-9]+)-eksbuild\.[0-9]+$")


class ContainerInsightsMode(enum.Enum):
    """Which configuration of the ``amazon-cloudwatch-observability`` add-on the cluster runs (module docstring)."""

    CLASSIC = "classic"
    OTEL = "otel"


@dataclasses.dataclass(frozen=True)
class NodeGroupOptions:
    """The managed node group (Amazon Linux 2023, private subnets).

    :param instance_type: EC2 instance type. Default: ``t3.large`` (2 vCPU, 8 GiB).
    :param min_size: nodes at least (and at creation). Default: 2 — one per Availability Zone.
    :param max_size: nodes at most. Default: 4.
    :param vcpus: vCPUs of ``instance_type``; needed only for a type the capacity check does not know
        (:data:`~devops_blueprints.constructs.observability.eks.capacity.INSTANCE_SIZES`).
    :param memory_mib: memory of ``instance_type`` in MiB; as ``vcpus``.
    """

    instance_type: str = "t3.large"
    min_size: int = 2
    max_size: int = 4
    vcpus: int | None = None
    memory_mib: int | None = None

    def __post_init__(self) -> None:
        for name in ("min_size", "max_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"node_group.{name} must be a whole number >= 1, got {value!r}")
        if self.max_size < self.min_size:
            raise ValueError(f"node_group.max_size ({self.max_size}) must be >= min_size ({self.min_size})")
        if not re.fullmatch(r"[a-z][a-z0-9-]*\.[a-z0-9]+", self.instance_type or ""):
            raise ValueError(f'node_group.instance_type must look like "t3.large", got {self.instance_type!r}')
        if (self.vcpus is None) != (self.memory_mib is None):
            raise ValueError("node_group: give both vcpus and memory_mib, or neither")
        if self.vcpus is None and self.instance_type not in INSTANCE_SIZES:
            raise ValueError(
                f"node_group.instance_type {self.instance_type!r} is not one the capacity check knows "
                f"({', '.join(sorted(INSTANCE_SIZES))}); give its vcpus and memory_mib too"
            )
        for name in ("vcpus", "memory_mib"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"node_group.{name} must be a whole number >= 1, got {value!r}")

    @property
    def size(self) -> tuple[int, int]:
        """(vCPUs, memory MiB) of one node."""
        if self.vcpus is not None and self.memory_mib is not None:
            return self.vcpus, self.memory_mib
        return INSTANCE_SIZES[self.instance_type]


def addon_version_tuple(version: str) -> tuple[int, int, int]:
    """``"v6.2.0-eksbuild.1"`` -> ``(6, 2, 0)``."""
    match = _ADDON_VERSION.match(version)
    if not match:
        raise ValueError(f'add-on version must look like "v6.2.0-eksbuild.1", got {version!r}')
    return int(match["major"]), int(match["minor"]), int(match["patch"])


def kubectl_layer(scope: Construct, construct_id: str, kubernetes_version: str = KUBERNETES_VERSION) -> Any:
    """The kubectl/helm Lambda layer for ``kubernetes_version`` from its installed ``aws-cdk.lambda-layer-kubectl-v*``
    package (checked first by ``check_kubernetes_version``)."""
    check_kubernetes_version(kubernetes_version)
    module_name = (
        kubectl_layer_module(kubernetes_version) if kubernetes_version != KUBERNETES_VERSION else KUBECTL_LAYER_MODULE
    )
    module = importlib.import_module(module_name)
    minor = kubernetes_version.split(".")[1]
    return getattr(module, f"KubectlV{minor}Layer")(scope, construct_id)


def pod_identity_role(scope: Construct, construct_id: str, *, description: str) -> iam.Role:
    """A role EKS Pod Identity may assume for a pod (``sts:AssumeRole`` and ``sts:TagSession``)."""
    return iam.Role(
        scope,
        construct_id,
        assumed_by=iam.SessionTagsPrincipal(iam.ServicePrincipal(POD_IDENTITY_PRINCIPAL)),
        description=description,
    )


class ObservedEksCluster(Construct):
    """An EKS cluster with a managed node group, Pod Identity, control-plane logs, encrypted secrets and
    Container Insights.

    :param vpc: the VPC. Default: a new VPC over 2 Availability Zones (public and private subnets, one NAT
        gateway, flow logs to an encrypted log group).
    :param kubernetes_version: "1.MINOR"; it must match the installed kubectl layer package and the schema set
        (``check_kubernetes_version``). Default: ``versions.KUBERNETES_VERSION``.
    :param node_group: the managed node group. Default: ``NodeGroupOptions()`` (2-4 x t3.large).
    :param container_insights: the add-on's mode. Default: ``ContainerInsightsMode.CLASSIC`` (the metrics the
        alarms and DevOps Guru read).
    :param secrets_key: the KMS key for envelope encryption of Kubernetes secrets and of the control-plane log
        group. Default: a new key with rotation on.
    :param admin_principal_arns: IAM principals given ``AmazonEKSClusterAdminPolicy`` through access entries.
        Default: none (the deploying CloudFormation role and the kubectl handler are admins).
    :param public_access_cidrs: CIDRs allowed to reach the public API endpoint. Default: none — the endpoint is
        private, and the kubectl handler runs in the private subnets.
    :param cluster_name: the EKS cluster name. Default: ``<stack name>-<id>`` (a name is needed to create the
        control-plane log group, encrypted and with a retention, before EKS does).
    :param log_retention: of the control-plane log group. Default: one month.
    :param removal_policy: of the key and the log groups. Default: DESTROY (a sample).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc | None = None,
        kubernetes_version: str = KUBERNETES_VERSION,
        node_group: NodeGroupOptions | None = None,
        container_insights: ContainerInsightsMode = ContainerInsightsMode.CLASSIC,
        secrets_key: kms.IKey | None = None,
        admin_principal_arns: Sequence[str] = (),
        public_access_cidrs: Sequence[str] = (),
        cluster_name: str | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.DESTROY,
    ) -> None:
        super().__init__(scope, construct_id)
        check_kubernetes_version(kubernetes_version)
        if not isinstance(container_insights, ContainerInsightsMode):
            raise ValueError(
                f"container_insights must be a ContainerInsightsMode ({', '.join(m.name for m in ContainerInsightsMode)}), "
                f"got {container_insights!r}"
            )
        addon_version = ADDON_VERSIONS[CLOUDWATCH_ADDON]
        if (
            container_insights is ContainerInsightsMode.OTEL
            and addon_version_tuple(addon_version) < OTEL_MIN_ADDON_VERSION
        ):
            raise ValueError(
                f"container_insights=OTEL needs {CLOUDWATCH_ADDON} v{'.'.join(map(str, OTEL_MIN_ADDON_VERSION))} or "
                f"later, but versions.ADDON_VERSIONS pins {addon_version}"
            )
        if isinstance(public_access_cidrs, str):
            raise ValueError("public_access_cidrs must be a list of CIDRs, got a string")
        for cidr in public_access_cidrs:
            try:
                network = ipaddress.IPv4Network(cidr, strict=True) if "/" in str(cidr) else None
            except ValueError:
                network = None
            if network is None:
                raise ValueError(f'public_access_cidrs: {cidr!r} is not an IPv4 CIDR like "203.0.113.7/32"')
            if network.prefixlen == 0:
                raise ValueError(
                    f"public_access_cidrs: {cidr} opens the API endpoint to the internet; name your networks"
                )
        stack = cdk.Stack.of(self)
        name = cluster_name if cluster_name is not None else f"{stack.stack_name}-{construct_id}"[:100]
        if not cdk.Token.is_unresolved(name) and not _CLUSTER_NAME.match(name):
            raise ValueError(
                f"cluster_name must be 1-100 letters, digits, '-' or '_' starting with a letter or digit, got {name!r}"
            )
        self.cluster_name = name
        self.node_group_options = node_group or NodeGroupOptions()
        self.container_insights = container_insights
        self.kubernetes_version = kubernetes_version
        self._demands: list[Demand] = []

        if secrets_key is None:
            secrets_key = logs_key(
                self,
                f"Encrypts the Kubernetes secrets and control-plane logs of EKS cluster {name}",
                removal_policy=removal_policy,
                construct_id="SecretsKey",
            )
        else:
            allow_logs_service(secrets_key)
        self.secrets_key: kms.IKey = secrets_key
        self.vpc: ec2.IVpc = vpc or self._new_vpc(removal_policy)
        # EKS writes control-plane logs to /aws/eks/<name>/cluster and uses that group when it exists
        # (https://docs.aws.amazon.com/eks/latest/userguide/control-plane-logs.html): creating it first gives it
        # the customer key and a retention instead of "never expire".
        self.control_plane_logs = logs.LogGroup(
            self,
            "ControlPlaneLogs",
            log_group_name=f"/aws/eks/{name}/cluster",
            encryption_key=self.secrets_key,
            retention=log_retention,
            removal_policy=removal_policy,
        )
        private = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
        endpoint = (
            eks.EndpointAccess.PUBLIC_AND_PRIVATE.only_from(*public_access_cidrs)
            if public_access_cidrs
            else eks.EndpointAccess.PRIVATE
        )
        self.kubectl_layer = kubectl_layer(self, "KubectlLayer", kubernetes_version)
        self.cluster = eks.Cluster(
            self,
            "Resource",
            cluster_name=name,
            version=eks.KubernetesVersion.of(kubernetes_version),
            vpc=self.vpc,
            vpc_subnets=[private],
            endpoint_access=endpoint,
            default_capacity_type=eks.DefaultCapacityType.NODEGROUP,
            default_capacity=0,
            secrets_encryption_key=self.secrets_key,
            cluster_logging=[
                eks.ClusterLoggingTypes.API,
                eks.ClusterLoggingTypes.AUDIT,
                eks.ClusterLoggingTypes.AUTHENTICATOR,
                eks.ClusterLoggingTypes.CONTROLLER_MANAGER,
                eks.ClusterLoggingTypes.SCHEDULER,
            ],
            kubectl_provider_options=eks.KubectlProviderOptions(
                kubectl_layer=self.kubectl_layer,
                private_subnets=self.vpc.select_subnets(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS).subnets,
            ),
            removal_policy=removal_policy,
        )
        self.cluster.node.add_dependency(self.control_plane_logs)
        for index, principal in enumerate(admin_principal_arns):
            self.cluster.grant_access(
                f"Admin{index}",
                principal,
                [
                    eks.AccessPolicy.from_access_policy_name(
                        "AmazonEKSClusterAdminPolicy", access_scope_type=eks.AccessScopeType.CLUSTER
                    )
                ],
            )
        options = self.node_group_options
        self.nodegroup = self.cluster.add_nodegroup_capacity(
            "Nodes",
            instance_types=[ec2.InstanceType(options.instance_type)],
            ami_type=eks.NodegroupAmiType.AL2023_X86_64_STANDARD,
            min_size=options.min_size,
            desired_size=options.min_size,
            max_size=options.max_size,
            subnets=private,
            enable_node_auto_repair=True,
        )
        self.pod_identity_agent = eks.Addon(
            self,
            "PodIdentityAgent",
            cluster=cast(eks.ICluster, self.cluster),  # jsii's Cluster implements ICluster
            addon_name=POD_IDENTITY_ADDON,
            addon_version=ADDON_VERSIONS[POD_IDENTITY_ADDON],
            preserve_on_delete=False,
        )
        self.pod_identity_agent.node.add_dependency(self.nodegroup)
        self.cloudwatch_agent_role = pod_identity_role(
            self, "CloudWatchAgentRole", description=f"CloudWatch agent of EKS cluster {name} (EKS Pod Identity)"
        )
        # The policy the add-on's documentation attaches (metrics, logs, the agent's SSM parameters).
        self.cloudwatch_agent_role.add_managed_policy(
            iam.ManagedPolicy.from_aws_managed_policy_name("CloudWatchAgentServerPolicy")
        )
        self.observability_addon = eks.Addon(
            self,
            "CloudWatchObservability",
            cluster=cast(eks.ICluster, self.cluster),  # jsii's Cluster implements ICluster
            addon_name=CLOUDWATCH_ADDON,
            addon_version=addon_version,
            preserve_on_delete=False,
            configuration_values=self.observability_configuration(container_insights),
        )
        addon_resource = self.observability_addon.node.default_child
        if not isinstance(addon_resource, eks.CfnAddon):
            raise TypeError(f"{self.observability_addon.node.path} has no CfnAddon (aws-cdk-lib changed its Addon)")
        # The add-on creates the association for its own service account (CreateAddon's podIdentityAssociations,
        # https://docs.aws.amazon.com/eks/latest/APIReference/API_CreateAddon.html).
        addon_resource.pod_identity_associations = [
            eks.CfnAddon.PodIdentityAssociationProperty(
                role_arn=self.cloudwatch_agent_role.role_arn, service_account=CLOUDWATCH_AGENT_SERVICE_ACCOUNT
            )
        ]
        self.observability_addon.node.add_dependency(self.pod_identity_agent)
        self.node.add_validation(_CapacityValidation(self))
        self._acknowledge()

    # -- public ------------------------------------------------------------------------------------------

    @staticmethod
    def observability_configuration(mode: ContainerInsightsMode) -> dict[str, Any]:
        """The add-on's configuration values for ``mode``
        (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/eks-observability-addon-configure.html)."""
        if mode is ContainerInsightsMode.OTEL:
            return {"otelContainerInsights": {"enabled": True}}
        return {"containerInsights": {"enhanced": True}}

    def reserve(self, demand: Demand) -> None:
        """Count ``demand`` (requests of pods that will run on the node group) in the capacity check at synth."""
        self._demands.append(demand)

    @property
    def demands(self) -> list[Demand]:
        return list(self._demands)

    def add_validated_manifest(self, construct_id: str, objs: Sequence[Mapping[str, Any]]) -> eks.KubernetesManifest:
        """Apply Kubernetes objects after validating each against the JSON schema of its kind for the cluster's
        version (``schema.validate_manifests``: one ``ManifestError`` naming the object, the path and the reason)."""
        validate_manifests(
            list(objs), kubernetes_version=self.kubernetes_version, where=f"{self.node.path}/{construct_id}"
        )
        return self.cluster.add_manifest(construct_id, *[dict(obj) for obj in objs])

    def pod_identity(
        self, construct_id: str, *, namespace: str, service_account: str, role: iam.IRole
    ) -> eks.CfnPodIdentityAssociation:
        """Associate ``role`` with the pods of ``namespace``/``service_account`` (after the agent is running)."""
        association = eks.CfnPodIdentityAssociation(
            self,
            construct_id,
            cluster_name=self.cluster.cluster_name,
            namespace=namespace,
            service_account=service_account,
            role_arn=role.role_arn,
        )
        association.node.add_dependency(self.pod_identity_agent)
        return association

    # -- private -----------------------------------------------------------------------------------------

    def _new_vpc(self, removal_policy: cdk.RemovalPolicy) -> ec2.Vpc:
        return flow_logged_vpc(self, key=self.secrets_key, removal_policy=removal_policy, private_cidr_mask=20)

    def _acknowledge(self) -> None:
        """cdk-nag findings on what aws-cdk-lib's EKS constructs create, each for its reason."""
        managed = "Policy::arn:<AWS::Partition>:iam::aws:policy/"
        cdk.Validations.of(self.cluster).acknowledge(
            cdk.Acknowledgment(
                id=f"AwsSolutions-IAM4[{managed}AmazonEKSClusterPolicy]",
                reason="The EKS cluster role needs the policy EKS documents for it (no customer-managed equivalent)",
            ),
        )
        cdk.Validations.of(self.nodegroup).acknowledge(
            *[
                cdk.Acknowledgment(
                    id=f"AwsSolutions-IAM4[{managed}{policy}]",
                    reason="The managed node group's role needs the policies EKS documents for worker nodes",
                )
                for policy in (
                    "AmazonEKSWorkerNodePolicy",
                    "AmazonEKS_CNI_Policy",
                    "AmazonEC2ContainerRegistryReadOnly",
                )
            ]
        )
        cdk.Validations.of(self.cloudwatch_agent_role).acknowledge(
            cdk.Acknowledgment(
                id=f"AwsSolutions-IAM4[{managed}CloudWatchAgentServerPolicy]",
                reason="The policy the amazon-cloudwatch-observability add-on documents for its agent; PutMetricData "
                "and the agent's log groups cannot be narrowed to resources before they exist",
            )
        )
        self._acknowledge_kubectl_provider()
        if not self._public_endpoint():
            return
        cdk.Validations.of(self.cluster).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions-EKS1",
                reason="The public endpoint is open only to the public_access_cidrs the user named",
            )
        )

    def _acknowledge_kubectl_provider(self) -> None:
        """aws-cdk-lib's kubectl provider: its handler and framework functions, their runtimes and managed
        policies are the library's (in the VPC: the VPC access policy; images: ECR read)."""
        provider = self.cluster.node.try_find_child("KubectlProvider")
        if provider is None:
            return
        stack = cdk.Stack.of(self)
        managed = "Policy::arn:<AWS::Partition>:iam::aws:policy/"
        reason = "aws-cdk-lib's kubectl provider functions use these AWS managed policies (logs, VPC access, ECR read)"
        acknowledgments = [
            cdk.Acknowledgment(id=f"AwsSolutions-IAM4[{managed}{policy}]", reason=reason)
            for policy in (
                "service-role/AWSLambdaBasicExecutionRole",
                "service-role/AWSLambdaVPCAccessExecutionRole",
                "AmazonEC2ContainerRegistryReadOnly",
            )
        ]
        for child in provider.node.find_all():
            if isinstance(child, cdk.CfnCondition) and child.node.id == "HasEcrPublic":
                # The ECR Public read policy, attached only in the aws partition (a Fn::If in the role).
                arn = {
                    "Fn::Join": [
                        "",
                        [
                            "arn:",
                            {"Ref": "AWS::Partition"},
                            ":iam::aws:policy/AmazonElasticContainerRegistryPublicReadOnly",
                        ],
                    ]
                }
                condition = {"Fn::If": [stack.resolve(child.logical_id), arn, {"Ref": "AWS::NoValue"}]}
                policy = json.dumps(condition, separators=(",", ":"))
                acknowledgments.append(cdk.Acknowledgment(id=f"AwsSolutions-IAM4[Policy::{policy}]", reason=reason))
        handler = provider.node.try_find_child("Handler")
        if handler is not None and isinstance(handler.node.default_child, cdk.CfnResource):
            logical = stack.resolve(handler.node.default_child.logical_id)
            acknowledgments.append(
                cdk.Acknowledgment(
                    id=f"AwsSolutions-IAM5[Resource::<{logical}.Arn>:*]",
                    reason="The provider framework invokes any version of the kubectl handler function (aws-cdk-lib)",
                )
            )
        acknowledgments.append(
            cdk.Acknowledgment(id="AwsSolutions-L1", reason="The kubectl handler's runtime is chosen by aws-cdk-lib")
        )
        cdk.Validations.of(provider).acknowledge(*acknowledgments)

    def _public_endpoint(self) -> bool:
        resource = self.cluster.node.default_child
        config = resource.resources_vpc_config if isinstance(resource, eks.CfnCluster) else None
        resolved = cdk.Stack.of(self).resolve(config) if config is not None else {}
        return bool(resolved.get("endpointPublicAccess"))


@jsii.implements(IValidation)
class _CapacityValidation:
    """At synth: the node group at ``min_size`` must hold every reserved demand."""

    def __init__(self, cluster: ObservedEksCluster) -> None:
        self._cluster = cluster

    def validate(self) -> list[str]:
        options = self._cluster.node_group_options
        vcpus, memory = options.size
        try:
            check_capacity(
                instance_type=options.instance_type,
                vcpus=vcpus,
                memory_mib=memory,
                nodes=options.min_size,
                demands=self._cluster.demands,
            )
        except ValueError as error:
            return [str(error)]
        return []
