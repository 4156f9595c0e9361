"""The CloudWatch engine of the application boundary: every covered resource of the sample stages gets its
alarms (checked by enumerating the synthesized templates), one composite alarm per application that names
exactly those alarms and notifies the encrypted topic, log anomaly detectors, dashboards with Metrics
Insights widgets, uncovered types in an annotation, and one clear error for each kind of bad input."""

from __future__ import annotations

import json
import re
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Template

from devops_blueprints.constructs.observability.boundary import ApplicationBoundary, BoundaryConflictError
from devops_blueprints.constructs.observability.cloudwatch_coverage import COVERAGE, DEAD_LETTER_ALARM
from devops_blueprints.constructs.observability.cloudwatch_engine import (
    MAX_RULE_ALARMS,
    MAX_RULE_LENGTH,
    CloudWatchEngine,
    CloudWatchEngineOptions,
    _rule_chunks,
)
from devops_blueprints.constructs.observability.devops_guru_coverage import DevOpsGuruAppBoundary
from devops_blueprints.stages import ObservabilityStage
from devops_blueprints.stages.observability import SAMPLE_APPLICATIONS
from tests.support.cdk import cfn_lint_errors, nag_findings, new_app


@pytest.fixture(scope="module")
def stage() -> ObservabilityStage:
    return ObservabilityStage(new_app(), "Observability", engines=["cloudwatch"])


@pytest.fixture(scope="module")
def templates(stage: ObservabilityStage) -> dict[str, dict[str, Any]]:
    return {stack.node.id: Template.from_stack(stack).to_json() for stack in stage.samples}


def _of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {key: value for key, value in template["Resources"].items() if value["Type"] == resource_type}


def _alarm_targets(alarm: dict[str, Any]) -> set[str]:
    """Logical ids the alarm's metric dimensions point at."""
    text = json.dumps(alarm["Properties"].get("Metrics", []))
    return set(re.findall(r'"Ref": "([A-Za-z0-9]+)"', text)) | set(
        re.findall(r'"Fn::GetAtt": \["([A-Za-z0-9]+)"', text)
    )


def _dead_letter_queues(template: dict[str, Any]) -> set[str]:
    targets = set()
    for queue in _of_type(template, "AWS::SQS::Queue").values():
        arn = queue["Properties"].get("RedrivePolicy", {}).get("deadLetterTargetArn")
        if isinstance(arn, dict):
            targets.add(arn["Fn::GetAtt"][0])
    return targets


def test_stage_with_only_the_cloudwatch_engine_has_no_devops_guru(stage: ObservabilityStage) -> None:
    assert stage.devops_guru is None
    ids = sorted(child.node.id for child in stage.node.children if isinstance(child, cdk.Stack))
    assert ids == sorted(["CloudWatchObservability", *SAMPLE_APPLICATIONS])


@pytest.mark.parametrize("name", sorted(SAMPLE_APPLICATIONS))
def test_every_covered_resource_has_each_of_its_alarms(templates: dict[str, dict[str, Any]], name: str) -> None:
    template = templates[name]
    alarms = _of_type(template, "AWS::CloudWatch::Alarm")
    dead_letters = _dead_letter_queues(template)
    checked = 0
    for resource_type in (
        "AWS::Lambda::Function",
        "AWS::SQS::Queue",
        "AWS::DynamoDB::Table",
        "AWS::SNS::Topic",
        "AWS::ECS::Service",
        "AWS::Events::Rule",
    ):
        for logical_id in _of_type(template, resource_type):
            expected = {spec.name for spec in COVERAGE[resource_type].alarms}
            if logical_id in dead_letters:
                expected.add(DEAD_LETTER_ALARM.name)
            found = {
                alarm["Properties"]["AlarmName"].rsplit("-", 1)[-1]
                for alarm in alarms.values()
                if logical_id in _alarm_targets(alarm)
            }
            assert found == expected, f"{name}/{logical_id} ({resource_type})"
            checked += 1
    assert checked >= 2  # every sample holds at least two covered resources


def test_the_serverless_sample_holds_each_kind_the_issue_names(templates: dict[str, dict[str, Any]]) -> None:
    template = templates["ServerlessSample"]
    for resource_type in ("AWS::Lambda::Function", "AWS::SQS::Queue", "AWS::DynamoDB::Table", "AWS::SNS::Topic"):
        assert _of_type(template, resource_type), resource_type
    assert _of_type(templates["ContainerInsightsEcs"], "AWS::ECS::Service")


@pytest.mark.parametrize("name", sorted(SAMPLE_APPLICATIONS))
def test_one_composite_alarm_per_application_names_exactly_its_alarms(
    templates: dict[str, dict[str, Any]], name: str
) -> None:
    template = templates[name]
    composites = list(_of_type(template, "AWS::CloudWatch::CompositeAlarm").values())
    assert len(composites) == 1
    rule = composites[0]["Properties"]["AlarmRule"]
    named = set(re.findall(r'ALARM\("([^"]+)"\)', rule))
    alarm_names = {alarm["Properties"]["AlarmName"] for alarm in _of_type(template, "AWS::CloudWatch::Alarm").values()}
    assert named == alarm_names
    assert composites[0]["Properties"]["AlarmName"] == f"{SAMPLE_APPLICATIONS[name]}-anomalous"
    assert all(alarm_name.startswith(SAMPLE_APPLICATIONS[name] + "-") for alarm_name in alarm_names)
    assert len(composites[0]["Properties"]["AlarmActions"]) == 1


@pytest.mark.parametrize("name", sorted(SAMPLE_APPLICATIONS))
def test_one_log_anomaly_detector_per_log_group(templates: dict[str, dict[str, Any]], name: str) -> None:
    template = templates[name]
    log_groups = set(_of_type(template, "AWS::Logs::LogGroup"))
    watched = {
        detector["Properties"]["LogGroupArnList"][0]["Fn::GetAtt"][0]
        for detector in _of_type(template, "AWS::Logs::LogAnomalyDetector").values()
    }
    assert log_groups and watched == log_groups
    for detector in _of_type(template, "AWS::Logs::LogAnomalyDetector").values():
        assert len(detector["Properties"]["LogGroupArnList"]) == 1  # the API takes one log group


def _joined(value: Any) -> str:
    """A Fn::Join of strings and intrinsics as text, each intrinsic written as X."""
    if isinstance(value, str):
        return value
    separator, parts = value["Fn::Join"]
    return separator.join(part if isinstance(part, str) else "X" for part in parts)


@pytest.mark.parametrize("name", sorted(SAMPLE_APPLICATIONS))
def test_dashboard_has_alarm_and_metrics_insights_widgets(templates: dict[str, dict[str, Any]], name: str) -> None:
    dashboards = list(_of_type(templates[name], "AWS::CloudWatch::Dashboard").values())
    assert len(dashboards) == 1
    widgets = json.loads(_joined(dashboards[0]["Properties"]["DashboardBody"]))["widgets"]
    alarm_widgets = [widget for widget in widgets if widget["type"] == "alarm"]
    assert len(alarm_widgets) == 1
    alarm_names = {a["Properties"]["AlarmName"] for a in _of_type(templates[name], "AWS::CloudWatch::Alarm").values()}
    assert {arn.rsplit(":", 1)[-1] for arn in alarm_widgets[0]["properties"]["alarms"]} == alarm_names
    queries = [
        metric[0]["expression"]
        for widget in widgets
        if widget["type"] == "metric"
        for metric in widget["properties"]["metrics"]
    ]
    assert 'SELECT SUM(Errors) FROM SCHEMA("AWS/Lambda", FunctionName)' in queries[0]
    for query in queries:
        assert query.startswith("SELECT ")
        assert f"WHERE tag.ObservabilityApplication = '{SAMPLE_APPLICATIONS[name]}'" in query


@pytest.mark.parametrize("name", ["CloudWatchObservability", *sorted(SAMPLE_APPLICATIONS)])
def test_cfn_lint_and_cdk_nag_are_clean(stage: ObservabilityStage, name: str) -> None:
    stack = stage.node.find_child(name)
    assert isinstance(stack, cdk.Stack)
    assert cfn_lint_errors(Template.from_stack(stack).to_json()) == []
    assert nag_findings(stack) == []


def test_topic_is_encrypted_tls_only_and_cloudwatch_may_publish(stage: ObservabilityStage) -> None:
    assert stage.cloudwatch is not None
    template = Template.from_stack(stage.cloudwatch).to_json()
    (topic,) = _of_type(template, "AWS::SNS::Topic").values()
    assert "KmsMasterKeyId" in topic["Properties"]
    (key,) = _of_type(template, "AWS::KMS::Key").values()
    assert key["Properties"]["EnableKeyRotation"] is True
    key_statements = {s.get("Sid"): s for s in key["Properties"]["KeyPolicy"]["Statement"]}
    assert key_statements["AllowCloudWatchAlarmsToUseTheKey"]["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    (policy,) = _of_type(template, "AWS::SNS::TopicPolicy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert any(s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false" for s in statements)
    publish = next(s for s in statements if s.get("Sid") == "AllowCloudWatchAlarmsToPublish")
    assert publish["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}


def test_summary_counts_alarms_and_estimates_cost(stage: ObservabilityStage) -> None:
    assert stage.cloudwatch is not None
    coverage = stage.cloudwatch.engine.coverage("serverless-sample")
    # 2 queues (one a dead-letter queue), 1 table, 1 topic, 1 function.
    assert coverage.covered == {
        "AWS::SQS::Queue": 2,
        "AWS::DynamoDB::Table": 1,
        "AWS::SNS::Topic": 1,
        "AWS::Lambda::Function": 1,
    }
    assert len(coverage.alarms) == 2 + 1 + 2 + 1 + 3
    assert coverage.monthly_cost == pytest.approx(coverage.billed_alarm_metrics * 0.10 + 0.50)


# -- the engine on its own --------------------------------------------------------------------------------


def _engine_app(**options: Any) -> tuple[cdk.App, CloudWatchEngine, cdk.Stack]:
    app = new_app()
    env = cdk.Environment(account="111111111111", region="eu-west-1")
    engine_stack = cdk.Stack(app, "Engine", env=env)
    engine = CloudWatchEngine(engine_stack, "Engine", options=CloudWatchEngineOptions(**options) if options else None)
    workload = cdk.Stack(app, "Workload", env=env)
    return app, engine, workload


def _annotations(app: cdk.App, stack_name: str) -> list[tuple[str, str]]:
    artifact = app.synth().get_stack_by_name(stack_name)
    return [(message.level.value.lower(), str(message.entry.data)) for message in artifact.messages]


def test_uncovered_type_is_listed_in_one_warning_per_application() -> None:
    app, engine, workload = _engine_app()
    s3.Bucket(workload, "Bucket", enforce_ssl=True)
    sqs.Queue(workload, "Queue", enforce_ssl=True)
    ApplicationBoundary(workload, "Boundary", engines=[engine]).include(workload, "shop")
    messages = _annotations(app, "Workload")
    warnings = [text for level, text in messages if level == "warning" and "no alarms for" in text]
    assert len(warnings) == 1
    assert "AWS::S3::Bucket x1 (Workload/Bucket/Resource)" in warnings[0]
    assert "AWS::SQS::Queue" not in warnings[0]
    assert any("application shop: 1 alarms" in text for level, text in messages if level == "info")


def test_more_alarms_than_one_rule_allows_split_into_parts_under_one_top_alarm() -> None:
    _app, engine, workload = _engine_app()
    for index in range(MAX_RULE_ALARMS + 20):
        sqs.Queue(workload, f"Queue{index}", enforce_ssl=True)
    ApplicationBoundary(workload, "Boundary", engines=[engine]).include(workload, "big")
    template = Template.from_stack(workload).to_json()
    composites = _of_type(template, "AWS::CloudWatch::CompositeAlarm")
    parts = {key: value for key, value in composites.items() if "Part" in key}
    assert len(parts) == 2
    top = next(value for key, value in composites.items() if "Part" not in key)
    assert top["Properties"]["AlarmRule"] == ('ALARM("big-anomalous-part-1") OR ALARM("big-anomalous-part-2")')
    named: list[str] = []
    for part in parts.values():
        rule = part["Properties"]["AlarmRule"]
        assert len(rule) <= MAX_RULE_LENGTH
        names = re.findall(r'ALARM\("([^"]+)"\)', rule)
        assert len(names) <= MAX_RULE_ALARMS
        assert "AlarmActions" not in part["Properties"]
        named += names
    assert sorted(named) == sorted(
        a["Properties"]["AlarmName"] for a in _of_type(template, "AWS::CloudWatch::Alarm").values()
    )
    assert set(top["DependsOn"]) == set(parts)


def test_rule_chunks_respect_the_character_limit() -> None:
    names = [f"{'x' * 200}-{index}" for index in range(120)]
    chunks = _rule_chunks(names)
    assert [name for chunk in chunks for name in chunk] == names
    for chunk in chunks:
        assert len(" OR ".join(f'ALARM("{name}")' for name in chunk)) <= MAX_RULE_LENGTH
    assert len(chunks) == 3  # 213-214 characters a term: 47 terms fit in 10,240


def test_options_choose_thresholds_and_drop_alarms() -> None:
    _app, engine, workload = _engine_app(
        thresholds={"AWS::SQS::Queue/DeadLetters": 5},
        disabled_alarms=["AWS::SQS::Queue/OldestMessageAge"],
    )
    dead = sqs.Queue(workload, "Dead", enforce_ssl=True)
    sqs.Queue(
        workload, "Work", enforce_ssl=True, dead_letter_queue=sqs.DeadLetterQueue(queue=dead, max_receive_count=3)
    )
    ApplicationBoundary(workload, "Boundary", engines=[engine]).include(workload, "shop")
    alarms = list(_of_type(Template.from_stack(workload).to_json(), "AWS::CloudWatch::Alarm").values())
    assert len(alarms) == 1
    assert alarms[0]["Properties"]["Threshold"] == 5


def test_excluded_constructs_get_no_alarms() -> None:
    _app, engine, workload = _engine_app()
    queue = sqs.Queue(workload, "Queue", enforce_ssl=True)
    engine.cover(workload, "shop", exclude=[queue])
    assert _of_type(Template.from_stack(workload).to_json(), "AWS::CloudWatch::Alarm") == {}


def test_tenant_component_and_embedding_pipeline_are_covered() -> None:
    from devops_blueprints.stacks.embeddings.embedding import EmbeddingStack
    from devops_blueprints.stacks.tenants._tenant_component import TenantComponentStack

    app = new_app()
    engine_stack = cdk.Stack(app, "Engine")
    engine = CloudWatchEngine(engine_stack, "Engine")
    boundary = ApplicationBoundary(engine_stack, "Boundary", engines=[engine])
    component = TenantComponentStack(app, "Component", deployment_id="acme", deployment_type="silo")
    embedding = EmbeddingStack(app, "Embedding")
    boundary.include(component, "silo-acme")
    boundary.include(embedding, "embeddings")
    component_template = Template.from_stack(component).to_json()
    component_alarms = _of_type(component_template, "AWS::CloudWatch::Alarm")
    for resource_type in ("AWS::Lambda::Function", "AWS::DynamoDB::Table", "AWS::ApiGatewayV2::Api"):
        for logical_id in _of_type(component_template, resource_type):
            assert any(logical_id in _alarm_targets(alarm) for alarm in component_alarms.values()), logical_id
    embedding_template = Template.from_stack(embedding).to_json()
    assert _of_type(embedding_template, "AWS::CloudWatch::CompositeAlarm")
    uncovered = engine.coverage("embeddings").uncovered
    assert "AWS::Batch::JobQueue" in uncovered  # Batch publishes no per-queue health metric to alarm on
    assert "AWS::S3::Bucket" in uncovered


def test_every_resource_of_a_large_stage_is_covered() -> None:
    # Regression: the walk once remembered resources by id() of short-lived jsii proxies; a collected proxy's
    # id was reused by a later one, which was then skipped as "seen" (a fifth of an 800-resource app had no
    # alarms). Many stacks of many resources make the proxies churn.
    app = new_app()
    stage = cdk.Stage(app, "Large")
    stacks = [cdk.Stack(stage, f"Stack{index}") for index in range(8)]
    for stack in stacks:
        for index in range(40):
            sqs.Queue(stack, f"Queue{index}", enforce_ssl=True)
    engine = CloudWatchEngine(cdk.Stack(stage, "Engine"), "Engine")
    ApplicationBoundary(stage, "Boundary", engines=[engine]).include(stage, "large")
    expected = {spec.name for spec in COVERAGE["AWS::SQS::Queue"].alarms}
    total = 0
    for stack in stacks:
        template = Template.from_stack(stack).to_json()
        alarms = _of_type(template, "AWS::CloudWatch::Alarm")
        queues = _of_type(template, "AWS::SQS::Queue")
        assert len(queues) == 40
        for logical_id in queues:
            found = {
                alarm["Properties"]["AlarmName"].rsplit("-", 1)[-1]
                for alarm in alarms.values()
                if logical_id in _alarm_targets(alarm)
            }
            assert found == expected, f"{stack.node.id}/{logical_id}"
        total += len(alarms)
    assert total == 8 * 40 * len(expected)  # and no alarm for anything else


# -- bad input: one clear error each ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"thresholds": {"AWS::Lambda::Function/Nope": 1}}, "thresholds: unknown alarm 'AWS::Lambda::Function/Nope'"),
        ({"thresholds": {"AWS::Lambda::Function/ErrorRate": 101}}, "must be 0..100 (percent), got 101"),
        ({"thresholds": {"AWS::Lambda::Function/Throttles": -1}}, "must be >= 0, got -1"),
        ({"thresholds": {"AWS::Lambda::Function/Duration": 3}}, "is an anomaly-detection alarm"),
        ({"thresholds": {"AWS::Lambda::Function/Throttles": float("nan")}}, "must be a number"),
        ({"disabled_alarms": ["AWS::S3::Bucket/*"]}, "disabled_alarms: unknown alarm 'AWS::S3::Bucket/*'"),
        ({"band_width": 0.5}, "band_width must be between 1 and 10"),
        ({"email_addresses": {"shop": ["not-an-email"]}}, "email_addresses must contain email addresses"),
        # The rule the sample app's context uses (one address, not "Name <a@b>", every domain label non-empty).
        ({"email_addresses": {"shop": ["Ops <ops@example.com>"]}}, "email_addresses must contain email addresses"),
        ({"email_addresses": {"shop": ["ops@example..com"]}}, "email_addresses must contain email addresses"),
        ({"email_addresses": {"sh'op": ["a@example.com"]}}, "has characters a tag value cannot hold"),
    ],
)
def test_bad_options_are_one_clear_error(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        CloudWatchEngineOptions(**options)


def test_application_name_that_is_not_a_tag_value_is_refused() -> None:
    _app, engine, workload = _engine_app()
    with pytest.raises(ValueError, match="has characters a tag value cannot hold"):
        ApplicationBoundary(workload, "Boundary", engines=[engine]).include(workload, "shop'; DROP")


def test_two_boundaries_claiming_one_scope_is_an_error() -> None:
    _app, engine, workload = _engine_app()
    ApplicationBoundary(workload, "One", engines=[engine]).include(workload, "shop")
    with pytest.raises(BoundaryConflictError, match="is inside boundary Workload/One"):
        ApplicationBoundary(workload, "Two", engines=[engine]).include(workload, "shop")


def test_one_scope_in_two_applications_is_an_error() -> None:
    _app, engine, workload = _engine_app()
    boundary = ApplicationBoundary(workload, "One", engines=[engine])
    boundary.include(workload, "shop")
    with pytest.raises(BoundaryConflictError, match="cannot be application 'other'"):
        boundary.include(workload, "other")


def test_engine_in_another_environment_is_an_error() -> None:
    app = new_app()
    engine = CloudWatchEngine(
        cdk.Stack(app, "Engine", env=cdk.Environment(account="111111111111", region="eu-west-1")), "E"
    )
    workload = cdk.Stack(app, "Workload", env=cdk.Environment(account="111111111111", region="us-east-1"))
    sqs.Queue(workload, "Queue", enforce_ssl=True)
    engine.cover(workload, "shop")
    with pytest.raises(Exception, match="stack Workload is in region 'us-east-1' but the CloudWatch engine"):
        app.synth()


def test_guru_engine_with_another_tag_key_is_an_error() -> None:
    app = new_app()
    stack = cdk.Stack(app, "Guru")
    guru = DevOpsGuruAppBoundary(stack, "Boundary", tag_key="devops-guru-other")
    with pytest.raises(ValueError, match="reads tag key 'devops-guru-other' but the boundary tags with"):
        ApplicationBoundary(stack, "AB", engines=[guru])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"engines": ["cloudwatch", "datadog"]}, "unknown observability engine 'datadog'"),
        ({"engines": []}, "engines must name at least one of"),
        ({"engines": "cloudwatch"}, "engines must be a list of engine names"),
        ({"engines": ["cloudwatch", "cloudwatch"]}, "must not repeat an engine"),
        (
            {"engines": ["devops-guru"], "cloudwatch_options": CloudWatchEngineOptions()},
            "cloudwatch_options given, but the cloudwatch engine is not among the engines",
        ),
    ],
)
def test_stage_engine_choice_errors(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        ObservabilityStage(new_app(), "Observability", **kwargs)


def test_every_devops_guru_construct_warns_of_the_end_of_support() -> None:
    app = new_app()
    ObservabilityStage(app, "Observability", engines=["devops-guru"], include_samples=False)
    artifact = app.synth().get_nested_assembly("assembly-Observability").get_stack_by_name("Observability-DevOpsGuru")
    warned = {message.id for message in artifact.messages if "support ends on 2027-09-30" in str(message.entry.data)}
    assert warned == {"/Observability/DevOpsGuru/Notifications", "/Observability/DevOpsGuru/AppBoundary"}


@pytest.mark.parametrize("name", ["AnomalousLambda", "ServerlessSample"])
def test_saved_queries_cover_every_function_log_group(templates: dict[str, dict[str, Any]], name: str) -> None:
    template = templates[name]
    function_log_groups = {
        function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        for function in _of_type(template, "AWS::Lambda::Function").values()
        if "LoggingConfig" in function["Properties"]
    }
    assert function_log_groups
    queries = _of_type(template, "AWS::Logs::QueryDefinition").values()
    errors = [q for q in queries if _joined(q["Properties"]["Name"]).endswith("/lambda-errors-and-timeouts")]
    assert len(errors) == 1
    assert errors[0]["Properties"]["Name"].startswith(f"devops-blueprints/{SAMPLE_APPLICATIONS[name]}/")
    assert {group["Ref"] for group in errors[0]["Properties"]["LogGroupNames"]} == function_log_groups
    # Every sample function has Lambda Insights: one performance query each.
    insights = [q for q in queries if "/lambda-insights/" in _joined(q["Properties"]["Name"])]
    assert len(insights) == len(_of_type(template, "AWS::Lambda::Function"))


def test_no_saved_queries_without_function_log_groups(templates: dict[str, dict[str, Any]]) -> None:
    # The ECS sample's only function is aws-cdk-lib's custom resource provider, which has no log group resource.
    assert _of_type(templates["ContainerInsightsEcs"], "AWS::Logs::QueryDefinition") == {}


def test_devops_agent_engine_narrows_the_space_to_every_sample_application() -> None:
    stage = ObservabilityStage(
        new_app(), "Observability", engines=["cloudwatch", "devops-agent"], env=cdk.Environment(region="us-east-1")
    )
    assert stage.devops_agent is not None
    template = Template.from_stack(stage.devops_agent).to_json()
    (association,) = _of_type(template, "AWS::DevOpsAgent::Association").values()
    tags = association["Properties"]["Configuration"]["Aws"]["Tags"]
    assert tags == [{"Key": "devops-guru-applications", "Value": app} for app in SAMPLE_APPLICATIONS.values()]
    assert cfn_lint_errors(template) == []
    assert nag_findings(stage.devops_agent) == []


def test_devops_agent_in_a_region_it_does_not_serve_is_refused() -> None:
    from devops_blueprints.constructs.observability.devops_agent import DevOpsAgentRegionError

    with pytest.raises(DevOpsAgentRegionError, match="sa-east-1"):
        ObservabilityStage(
            new_app(), "Observability", engines=["devops-agent"], env=cdk.Environment(region="sa-east-1")
        )


def test_investigations_make_every_composite_open_an_investigation() -> None:
    stage = ObservabilityStage(new_app(), "Observability", engines=["cloudwatch"], investigations=True)
    assert stage.cloudwatch is not None and stage.cloudwatch.investigation_group is not None
    engine_template = Template.from_stack(stage.cloudwatch).to_json()
    (group_id,) = _of_type(engine_template, "AWS::AIOps::InvestigationGroup")
    assert cfn_lint_errors(engine_template) == []
    assert nag_findings(stage.cloudwatch) == []
    outputs = {name: output["Value"] for name, output in engine_template["Outputs"].items()}
    for stack in stage.samples:
        (composite,) = _of_type(Template.from_stack(stack).to_json(), "AWS::CloudWatch::CompositeAlarm").values()
        topic_action, investigation_action = composite["Properties"]["AlarmActions"]
        assert outputs[investigation_action["Fn::GetStackOutput"]["OutputName"]] == {"Fn::GetAtt": [group_id, "Arn"]}
        assert outputs[topic_action["Fn::GetStackOutput"]["OutputName"]]["Ref"].startswith("Engine")


def test_investigations_without_the_cloudwatch_engine_is_an_error() -> None:
    with pytest.raises(ValueError, match="investigations=True needs the cloudwatch engine"):
        ObservabilityStage(new_app(), "Observability", engines=["devops-guru"], investigations=True)


def test_the_docs_coverage_table_is_the_engines_table() -> None:
    from tests.support.cdk import REPO_ROOT

    text = (REPO_ROOT / "docs" / "observability.md").read_text()
    section = text.split("## The CloudWatch engine", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `(AWS::[A-Za-z0-9:]+)` \| `([A-Za-z0-9]+)[^`]*` \|", section, flags=re.M))
    expected = {(resource_type, spec.name) for resource_type, cov in COVERAGE.items() for spec in cov.alarms}
    expected.add(("AWS::SQS::Queue", DEAD_LETTER_ALARM.name))
    assert documented == expected


def test_metric_definitions_come_from_cdk_monitoring_constructs(monkeypatch: pytest.MonkeyPatch) -> None:
    from devops_blueprints.constructs.observability.monitoring_metrics import metric_definition

    specs = [spec for cov in COVERAGE.values() for spec in cov.alarms] + [DEAD_LETTER_ALARM]
    from_library = [metric for spec in specs for metric in spec.metrics if metric.monitoring is not None]
    assert len(from_library) >= 15
    for metric in from_library:
        assert metric.definition() == metric_definition(*metric.monitoring)  # type: ignore[misc]
    assert metric_definition("LambdaFunctionMetricFactory", "metric_fault_count") == ("Errors", "Sum")
    # A gap-filling expression over one metric gives that metric.
    assert metric_definition("DynamoTableMetricFactory", "metric_throttled_read_request_count") == (
        "ReadThrottleEvents",
        "Sum",
    )
    # An expression over two metrics has no one metric to take: a clear error, not a wrong alarm.
    from aws_cdk import aws_cloudwatch as cloudwatch

    from devops_blueprints.constructs.observability import monitoring_metrics

    two = cloudwatch.MathExpression(
        expression="a + b",
        using_metrics={
            "a": cloudwatch.Metric(namespace="N", metric_name="A"),
            "b": cloudwatch.Metric(namespace="N", metric_name="B"),
        },
    )

    class Factory:
        def metric_sum(self) -> cloudwatch.MathExpression:
            return two

    monkeypatch.setattr(monitoring_metrics, "_factory", lambda name: Factory())
    with pytest.raises(TypeError, match="is not a plain metric"):
        monitoring_metrics.metric_definition.__wrapped__("Fake", "metric_sum")


def test_topic_and_key_together_is_one_clear_error() -> None:
    from aws_cdk import aws_kms as kms
    from aws_cdk import aws_sns as sns

    stack = cdk.Stack(new_app(), "Engine")
    topic = sns.Topic(stack, "Topic", enforce_ssl=True)
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    with pytest.raises(
        ValueError, match=r"give either topic \(an existing topic, with its own key\) or encryption_key"
    ):
        CloudWatchEngine(stack, "Engine", topic=topic, encryption_key=key)


def test_given_topic_is_used_as_is_with_its_subscriptions() -> None:
    from aws_cdk import aws_sns as sns

    stack = cdk.Stack(new_app(), "Engine")
    topic = sns.Topic(stack, "Topic", enforce_ssl=True)
    engine = CloudWatchEngine(stack, "Engine", topic=topic, email_addresses=["oncall@example.com"])
    assert engine.topic is topic and engine.encryption_key is None
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::SNS::Topic", 1)
    template.resource_count_is("AWS::KMS::Key", 0)
    template.has_resource_properties("AWS::SNS::Subscription", {"Endpoint": "oncall@example.com"})


def test_resource_type_is_read_from_the_class_where_it_declares_one() -> None:
    from devops_blueprints.constructs.observability.cloudwatch_engine import _resource_type

    stack = cdk.Stack(new_app(), "Types")
    assert _resource_type(sqs.CfnQueue(stack, "Queue")) == "AWS::SQS::Queue"
    # A plain CfnResource declares no type of its own: it is read from the resource.
    assert _resource_type(cdk.CfnResource(stack, "Other", type="AWS::Example::Thing")) == "AWS::Example::Thing"


def test_alarms_made_elsewhere_join_the_applications_composite() -> None:
    from aws_cdk import aws_cloudwatch as cloudwatch

    app, engine, workload = _engine_app()
    sqs.Queue(workload, "Queue", enforce_ssl=True)
    engine.cover(workload, "shop")
    other = cdk.Stack(app, "Other", env=cdk.Environment(account="111111111111", region="eu-west-1"))
    metric = cloudwatch.Metric(namespace="Shop", metric_name="PageLoad")
    here = cloudwatch.Alarm(
        workload, "PageAlarm", alarm_name="shop-page-load", metric=metric, threshold=1, evaluation_periods=1
    )
    there = cloudwatch.Alarm(
        other, "OtherAlarm", alarm_name="shop-other", metric=metric, threshold=1, evaluation_periods=1
    )
    engine.add_alarms("shop", [here, there])
    template = Template.from_stack(workload).to_json()
    ((_composite_id, composite),) = _of_type(template, "AWS::CloudWatch::CompositeAlarm").items()
    rule = json.dumps(composite["Properties"]["AlarmRule"])
    assert 'ALARM(\\"shop-page-load\\")' in rule and 'ALARM(\\"shop-other\\")' in rule
    page_alarm_id = next(key for key in _of_type(template, "AWS::CloudWatch::Alarm") if key.startswith("PageAlarm"))
    assert page_alarm_id in composite.get("DependsOn", [])  # the rule may only name alarms that exist
    assert other in workload.dependencies


def test_added_alarms_are_counted_in_the_cost() -> None:
    from aws_cdk import aws_cloudwatch as cloudwatch

    # GIVEN an application whose own alarms are counted, and four alarms made elsewhere
    app, engine, workload = _engine_app()
    sqs.Queue(workload, "Queue", enforce_ssl=True)
    engine.cover(workload, "shop")
    app.synth()
    own = engine.coverage("shop").billed_alarm_metrics

    app, engine, workload = _engine_app()
    sqs.Queue(workload, "Queue", enforce_ssl=True)
    engine.cover(workload, "shop")
    load = cloudwatch.Metric(namespace="Shop", metric_name="PageLoad")
    views = cloudwatch.Metric(namespace="Shop", metric_name="PageViews")
    engine.add_alarms(
        "shop",
        [
            # one metric: 1
            cloudwatch.Alarm(
                workload, "Static", alarm_name="shop-static", metric=load, threshold=1, evaluation_periods=1
            ),
            # an anomaly band on one metric: 3
            cloudwatch.AnomalyDetectionAlarm(
                workload, "Band", alarm_name="shop-band", metric=load, evaluation_periods=1
            ),
            # metric math over two metrics: 2
            cloudwatch.Alarm(
                workload,
                "Math",
                alarm_name="shop-math",
                metric=cloudwatch.MathExpression(
                    expression="load / views", using_metrics={"load": load, "views": views}
                ),
                threshold=1,
                evaluation_periods=1,
            ),
            # an L1 alarm on one metric: 1
            cloudwatch.CfnAlarm(
                workload,
                "Raw",
                alarm_name="shop-raw",
                comparison_operator="GreaterThanThreshold",
                evaluation_periods=1,
                threshold=1,
                metric_name="PageLoad",
                namespace="Shop",
                period=300,
                statistic="Average",
            ),
        ],
    )
    # WHEN the app synthesizes
    messages = _annotations(app, "Workload")
    # THEN the cost counts their 7 billed metrics on top of the engine's own, and the summary says they are there
    coverage = engine.coverage("shop")
    assert coverage.billed_alarm_metrics == own + 7
    assert coverage.monthly_cost == pytest.approx((own + 7) * 0.10 + 0.50)
    assert any("and 4 added with add_alarms" in text for level, text in messages if level == "info")


@pytest.mark.parametrize("case", ["uncovered", "unnamed"])
def test_added_alarms_need_a_covered_application_and_a_name(case: str) -> None:
    from aws_cdk import aws_cloudwatch as cloudwatch

    _app, engine, workload = _engine_app()
    metric = cloudwatch.Metric(namespace="Shop", metric_name="PageLoad")
    if case == "uncovered":
        alarm = cloudwatch.Alarm(workload, "A", alarm_name="shop-a", metric=metric, threshold=1, evaluation_periods=1)
        with pytest.raises(ValueError, match=r"application 'shop' is not covered by .*; cover\(\) it first"):
            engine.add_alarms("shop", [alarm])
    else:
        engine.cover(workload, "shop")
        alarm = cloudwatch.Alarm(workload, "A", metric=metric, threshold=1, evaluation_periods=1)
        with pytest.raises(ValueError, match="has no literal alarm_name"):
            engine.add_alarms("shop", [alarm])
