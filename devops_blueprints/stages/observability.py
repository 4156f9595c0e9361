"""ObservabilityStage: DevOps Guru set-up plus the three sample workloads inside one app boundary."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aws_cdk as cdk
from constructs import Construct

from devops_blueprints.constructs.app_boundary import DEFAULT_TAG_KEY
from devops_blueprints.stacks.observability.anomalous_lambda import AnomalousLambdaStack
from devops_blueprints.stacks.observability.container_insights_ecs import ContainerInsightsEcsStack
from devops_blueprints.stacks.observability.devops_guru import DevOpsGuruStack
from devops_blueprints.stacks.observability.serverless_sample import ServerlessSampleStack

#: Application names (values of the boundary key) of the sample stacks.
SAMPLE_APPLICATIONS = {
    "ServerlessSample": "serverless-sample",
    "AnomalousLambda": "anomalous-lambda",
    "ContainerInsightsEcs": "container-insights-ecs",
}


class ObservabilityStage(cdk.Stage):
    """Everything DevOps Guru needs in one account/region, and workloads for it to analyse.

    Stacks: ``DevOpsGuru`` (notifications, resource collection of the boundary), ``ServerlessSample``,
    ``AnomalousLambda``, ``ContainerInsightsEcs`` — each sample tagged ``<tag_key>=<application>``.

    :param tag_key: the application boundary key. Default: ``devops-guru-applications``.
    :param notification_emails: email subscriptions for insights. Default: none.
    :param injected_latency_ms: latency the anomalous function injects. Default: 0 (healthy).
    :param provisioned_concurrency: provisioned concurrency of the anomalous function. Default: 0.
    :param leak_mb_per_minute: memory the ECS sample leaks per minute. Default: 5.
    :param include_samples: deploy the sample workloads. Default: True.
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
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.devops_guru = DevOpsGuruStack(
            self,
            "DevOpsGuru",
            tag_key=tag_key,
            notification_emails=notification_emails,
            description="DevOps Guru notifications and application boundary (devops-blueprints)",
        )
        boundary = self.devops_guru.boundary
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
        self.samples = [self.serverless, self.anomalous_lambda, self.container_insights]
        for stack in self.samples:
            boundary.include(stack, SAMPLE_APPLICATIONS[stack.node.id])
