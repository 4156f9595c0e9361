"""WebAppMonitor: the app monitor and how browsers authenticate, the snippet, extended metrics, metric filters on
the vended log group (created before the filters), alarms on the encrypted topic, and one clear error per kind of
bad prop."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template

from devops_blueprints.constructs.observability import WebAppMonitor
from devops_blueprints.constructs.observability.rum_metrics import (
    AnomalyDetection,
    ExtendedMetric,
    PageMetric,
    Threshold,
)
from tests.support.cdk import cfn_lint_errors, nag_findings, new_app

ARTICLE_PATTERN = '{$.event_details.targetUrl = "*highlight.pack.js*" && $.event_details.duration > 0}'


def _monitor(**kwargs: Any) -> tuple[cdk.Stack, WebAppMonitor]:
    stack = cdk.Stack(new_app(), "Site")
    props: dict[str, Any] = {"name": "sample-site", "domains": ["www.example.com"], **kwargs}
    return stack, WebAppMonitor(stack, "Rum", **props)


def _article_page(**kwargs: Any) -> PageMetric:
    return PageMetric(name="HighlightJsDuration", filter_pattern=ARTICLE_PATTERN, **kwargs)


@pytest.fixture(scope="module")
def full() -> tuple[cdk.Stack, Template]:
    stack, _ = _monitor(
        page_metrics=[
            _article_page(alarm=Threshold(500), thresholds_by_device_type={"desktop": 400, "mobile": 800}),
            PageMetric(
                name="DocsNavigation",
                filter_pattern='{$.event_type = "com.amazon.rum.performance_navigation_event" && '
                '$.metadata.pageId = "/docs/"}',
                alarm=AnomalyDetection(band_width=3),
                thresholds_by_country={},
            ),
        ],
        extended_metrics=[
            ExtendedMetric(
                name="PerformanceResourceDuration", dimension="FileType", value="script", alarm=Threshold(900)
            )
        ],
    )
    return stack, Template.from_stack(stack)


def test_synth_is_cdk_nag_and_cfn_lint_clean(full: tuple[cdk.Stack, Template]) -> None:
    stack, template = full
    assert nag_findings(stack) == []
    assert cfn_lint_errors(template.to_json()) == []


def test_the_monitor_keeps_events_in_cloudwatch_logs_for_its_domains(full: tuple[cdk.Stack, Template]) -> None:
    _, template = full
    template.has_resource_properties(
        "AWS::RUM::AppMonitor",
        {
            "Name": "sample-site",
            "DomainList": ["www.example.com"],
            "CwLogEnabled": True,
            "AppMonitorConfiguration": Match.object_like(
                {"IdentityPoolId": Match.any_value(), "GuestRoleArn": Match.any_value(), "SessionSampleRate": 1}
            ),
        },
    )


def test_the_guest_role_may_only_put_events_on_this_monitor(full: tuple[cdk.Stack, Template]) -> None:
    _, template = full
    (role,) = [
        r for r in template.find_resources("AWS::IAM::Role").values() if "Federated" in json.dumps(r["Properties"])
    ]
    statement = role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"]["ForAnyValue:StringLike"] == {"cognito-identity.amazonaws.com:amr": "unauthenticated"}
    (policy,) = role["Properties"]["Policies"]
    (allowed,) = policy["PolicyDocument"]["Statement"]
    assert allowed["Action"] == "rum:PutRumEvents"
    resource = json.dumps(allowed["Resource"])
    assert ":appmonitor/sample-site" in resource and "*" not in resource
    template.has_resource_properties("AWS::Cognito::IdentityPool", {"AllowUnauthenticatedIdentities": True})
    template.has_resource_properties(
        "AWS::Cognito::IdentityPoolRoleAttachment", {"Roles": {"unauthenticated": Match.any_value()}}
    )


def test_resource_policy_mode_has_no_identity_pool_and_an_unsigned_client() -> None:
    stack, monitor = _monitor(authorization="resource-policy")
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::Cognito::IdentityPool", 0)
    (resource,) = template.find_resources("AWS::RUM::AppMonitor").values()
    document = json.dumps(resource["Properties"]["ResourcePolicy"]["PolicyDocument"])
    assert "rum:PutRumEvents" in document and "appmonitor/sample-site" in document
    assert "IdentityPoolId" not in resource["Properties"]["AppMonitorConfiguration"]
    assert '"signing":false' in monitor.snippet()
    assert nag_findings(stack) == []


def test_the_snippet_is_a_stack_output_and_carries_the_monitor(full: tuple[cdk.Stack, Template]) -> None:
    _, template = full
    outputs = template.to_json()["Outputs"]
    (snippet,) = [o for key, o in outputs.items() if key.startswith("RumSnippet")]
    text = json.dumps(snippet["Value"])
    for part in ("window.AwsRumClient", "cwr.js", "identityPoolId", "guestRoleArn", "dataplane.rum."):
        assert part in text
    assert '"Id"]' in text


def test_the_vended_log_group_name_is_derived_from_the_monitor_id(full: tuple[cdk.Stack, Template]) -> None:
    _, template = full
    (monitor_id,) = template.find_resources("AWS::RUM::AppMonitor")
    expected_name = {
        "Fn::Join": [
            "",
            [
                "/aws/vendedlogs/RUMService_sample-site",
                {"Fn::Select": [0, {"Fn::Split": ["-", {"Fn::GetAtt": [monitor_id, "Id"]}]}]},
            ],
        ]
    }
    filters = template.find_resources("AWS::Logs::MetricFilter")
    assert filters
    for metric_filter in filters.values():
        assert metric_filter["Properties"]["LogGroupName"] == expected_name


def test_metric_filters_wait_for_the_log_group(full: tuple[cdk.Stack, Template]) -> None:
    _, template = full
    creators = {
        logical_id: resource
        for logical_id, resource in template.find_resources("Custom::AWS").items()
        if "createLogGroup" in json.dumps(resource["Properties"])
    }
    (creator_id,) = creators
    create = json.dumps(creators[creator_id]["Properties"]["Create"])
    assert "ResourceAlreadyExistsException" in create  # a group RUM already made is fine
    (monitor_id,) = template.find_resources("AWS::RUM::AppMonitor")
    assert monitor_id in creators[creator_id]["DependsOn"]
    for metric_filter in template.find_resources("AWS::Logs::MetricFilter").values():
        assert creator_id in metric_filter["DependsOn"]


def test_the_article_metric_filter(full: tuple[cdk.Stack, Template]) -> None:
    _, template = full
    template.has_resource_properties(
        "AWS::Logs::MetricFilter",
        {
            "FilterPattern": ARTICLE_PATTERN,
            "MetricTransformations": [
                {
                    "MetricName": "HighlightJsDuration",
                    "MetricNamespace": "RUM/Pages/sample-site",
                    "MetricValue": "$.event_details.duration",
                    "Unit": "Milliseconds",
                }
            ],
        },
    )
    # The per-device thresholds read a DeviceType dimension from a second filter.
    template.has_resource_properties(
        "AWS::Logs::MetricFilter",
        {
            "FilterPattern": ARTICLE_PATTERN,
            "MetricTransformations": [
                Match.object_like({"Dimensions": [{"Key": "DeviceType", "Value": "$.metadata.deviceType"}]})
            ],
        },
    )


def test_alarms_static_per_device_and_anomaly_on_the_encrypted_topic(full: tuple[cdk.Stack, Template]) -> None:
    _, template = full
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    by_threshold = {
        a["Properties"].get("Threshold"): a["Properties"] for a in alarms.values() if "Threshold" in a["Properties"]
    }
    assert set(by_threshold) == {500, 400, 800, 900}
    assert by_threshold[400]["Dimensions"] == [{"Name": "DeviceType", "Value": "desktop"}]
    assert by_threshold[800]["Dimensions"] == [{"Name": "DeviceType", "Value": "mobile"}]
    assert by_threshold[900]["Namespace"] == "AWS/RUM"
    assert by_threshold[900]["Dimensions"] == [
        {"Name": "FileType", "Value": "script"},
        {"Name": "application_name", "Value": "sample-site"},
    ]
    (anomaly,) = [a["Properties"] for a in alarms.values() if "ThresholdMetricId" in a["Properties"]]
    assert anomaly["ComparisonOperator"] == "GreaterThanUpperThreshold"
    assert "ANOMALY_DETECTION_BAND" in json.dumps(anomaly["Metrics"]) and ", 3)" in json.dumps(anomaly["Metrics"])
    (topic_id,) = template.find_resources("AWS::SNS::Topic", {"Properties": {"KmsMasterKeyId": Match.any_value()}})
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}]


def test_alarm_direction_and_description_follow_the_alarming() -> None:
    # GIVEN a floor (alarm below it, per country too) and an anomaly band watched on both sides
    stack, monitor = _monitor(
        page_metrics=[
            _article_page(alarm=Threshold(20, above=False), thresholds_by_country={"US": 30}),
            PageMetric(name="Views", filter_pattern=ARTICLE_PATTERN, alarm=AnomalyDetection(both_sides=True)),
        ]
    )
    # THEN every alarm says what it watches, in which direction, under a name starting with the monitor's
    alarms = {
        a["Properties"]["AlarmName"]: a["Properties"]
        for a in Template.from_stack(stack).find_resources("AWS::CloudWatch::Alarm").values()
    }
    assert {name: (p["ComparisonOperator"], p["AlarmDescription"]) for name, p in alarms.items()} == {
        "sample-site-HighlightJsDuration": (
            "LessThanThreshold",
            "HighlightJsDuration of sample-site is below 20",
        ),
        "sample-site-HighlightJsDurationCountryUS": (
            "LessThanThreshold",
            "HighlightJsDuration of sample-site in US is below 30",
        ),
        "sample-site-Views": (
            "LessThanLowerOrGreaterThanUpperThreshold",
            "Views of sample-site is outside its expected band",
        ),
    }
    assert alarms["sample-site-HighlightJsDurationCountryUS"]["Dimensions"] == [{"Name": "CountryCode", "Value": "US"}]
    assert all(p["EvaluationPeriods"] == 3 and p["DatapointsToAlarm"] == 2 for p in alarms.values())
    assert all(p["TreatMissingData"] == "notBreaching" for p in alarms.values())
    assert len(monitor.alarms) == 3


def test_extended_metrics_go_to_cloudwatch_with_an_allowed_dimension(full: tuple[cdk.Stack, Template]) -> None:
    _, template = full
    (resource,) = template.find_resources("AWS::RUM::AppMonitor").values()
    (destination,) = resource["Properties"]["AppMonitorConfiguration"]["MetricDestinations"]
    assert destination["Destination"] == "CloudWatch"
    (definition,) = destination["MetricDefinitions"]
    assert definition["Name"] == "PerformanceResourceDuration"
    assert definition["ValueKey"] == "event_details.duration"
    assert definition["DimensionKeys"] == {"event_details.fileType": "FileType"}
    assert json.loads(definition["EventPattern"]) == {
        "event_type": ["com.amazon.rum.performance_resource_event"],
        "event_details": {"fileType": ["script"]},
    }


def test_an_existing_topic_is_used_as_given() -> None:
    stack = cdk.Stack(new_app(), "Site")
    from aws_cdk import aws_sns as sns

    topic = sns.Topic.from_topic_arn(stack, "Given", "arn:aws:sns:us-east-1:111111111111:alarms")
    WebAppMonitor(
        stack,
        "Rum",
        name="sample-site",
        domains=["www.example.com"],
        topic=topic,
        page_metrics=[_article_page(alarm=Threshold(500))],
    )
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::SNS::Topic", 0)
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm", {"AlarmActions": ["arn:aws:sns:us-east-1:111111111111:alarms"]}
    )


def test_retain_log_group_false_deletes_the_group_with_the_stack() -> None:
    stack, _ = _monitor(retain_log_group=False, page_metrics=[_article_page()])
    creators = [
        r
        for r in Template.from_stack(stack).find_resources("Custom::AWS").values()
        if "createLogGroup" in json.dumps(r["Properties"])
    ]
    assert "deleteLogGroup" in json.dumps(creators[0]["Properties"]["Delete"])


def test_a_domain_known_only_at_deploy_time_is_taken_as_given() -> None:
    stack = cdk.Stack(new_app(), "Site")
    domain = cdk.CfnParameter(stack, "Domain").value_as_string
    WebAppMonitor(stack, "Rum", name="sample-site", domains=[domain, "www.example.com"])
    Template.from_stack(stack).has_resource_properties(
        "AWS::RUM::AppMonitor", {"Domain": Match.absent(), "DomainList": [{"Ref": "Domain"}, "www.example.com"]}
    )


# ------------------------------------------------------------------------------------------- bad props


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: _monitor(domains=[]), "domains must not be empty (name at least one domain"),
        (lambda: _monitor(domains="www.example.com"), "domains must be a list of strings, got the string"),
        (lambda: _monitor(domains=["not a domain"]), "domains must contain domain names"),
        (lambda: _monitor(domains=[f"d{i}.example.com" for i in range(6)]), "at most 5 domains"),
        (lambda: _monitor(name=".hidden"), "name must be 1-255 characters"),
        (lambda: _monitor(authorization="public"), 'authorization must be "cognito" or "resource-policy"'),
        (lambda: _monitor(session_sample_rate=1.5), "session_sample_rate must be from 0 to 1"),
        (lambda: _monitor(telemetries=["clicks"]), "telemetries must be among"),
        (lambda: _monitor(log_retention_days=31), "log_retention_days must be one of"),
        (
            lambda: _monitor(cw_log_enabled=False, page_metrics=[_article_page()]),
            "need cw_log_enabled=True",
        ),
        (
            lambda: _monitor(page_metrics=[_article_page(), _article_page()]),
            "page_metrics names must be unique",
        ),
        (
            lambda: ExtendedMetric(name="PerformanceResourceDuration", dimension="UserAgent"),
            "dimension 'UserAgent' is not one RUM allows; allowed: BrowserName, CountryCode, DeviceType, FileType, "
            "OSName, PageId",
        ),
        (lambda: ExtendedMetric(name="Latency", dimension="PageId"), "ExtendedMetric name must be one of"),
        (
            lambda: ExtendedMetric(name="PageViewCount", dimension="PageId", alarm=Threshold(1)),
            "an alarm needs value",
        ),
        (
            lambda: PageMetric(name="Bad", filter_pattern='{$.event_details.duration > "x"}'),
            "filter_pattern '{$.event_details.duration > \"x\"}': invalid filter pattern at position 28: a numeric",
        ),
        (lambda: PageMetric(name="Bad", filter_pattern="ERROR"), "must be a JSON pattern"),
        (
            lambda: PageMetric(name="Bad", filter_pattern="{$.a = 1}", metric_value="duration"),
            "metric_value 'duration' is not a JSON selector",
        ),
        (
            lambda: _article_page(alarm=AnomalyDetection(), thresholds_by_device_type={"mobile": 800}),
            "cannot be combined with anomaly detection",
        ),
        (
            lambda: _article_page(alarm=Threshold(1), thresholds_by_country={"usa": 1}),
            "ISO 3166-1 alpha-2",
        ),
        (lambda: _article_page(thresholds_by_country={"US": 1}), "need alarm=Threshold"),
        (lambda: AnomalyDetection(band_width=0), "band_width must be above 0"),
    ],
)
def test_each_bad_prop_is_one_clear_error(build: Any, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        build()
    assert message in str(caught.value)
