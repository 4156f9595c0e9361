"""ObservabilityStage: the engines of one application boundary plus the three sample workloads inside it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import aws_cdk as cdk
from constructs import Construct

from devops_blueprints.constructs.app_boundary import DEFAULT_TAG_KEY
from devops_blueprints.constructs.observability.boundary import ENGINE_NAMES, ApplicationBoundary, BoundaryEngine
from devops_blueprints.constructs.observability.cloudwatch_engine import CloudWatchEngineOptions
from devops_blueprints.constructs.observability.devops_agent import DevOpsAgentSpace
from devops_blueprints.stacks.observability.anomalous_lambda import AnomalousLambdaStack
from devops_blueprints.stacks.observability.cloudwatch import CloudWatchObservabilityStack
from devops_blueprints.stacks.observability.container_insights_ecs import ContainerInsightsEcsStack
from devops_blueprints.stacks.observability.devops_guru import DevOpsGuruStack
from devops_blueprints.stacks.observability.eks import EksObservabilityStack
from devops_blueprints.stacks.observability.serverless_sample import ServerlessSampleStack
from devops_blueprints.stacks.observability.static_site import StaticSiteStack

#: Application names (values of the boundary key) of the sample stacks.
SAMPLE_APPLICATIONS = {
    "ServerlessSample": "serverless-sample",
    "AnomalousLambda": "anomalous-lambda",
    "ContainerInsightsEcs": "container-insights-ecs",
    "StaticSite": "static-site",
    "EksObservability": "eks-observability",
}


#: The engines of the stage when none are named (DevOps Guru until its end of support, and its successor).
DEFAULT_ENGINES: tuple[str, ...] = ("devops-guru", "cloudwatch")


def validate_engines(engines: Sequence[str]) -> tuple[str, ...]:
    """Known engine names, at least one, no repeats."""
    if isinstance(engines, str):
        raise ValueError(f"engines must be a list of engine names, got the string {engines!r}")
    names = tuple(engines)
    if not names:
        raise ValueError(f"engines must name at least one of {', '.join(ENGINE_NAMES)}")
    for name in names:
        if name not in ENGINE_NAMES:
            raise ValueError(f"unknown observability engine {name!r}; known: {', '.join(ENGINE_NAMES)}")
    if len(set(names)) != len(names):
        raise ValueError(f"engines must not repeat an engine, got {list(names)}")
    return names


class ObservabilityStage(cdk.Stage):
    """The engines of one application boundary in one account/region, and workloads for them to cover.

    Stacks: ``DevOpsGuru`` (devops-guru engine: notifications, resource collection of the boundary),
    ``CloudWatchObservability`` (cloudwatch engine: encrypted topic), ``ServerlessSample``,
    ``AnomalousLambda``, ``ContainerInsightsEcs``, ``EksObservability`` and ``StaticSite`` (S3 + CloudFront page with a CloudWatch
    RUM app monitor, its page/resource metrics and alarms on its own encrypted topic) — each sample tagged
    ``<tag_key>=<application>`` and covered by every engine (the CloudWatch engine's alarms live in the sample
    stacks themselves; the composite alarm of ``static-site`` also names the RUM page alarms).

    :param engines: engine names (``devops-guru``, ``cloudwatch``, ``devops-agent``). Default: the first two.
        ``devops-agent`` adds a ``DevOpsAgent`` stack (an AWS DevOps Agent space narrowed to the applications),
        refused at synth in a region the service does not serve.
    :param cloudwatch_options: options of the CloudWatch engine (only with that engine).
    :param investigations: a CloudWatch investigation group that every application's composite alarm opens
        investigations in (only with the cloudwatch engine). Default: False.
    :param tag_key: the application boundary key. Default: ``devops-guru-applications``.
    :param notification_emails: email subscriptions for insights. Default: none.
    :param injected_latency_ms: latency the anomalous function injects. Default: 0 (healthy).
    :param provisioned_concurrency: provisioned concurrency of the anomalous function. Default: 0.
    :param leak_mb_per_minute: memory the ECS sample leaks per minute. Default: 5.
    :param include_samples: deploy the sample workloads. Default: True.
    :param include_eks: with the samples, also ``EksObservability`` (an EKS cluster with Container Insights, the
        OOM-restarting sample and its alarms in the CloudWatch engine, AMP and KEDA; it costs by the hour, see
        docs/observability-eks.md). Default: True.
    :param eks_options: keyword arguments for ``EksObservabilityStack`` (e.g. ``public_access_cidrs``,
        ``container_insights``). Default: none.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        tag_key: str = DEFAULT_TAG_KEY,
        notification_emails: Sequence[str] = (),
        injected_latency_ms: int = 0,
        provisioned_concurrency: int = 0,
        leak_mb_per_minute: int = 5,
        include_samples: bool = True,
        include_eks: bool = True,
        eks_options: Mapping[str, Any] | None = None,
        engines: Sequence[str] = DEFAULT_ENGINES,
        cloudwatch_options: CloudWatchEngineOptions | None = None,
        investigations: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.engine_names = validate_engines(engines)
        if cloudwatch_options is not None and "cloudwatch" not in self.engine_names:
            raise ValueError("cloudwatch_options given, but the cloudwatch engine is not among the engines")
        if investigations and "cloudwatch" not in self.engine_names:
            raise ValueError("investigations=True needs the cloudwatch engine (its alarms open the investigations)")
        engine_objects: list[BoundaryEngine] = []
        self.devops_guru: DevOpsGuruStack | None = None
        if "devops-guru" in self.engine_names:
            self.devops_guru = DevOpsGuruStack(
                self,
                "DevOpsGuru",
                tag_key=tag_key,
                notification_emails=notification_emails,
                description="DevOps Guru notifications and application boundary (devops-blueprints)",
            )
            engine_objects.append(self.devops_guru.boundary)
        self.cloudwatch: CloudWatchObservabilityStack | None = None
        if "cloudwatch" in self.engine_names:
            self.cloudwatch = CloudWatchObservabilityStack(
                self,
                "CloudWatchObservability",
                notification_emails=notification_emails,
                options=cloudwatch_options,
                investigations=investigations,
                description="CloudWatch engine of the application boundary: encrypted notifications (devops-blueprints)",
            )
            engine_objects.append(self.cloudwatch.engine)
        self.devops_agent: cdk.Stack | None = None
        if "devops-agent" in self.engine_names:
            self.devops_agent = cdk.Stack(
                self, "DevOpsAgent", description="AWS DevOps Agent space for the boundary's applications"
            )
            agent = DevOpsAgentSpace(
                self.devops_agent, "AgentSpace", name=f"{construct_id}-applications", tag_key=tag_key
            )
            engine_objects.append(agent)
        self.boundary = ApplicationBoundary(self, "Boundary", engines=engine_objects, tag_key=tag_key)
        boundary = self.boundary
        self.samples: list[cdk.Stack] = []
        if not include_samples:
            return
        self.serverless = ServerlessSampleStack(
            self, "ServerlessSample", description="SQS -> Lambda -> DynamoDB sample analysed by DevOps Guru"
        )
        self.anomalous_lambda = AnomalousLambdaStack(
            self,
            "AnomalousLambda",
            injected_latency_ms=injected_latency_ms,
            provisioned_concurrency=provisioned_concurrency,
            description="Scheduled function with injectable latency, analysed by DevOps Guru",
        )
        self.container_insights = ContainerInsightsEcsStack(
            self,
            "ContainerInsightsEcs",
            leak_mb_per_minute=leak_mb_per_minute,
            description="ECS service with Container Insights and a memory leak, analysed by DevOps Guru",
        )
        self.static_site = StaticSiteStack(
            self,
            "StaticSite",
            notification_emails=notification_emails,
            description="Static site on S3 and CloudFront with a CloudWatch RUM app monitor, page metrics and alarms",
        )
        self.samples = [self.serverless, self.anomalous_lambda, self.container_insights, self.static_site]
        self.eks: EksObservabilityStack | None = None
        if include_eks:
            self.eks = EksObservabilityStack(
                self,
                "EksObservability",
                application_name=SAMPLE_APPLICATIONS["EksObservability"],
                description="EKS cluster with Container Insights, an OOM-restarting sample, AMP and KEDA",
                **dict(eks_options or {}),
            )
            self.samples.append(self.eks)
        for stack in self.samples:
            boundary.include(stack, SAMPLE_APPLICATIONS[stack.node.id])
        if self.cloudwatch is not None:
            # The site's page alarms are RUM's, not the engine's: its composite alarm names them too.
            self.cloudwatch.engine.add_alarms(SAMPLE_APPLICATIONS["StaticSite"], self.static_site.monitor.alarms)
            if self.eks is not None and self.eks.alarms:
                # Container Insights' pod alarms read metrics no CloudFormation resource owns: the engine's
                # composite alarm of eks-observability names them.
                self.cloudwatch.engine.add_alarms(SAMPLE_APPLICATIONS["EksObservability"], self.eks.alarms)
