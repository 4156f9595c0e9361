"""What a :class:`~devops_blueprints.constructs.observability.rum_monitor.WebAppMonitor` measures and alarms on
(plain Python, validated on construction).

Two ways to get page- and resource-level metrics, both offered:

* :class:`ExtendedMetric` — RUM's own extended metrics: a default RUM metric sent to CloudWatch (``AWS/RUM``)
  with one more dimension. No log storage needed, but only the metric names and dimensions RUM allows.
* :class:`PageMetric` — the source article's way: a metric filter on the app monitor's log group (RUM's copy
  of every event in CloudWatch Logs), any event field, any filter pattern; costs log ingestion and storage.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from devops_blueprints.constructs.observability.log_filter_pattern import (
    FilterPatternError,
    parse_filter_pattern,
    parse_selector,
)

#: Dimensions RUM allows on extended metrics, by the event field they come from: "The valid dimension names for
#: the additional dimensions for extended metrics are BrowserName, CountryCode, DeviceType, FileType, OSName,
#: and PageId" (BatchCreateRumMetricDefinitions,
#: https://docs.aws.amazon.com/cloudwatchrum/latest/APIReference/API_BatchCreateRumMetricDefinitions.html;
#: the ``DimensionKeys`` of MetricDefinitionRequest,
#: https://docs.aws.amazon.com/cloudwatchrum/latest/APIReference/API_MetricDefinitionRequest.html).
EXTENDED_METRIC_DIMENSIONS: Mapping[str, str] = MappingProxyType(
    {
        "BrowserName": "metadata.browserName",
        "CountryCode": "metadata.countryCode",
        "DeviceType": "metadata.deviceType",
        "FileType": "event_details.fileType",
        "OSName": "metadata.osName",
        "PageId": "metadata.pageId",
    }
)

#: Extended metrics this construct declares: name -> (ValueKey, event type the EventPattern must include), as
#: MetricDefinitionRequest requires for the ``AWS/RUM`` namespace (same page as above).
EXTENDED_METRICS: Mapping[str, tuple[str | None, str]] = MappingProxyType(
    {
        "PerformanceNavigationDuration": ("event_details.duration", "com.amazon.rum.performance_navigation_event"),
        "PerformanceResourceDuration": ("event_details.duration", "com.amazon.rum.performance_resource_event"),
        "WebVitalsLargestContentfulPaint": ("event_details.value", "com.amazon.rum.largest_contentful_paint_event"),
        "WebVitalsCumulativeLayoutShift": ("event_details.value", "com.amazon.rum.cumulative_layout_shift_event"),
        "JsErrorCount": (None, "com.amazon.rum.js_error_event"),
        "HttpErrorCount": (None, "com.amazon.rum.http_event"),
        "PageViewCount": (None, "com.amazon.rum.page_view_event"),
    }
)

#: ``DeviceType`` values RUM writes (``metadata.deviceType``) and a country code's shape (ISO 3166-1 alpha-2),
#: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch-RUM-datacollected.html.
_COUNTRY_CODE = re.compile(r"[A-Z]{2}")
_METRIC_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,255}")
_DIMENSION_VALUE = re.compile(r"[^\s\"]{1,255}")


@dataclass(frozen=True)
class Threshold:
    """A static alarm threshold: alarm when the statistic is above ``value`` (or below, ``above=False``)."""

    value: float
    above: bool = True


@dataclass(frozen=True)
class AnomalyDetection:
    """An anomaly-detection alarm: alarm outside a band ``band_width`` standard deviations wide (above it only
    unless ``both_sides``)."""

    band_width: float = 2.0
    both_sides: bool = False

    def __post_init__(self) -> None:
        if not 0 < self.band_width <= 100:
            raise ValueError(f"band_width must be above 0 and at most 100, got {self.band_width}")


Alarming = Threshold | AnomalyDetection


def _check_alarming(owner: str, alarm: object, by_device: Mapping[str, float], by_country: Mapping[str, float]) -> None:
    if alarm is not None and not isinstance(alarm, (Threshold, AnomalyDetection)):
        raise ValueError(f"{owner}: alarm must be a Threshold or AnomalyDetection, got {alarm!r}")
    if isinstance(alarm, AnomalyDetection) and (by_device or by_country):
        raise ValueError(
            f"{owner}: thresholds_by_device_type/thresholds_by_country are static thresholds and cannot be "
            "combined with anomaly detection (give alarm=Threshold(...) instead)"
        )
    if (by_device or by_country) and alarm is None:
        raise ValueError(f"{owner}: per-device or per-country thresholds need alarm=Threshold(...) for the rest")
    for country in by_country:
        if not _COUNTRY_CODE.fullmatch(country):
            raise ValueError(f"{owner}: thresholds_by_country keys are ISO 3166-1 alpha-2 codes, got {country!r}")
    for device in by_device:
        if not _DIMENSION_VALUE.fullmatch(device):
            raise ValueError(f"{owner}: thresholds_by_device_type keys are device types, got {device!r}")


@dataclass(frozen=True)
class PageMetric:
    """A metric filter on the app monitor's log group, and its alarms (the source article's way).

    :param name: metric name (and the alarms' id), e.g. ``HighlightJsDuration``.
    :param filter_pattern: CloudWatch Logs filter pattern the events must match, parsed at synth
        (:mod:`log_filter_pattern`), e.g. ``{$.event_details.targetUrl = "*highlight.pack.js*" &&
        $.event_details.duration > 0}``.
    :param metric_value: the selector whose value is published. Default: ``$.event_details.duration``.
    :param unit: CloudWatch unit of the value. Default: ``Milliseconds``.
    :param statistic: alarm statistic. Default: ``p90``.
    :param alarm: a :class:`Threshold` or :class:`AnomalyDetection`, or None for the metric alone. Default: None.
    :param thresholds_by_device_type: static thresholds for some device types (``desktop``, ``mobile``...);
        the metric then has a ``DeviceType`` dimension. Default: none.
    :param thresholds_by_country: likewise per country code (``US``...), a ``CountryCode`` dimension.
    """

    name: str
    filter_pattern: str
    metric_value: str = "$.event_details.duration"
    unit: str = "Milliseconds"
    statistic: str = "p90"
    alarm: Alarming | None = None
    thresholds_by_device_type: Mapping[str, float] = field(default_factory=dict)
    thresholds_by_country: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _METRIC_NAME.fullmatch(self.name):
            raise ValueError(f"PageMetric name must be 1-255 letters, digits, '_', '.', '-', got {self.name!r}")
        owner = f"PageMetric {self.name}"
        try:
            pattern = parse_filter_pattern(self.filter_pattern)
        except FilterPatternError as exc:
            raise ValueError(f"{owner}: filter_pattern {self.filter_pattern!r}: {exc}") from None
        if pattern.kind != "json":
            raise ValueError(f"{owner}: filter_pattern must be a JSON pattern {{ ... }} (RUM events are JSON)")
        try:
            parse_selector(self.metric_value)
        except FilterPatternError as exc:
            raise ValueError(f"{owner}: metric_value {self.metric_value!r} is not a JSON selector: {exc}") from None
        _check_alarming(owner, self.alarm, self.thresholds_by_device_type, self.thresholds_by_country)

    @property
    def dimensions(self) -> dict[str, str]:
        """Metric filter dimensions: the event fields the per-device/country alarms need."""
        result: dict[str, str] = {}
        if self.thresholds_by_device_type:
            result["DeviceType"] = "$.metadata.deviceType"
        if self.thresholds_by_country:
            result["CountryCode"] = "$.metadata.countryCode"
        return result


@dataclass(frozen=True)
class ExtendedMetric:
    """A RUM extended metric (``AWS/RUM``, with ``application_name`` and one more dimension) and its alarms.

    :param name: one of :data:`EXTENDED_METRICS`, e.g. ``PerformanceResourceDuration``.
    :param dimension: one of :data:`EXTENDED_METRIC_DIMENSIONS`, e.g. ``FileType``.
    :param value: only events with this dimension value (e.g. ``/docs/`` for ``PageId``); the alarms watch it.
        Default: None (every value; alarms then need ``value``).
    :param statistic: alarm statistic. Default: ``p90`` for durations, ``Sum`` for counts.
    :param alarm: as for :class:`PageMetric`. Default: None.
    """

    name: str
    dimension: str
    value: str | None = None
    statistic: str | None = None
    alarm: Alarming | None = None

    def __post_init__(self) -> None:
        if self.name not in EXTENDED_METRICS:
            raise ValueError(f"ExtendedMetric name must be one of {', '.join(EXTENDED_METRICS)}, got {self.name!r}")
        if self.dimension not in EXTENDED_METRIC_DIMENSIONS:
            raise ValueError(
                f"ExtendedMetric {self.name}: dimension {self.dimension!r} is not one RUM allows; "
                f"allowed: {', '.join(EXTENDED_METRIC_DIMENSIONS)}"
            )
        if self.value is not None and not _DIMENSION_VALUE.fullmatch(self.value):
            raise ValueError(
                f"ExtendedMetric {self.name}: value must be 1-255 non-space characters, got {self.value!r}"
            )
        _check_alarming(f"ExtendedMetric {self.name}", self.alarm, {}, {})
        if self.alarm is not None and self.value is None:
            raise ValueError(f"ExtendedMetric {self.name}: an alarm needs value (the {self.dimension} to watch)")

    @property
    def alarm_statistic(self) -> str:
        if self.statistic is not None:
            return self.statistic
        return "p90" if EXTENDED_METRICS[self.name][0] is not None else "Sum"

    def event_pattern(self) -> dict[str, object]:
        """The definition's EventPattern (EventBridge pattern syntax, as MetricDefinitionRequest takes it)."""
        _, event_type = EXTENDED_METRICS[self.name]
        pattern: dict[str, object] = {"event_type": [event_type]}
        if self.value is not None:
            section, key = EXTENDED_METRIC_DIMENSIONS[self.dimension].split(".")
            pattern[section] = {key: [self.value]}
        return pattern
