"""The CloudWatch side of a :class:`~devops_blueprints.constructs.observability.rum_monitor.WebAppMonitor`: RUM's
extended metric definitions, the metric filters of its :class:`PageMetric` s on the monitor's log group, and the
static or anomaly-detection alarms of both on the monitor's topic.

:class:`MonitorAlarms` creates its resources as children of the monitor itself (not of a construct of its own),
so their construct ids, and with them the logical ids, are the monitor's: ``<PageMetric name>Filter``,
``<alarm id>Alarm``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rum as rum
from aws_cdk import aws_sns as sns
from constructs import Construct

from devops_blueprints.constructs.observability.rum_metrics import (
    EXTENDED_METRIC_DIMENSIONS,
    EXTENDED_METRICS,
    Alarming,
    AnomalyDetection,
    ExtendedMetric,
    PageMetric,
    Threshold,
)

PAGE_METRICS_NAMESPACE_PREFIX = "RUM/Pages"
#: Every alarm: 2 of the last 3 five-minute periods breaching; no data is not breaching (a quiet site is fine).
_EVALUATION: dict[str, Any] = {
    "evaluation_periods": 3,
    "datapoints_to_alarm": 2,
    "treat_missing_data": cloudwatch.TreatMissingData.NOT_BREACHING,
}
#: Anomaly detection: outside the band on both sides, or above it only (``AnomalyDetection.both_sides``).
_ANOMALY_OPERATOR = {
    True: cloudwatch.ComparisonOperator.LESS_THAN_LOWER_OR_GREATER_THAN_UPPER_THRESHOLD,
    False: cloudwatch.ComparisonOperator.GREATER_THAN_UPPER_THRESHOLD,
}
#: Static threshold: above it, or below it (``Threshold.above``).
_STATIC_OPERATOR = {
    True: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    False: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
}


def metric_destinations(extended: Sequence[ExtendedMetric]) -> list[rum.CfnAppMonitor.MetricDestinationProperty] | None:
    """The app monitor's ``MetricDestinations``: the extended metrics, sent to CloudWatch (``AWS/RUM``)."""
    if not extended:
        return None
    definitions = []
    for metric in extended:
        value_key, _ = EXTENDED_METRICS[metric.name]
        definitions.append(
            rum.CfnAppMonitor.MetricDefinitionProperty(
                name=metric.name,
                namespace="AWS/RUM",
                value_key=value_key,
                unit_label="Milliseconds" if value_key == "event_details.duration" else None,
                event_pattern=json.dumps(metric.event_pattern(), separators=(",", ":")),
                dimension_keys={EXTENDED_METRIC_DIMENSIONS[metric.dimension]: metric.dimension},
            )
        )
    return [rum.CfnAppMonitor.MetricDestinationProperty(destination="CloudWatch", metric_definitions=definitions)]


class MonitorAlarms:
    """The metric filters and alarms of one app monitor, created in ``scope`` (the monitor).

    :param scope: the construct the filters and alarms are created in.
    :param monitor_name: the app monitor's name (alarm names and descriptions start with it).
    :param log_group_name: the monitor's log group (the metric filters' source).
    :param log_group: the resource that creates that group; the filters depend on it. None: no dependency.
    :param topic: where the alarms notify (ALARM and OK). None: no actions.
    """

    def __init__(
        self,
        scope: Construct,
        monitor_name: str,
        *,
        log_group_name: str,
        log_group: Construct | None,
        topic: sns.ITopic | None,
    ) -> None:
        self._scope = scope
        self._name = monitor_name
        self._log_group_name = log_group_name
        self._log_group = log_group
        self._topic = topic
        self.alarms: list[cloudwatch.Alarm] = []
        self.metric_filters: list[logs.CfnMetricFilter] = []

    def add_page_metric(self, page: PageMetric) -> None:
        """The page metric's filters (one per dimension set) and its alarms: overall, per device type, per
        country."""
        namespace = f"{PAGE_METRICS_NAMESPACE_PREFIX}/{self._name}"
        variants: list[tuple[str, dict[str, str]]] = [("", {})]
        variants += [(f"By{key}", {key: selector}) for key, selector in page.dimensions.items()]
        for suffix, dimensions in variants:
            metric_filter = logs.CfnMetricFilter(
                self._scope,
                f"{page.name}{suffix}Filter",
                log_group_name=self._log_group_name,
                filter_pattern=page.filter_pattern,
                metric_transformations=[
                    logs.CfnMetricFilter.MetricTransformationProperty(
                        metric_name=page.name,
                        metric_namespace=namespace,
                        metric_value=page.metric_value,
                        unit=page.unit,
                        dimensions=[
                            logs.CfnMetricFilter.DimensionProperty(key=key, value=value)
                            for key, value in dimensions.items()
                        ]
                        or None,
                    )
                ],
            )
            if self._log_group is not None:
                metric_filter.node.add_dependency(self._log_group)
            self.metric_filters.append(metric_filter)
        if page.alarm is None:
            return
        above = page.alarm.above if isinstance(page.alarm, Threshold) else True
        # (alarm id, dimensions, alarming, what is measured)
        alarms: list[tuple[str, dict[str, str], Alarming, str]] = [
            (page.name, {}, page.alarm, f"{page.name} of {self._name}")
        ]
        # Static thresholds per device type and per country: (construct id word, dimension, thresholds, where).
        splits = (
            ("DeviceType", "DeviceType", page.thresholds_by_device_type, "on {} devices"),
            ("Country", "CountryCode", page.thresholds_by_country, "in {}"),
        )
        for word, dimension, thresholds, where in splits:
            alarms += [
                (
                    f"{page.name}{word}{_id(value)}",
                    {dimension: value},
                    Threshold(threshold, above),
                    f"{page.name} of {self._name} {where.format(value)}",
                )
                for value, threshold in thresholds.items()
            ]
        for alarm_id, dimensions, alarming, description in alarms:
            metric = cloudwatch.Metric(
                namespace=namespace,
                metric_name=page.name,
                dimensions_map=dimensions or None,
                statistic=page.statistic,
                period=cdk.Duration.minutes(5),
            )
            self._alarm(alarm_id, metric, alarming, description)

    def add_extended_metric(self, extended: ExtendedMetric) -> None:
        """The extended metric's alarm (when it has one and a dimension value to watch)."""
        if extended.alarm is None or extended.value is None:
            return
        # RUM's metrics carry the app monitor's name as ``application_name``; an extended metric adds its
        # dimension (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch-RUM-metrics.html).
        metric = cloudwatch.Metric(
            namespace="AWS/RUM",
            metric_name=extended.name,
            dimensions_map={"application_name": self._name, extended.dimension: extended.value},
            statistic=extended.alarm_statistic,
            period=cdk.Duration.minutes(5),
        )
        self._alarm(
            f"{extended.name}{extended.dimension}{_id(extended.value)}",
            metric,
            extended.alarm,
            f"{extended.name} of {self._name} for {extended.dimension} {extended.value}",
        )

    def _alarm(self, alarm_id: str, metric: cloudwatch.Metric, alarming: Alarming, description: str) -> None:
        """One alarm, static or anomaly detection, on the topic."""
        kind: type[cloudwatch.Alarm]
        specific: dict[str, Any]
        if isinstance(alarming, AnomalyDetection):
            kind, specific = cloudwatch.AnomalyDetectionAlarm, {"std_devs": alarming.band_width}
            operator, condition = _ANOMALY_OPERATOR[alarming.both_sides], "outside its expected band"
        else:
            kind, specific = cloudwatch.Alarm, {"threshold": alarming.value}
            operator = _STATIC_OPERATOR[alarming.above]
            condition = f"{'above' if alarming.above else 'below'} {alarming.value:g}"
        alarm = kind(
            self._scope,
            f"{alarm_id}Alarm",
            # A name of its own (the monitor's name first): a composite alarm (the CloudWatch engine's, through
            # CloudWatchEngine.add_alarms) names its alarms in its rule. CloudWatch allows 255 characters.
            alarm_name=f"{self._name}-{alarm_id}"[:255],
            metric=metric,
            comparison_operator=operator,
            alarm_description=f"{description} is {condition}",
            **_EVALUATION,
            **specific,
        )
        if self._topic is not None:
            alarm.add_alarm_action(cw_actions.SnsAction(self._topic))
            alarm.add_ok_action(cw_actions.SnsAction(self._topic))
        self.alarms.append(alarm)


def _id(value: str) -> str:
    """A construct-id-safe PascalCase form of a dimension value (``/docs/`` -> ``Docs``)."""
    parts = re.split(r"[^A-Za-z0-9]+", value)
    return "".join(part[:1].upper() + part[1:] for part in parts if part) or "Root"
