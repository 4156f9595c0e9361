"""Observability constructs: the application boundary and its engines (CloudWatch; DevOps Guru coverage,
notifications and delegated administration until its end of support), and Lambda functions with Lambda
Insights and X-Ray; CloudWatch RUM app monitors (``WebAppMonitor``); EKS container observability
(``ObservedEksCluster``, ``PrometheusScaling``, in ``eks/``)."""

from __future__ import annotations

from devops_blueprints.constructs.observability.boundary import ApplicationBoundary as ApplicationBoundary
from devops_blueprints.constructs.observability.cloudwatch_engine import CloudWatchEngine as CloudWatchEngine
from devops_blueprints.constructs.observability.cloudwatch_engine import (
    CloudWatchEngineOptions as CloudWatchEngineOptions,
)
from devops_blueprints.constructs.observability.devops_agent import DevOpsAgentSpace as DevOpsAgentSpace
from devops_blueprints.constructs.observability.devops_guru_admin import (
    DevOpsGuruDelegatedAdmin as DevOpsGuruDelegatedAdmin,
)
from devops_blueprints.constructs.observability.devops_guru_coverage import (
    DevOpsGuruAppBoundary as DevOpsGuruAppBoundary,
)
from devops_blueprints.constructs.observability.devops_guru_coverage import (
    DevOpsGuruStackCoverage as DevOpsGuruStackCoverage,
)
from devops_blueprints.constructs.observability.devops_guru_notifications import (
    DevOpsGuruNotifications as DevOpsGuruNotifications,
)
from devops_blueprints.constructs.observability.eks import ContainerInsightsMode as ContainerInsightsMode
from devops_blueprints.constructs.observability.eks import NodeGroupOptions as NodeGroupOptions
from devops_blueprints.constructs.observability.eks import ObservedEksCluster as ObservedEksCluster
from devops_blueprints.constructs.observability.eks import PrometheusScaling as PrometheusScaling
from devops_blueprints.constructs.observability.investigations import InvestigationGroup as InvestigationGroup
from devops_blueprints.constructs.observability.lambda_error_queries import LambdaErrorQueries as LambdaErrorQueries
from devops_blueprints.constructs.observability.observed_function import ObservedFunction as ObservedFunction
from devops_blueprints.constructs.observability.rum_metrics import AnomalyDetection as AnomalyDetection
from devops_blueprints.constructs.observability.rum_metrics import ExtendedMetric as ExtendedMetric
from devops_blueprints.constructs.observability.rum_metrics import PageMetric as PageMetric
from devops_blueprints.constructs.observability.rum_metrics import Threshold as Threshold
from devops_blueprints.constructs.observability.rum_monitor import WebAppMonitor as WebAppMonitor
