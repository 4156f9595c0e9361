"""Observability stacks: the account-level engine stacks (DevOps Guru, CloudWatch) and the sample workloads
inside their boundary."""

from __future__ import annotations

from devops_blueprints.stacks.observability.anomalous_lambda import AnomalousLambdaStack as AnomalousLambdaStack
from devops_blueprints.stacks.observability.cloudwatch import (
    CloudWatchObservabilityStack as CloudWatchObservabilityStack,
)
from devops_blueprints.stacks.observability.container_insights_ecs import (
    ContainerInsightsEcsStack as ContainerInsightsEcsStack,
)
from devops_blueprints.stacks.observability.devops_guru import DevOpsGuruStack as DevOpsGuruStack
from devops_blueprints.stacks.observability.eks import EksObservabilityStack as EksObservabilityStack
from devops_blueprints.stacks.observability.serverless_sample import ServerlessSampleStack as ServerlessSampleStack
from devops_blueprints.stacks.observability.static_site import StaticSiteStack as StaticSiteStack
