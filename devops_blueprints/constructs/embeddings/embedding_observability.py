"""Observation of :class:`~devops_blueprints.constructs.embeddings.embedding.ImageEmbeddingPipeline`: Batch job state
change events to CloudWatch Logs (EventBridge rule, log group target and its resource policy), metric filters
counting children by final status, the pipeline's metrics and its dashboard.

The functions create their resources as children of the pipeline (``scope``) with the pipeline's construct
ids (``JobEventsLogGroup``, ``JobEventsRule``, ``JobEventsLogPolicy``, ``Jobs*Filter``, ``Dashboard``). They
take the resources they read as arguments, so this module sits below ``embedding`` and never imports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_batch as batch
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

METRICS_NAMESPACE = "DevOpsBlueprints/Embedding"
#: The pipeline's metrics (namespace :data:`METRICS_NAMESPACE`, dimension ``JobQueue``): the submitter's
#: embedded metric format records write the first three, the job event metric filters the last two.
JOBS_SUBMITTED = "JobsSubmitted"
CHILD_JOBS_SUBMITTED = "ChildJobsSubmitted"
IMAGES_SUBMITTED = "ImagesSubmitted"
CHILD_JOBS_SUCCEEDED = "ChildJobsSucceeded"
CHILD_JOBS_FAILED = "ChildJobsFailed"


@jsii.implements(events.IRuleTarget)
class _LogGroupTarget:
    """An EventBridge target that delivers to a log group whose resource policy this construct writes itself
    (``aws_events_targets.CloudWatchLogGroup`` would add a custom resource and its Lambda for that)."""

    def __init__(self, log_group: logs.ILogGroup) -> None:
        self._log_group = log_group

    def bind(self, rule: Any, id: str | None = None) -> events.RuleTargetConfig:
        stack = cdk.Stack.of(self._log_group)
        arn = stack.format_arn(
            service="logs",
            resource="log-group",
            resource_name=self._log_group.log_group_name,
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        return events.RuleTargetConfig(arn=arn)


@dataclass(frozen=True)
class JobEvents:
    """Where a queue's job state changes go and what counts them."""

    log_group: logs.LogGroup
    rule: events.Rule
    metric_filters: dict[str, logs.MetricFilter]


def observe_job_events(
    scope: Construct,
    *,
    job_queue: batch.IJobQueue,
    log_retention: logs.RetentionDays,
    removal_policy: cdk.RemovalPolicy,
) -> JobEvents:
    """Send ``job_queue``'s SUCCEEDED/FAILED job events to a new log group and count them with metric filters."""
    log_group = logs.LogGroup(scope, "JobEventsLogGroup", retention=log_retention, removal_policy=removal_policy)
    rule = events.Rule(
        scope,
        "JobEventsRule",
        description="Batch job state changes (SUCCEEDED/FAILED) of the embedding queue, to CloudWatch Logs",
        event_pattern=events.EventPattern(
            source=["aws.batch"],
            detail_type=["Batch Job State Change"],
            detail={"jobQueue": [job_queue.job_queue_arn], "status": ["SUCCEEDED", "FAILED"]},
        ),
    )
    rule.add_target(_LogGroupTarget(log_group))
    _allow_events_to_log(scope, log_group)
    metric_filters = {
        status: logs.MetricFilter(
            scope,
            f"Jobs{status.title()}Filter",
            log_group=log_group,
            metric_namespace=METRICS_NAMESPACE,
            metric_name=f"ChildJobs{status.title()}",
            # units of work: plain jobs and array children, not the array parents
            filter_pattern=logs.FilterPattern.all(
                logs.FilterPattern.string_value("$.detail.status", "=", status),
                logs.FilterPattern.not_exists("$.detail.arrayProperties.size"),
            ),
            metric_value="1",
            dimensions={"JobQueue": "$.detail.jobQueue"},
            unit=cloudwatch.Unit.COUNT,
        )
        for status in ("SUCCEEDED", "FAILED")
    }
    return JobEvents(log_group=log_group, rule=rule, metric_filters=metric_filters)


def _allow_events_to_log(scope: Construct, log_group: logs.LogGroup) -> None:
    """The resource policy EventBridge needs to write to ``log_group`` (that log group only; the same
    principals as ``aws_events_targets.CloudWatchLogGroup``, without its custom resource)."""
    logs.ResourcePolicy(
        scope,
        "JobEventsLogPolicy",
        policy_statements=[
            iam.PolicyStatement(
                principals=[
                    iam.ServicePrincipal("events.amazonaws.com"),
                    iam.ServicePrincipal("delivery.logs.amazonaws.com"),
                ],
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[log_group.log_group_arn],
            )
        ],
    )


def queue_metric(job_queue: batch.IJobQueue, name: str, props: Mapping[str, Any]) -> cloudwatch.Metric:
    """A pipeline metric of ``job_queue``: 5-minute sums unless ``props`` say otherwise."""
    return cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={"JobQueue": job_queue.job_queue_arn},
        statistic="Sum",
        period=cdk.Duration.minutes(5),
        **props,
    )


def build_dashboard(
    scope: Construct,
    *,
    job_queue: batch.IJobQueue,
    job_log_group: logs.ILogGroup,
    submitter: lambda_.IFunction,
    dashboard_name: str | None,
) -> cloudwatch.Dashboard:
    """The pipeline's dashboard: jobs, images, job summary lines and errors, the submitter."""
    dashboard = cloudwatch.Dashboard(scope, "Dashboard", dashboard_name=dashboard_name)
    job_logs = job_log_group.log_group_name
    dashboard.add_widgets(
        cloudwatch.GraphWidget(
            title="Jobs: submitted, succeeded, failed (array children)",
            left=[
                queue_metric(job_queue, CHILD_JOBS_SUBMITTED, {"label": "Submitted"}),
                queue_metric(job_queue, CHILD_JOBS_SUCCEEDED, {"label": "Succeeded"}),
                queue_metric(job_queue, CHILD_JOBS_FAILED, {"label": "Failed"}),
            ],
            right=[queue_metric(job_queue, JOBS_SUBMITTED, {"label": "Array jobs submitted"})],
            width=12,
        ),
        cloudwatch.GraphWidget(
            title="Images submitted",
            left=[queue_metric(job_queue, IMAGES_SUBMITTED, {"label": "Images"})],
            width=12,
        ),
    )
    dashboard.add_widgets(
        cloudwatch.LogQueryWidget(
            title="Images embedded and failed (job summary lines)",
            log_group_names=[job_logs],
            view=cloudwatch.LogQueryVisualizationType.LINE,
            query_lines=[
                "filter @message like /^summary: images=/",
                'parse @message "summary: images=* embedded=* failed=* seconds=*" as listed, embedded, failed, rest',
                "stats sum(embedded) as ImagesEmbedded, sum(failed) as ImagesFailed by bin(5m)",
            ],
            width=12,
        ),
        cloudwatch.LogQueryWidget(
            title="Latest job errors",
            log_group_names=[job_logs],
            view=cloudwatch.LogQueryVisualizationType.TABLE,
            query_lines=[
                "fields @timestamp, @logStream, @message",
                "filter @message like /^error: /",
                "sort @timestamp desc",
                "limit 20",
            ],
            width=12,
        ),
    )
    dashboard.add_widgets(
        cloudwatch.GraphWidget(
            title="Submitter",
            left=[submitter.metric_invocations(), submitter.metric_errors()],
            right=[submitter.metric_duration(statistic="Maximum")],
            width=24,
        )
    )
    return dashboard
