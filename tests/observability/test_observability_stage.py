"""ObservabilityStage: every sample stack synthesizes clean (cdk-nag, cfn-lint), matches its snapshot,
sits inside the DevOps Guru app boundary, and its functions are traced with Lambda Insights."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from devops_blueprints.stages import ObservabilityStage
from devops_blueprints.stages.observability import SAMPLE_APPLICATIONS
from tests.support.cdk import cfn_lint_errors, nag_findings, new_app, scrub

TAG_KEY = "devops-guru-applications"
STACK_IDS = [
    "DevOpsGuru",
    "CloudWatchObservability",
    "ServerlessSample",
    "AnomalousLambda",
    "ContainerInsightsEcs",
    "StaticSite",
    "EksObservability",
]


@pytest.fixture(scope="module")
def stage() -> ObservabilityStage:
    return ObservabilityStage(new_app(), "Observability")


@pytest.fixture(scope="module")
def templates(stage: ObservabilityStage) -> dict[str, dict[str, Any]]:
    stacks = {child.node.id: child for child in stage.node.children if isinstance(child, cdk.Stack)}
    assert sorted(stacks) == sorted(STACK_IDS)
    return {name: Template.from_stack(stack).to_json() for name, stack in stacks.items()}


def _stack(stage: ObservabilityStage, name: str) -> cdk.Stack:
    child = stage.node.find_child(name)
    assert isinstance(child, cdk.Stack)
    return child


@pytest.mark.parametrize("name", STACK_IDS)
def test_cdk_nag_has_no_unacknowledged_findings(stage: ObservabilityStage, name: str) -> None:
    assert nag_findings(_stack(stage, name)) == []


@pytest.mark.parametrize("name", STACK_IDS)
def test_cfn_lint_has_no_errors(templates: dict[str, dict[str, Any]], name: str) -> None:
    assert cfn_lint_errors(templates[name]) == []


@pytest.mark.parametrize("name", STACK_IDS)
def test_template_snapshot(templates: dict[str, dict[str, Any]], name: str, snapshot: SnapshotAssertion) -> None:
    assert scrub(templates[name]) == snapshot.use_extension(JSONSnapshotExtension)


def _tags(resource_type: str, properties: dict[str, Any]) -> dict[str, Any] | None:
    """The resource's tags as a dict, or None when its type cannot be tagged in CloudFormation."""
    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", resource_type).schema
    tagging = schema.get("tagging", {})
    if not tagging.get("taggable", False) or "tagProperty" not in tagging:
        return None
    raw = properties.get(tagging["tagProperty"].rsplit("/", 1)[-1])
    if raw is None:
        return {}
    if isinstance(raw, dict):
        return raw
    return {item["Key"]: item["Value"] for item in raw}


@pytest.mark.parametrize("name", sorted(SAMPLE_APPLICATIONS))
def test_every_taggable_resource_is_inside_the_boundary(templates: dict[str, dict[str, Any]], name: str) -> None:
    checked = 0
    for logical_id, resource in templates[name]["Resources"].items():
        resource_type = resource["Type"]
        if resource_type.startswith("Custom::") or resource_type == "AWS::CloudFormation::CustomResource":
            continue
        tags = _tags(resource_type, resource.get("Properties", {}))
        if tags is None:
            continue
        checked += 1
        assert tags.get(TAG_KEY) == SAMPLE_APPLICATIONS[name], f"{logical_id} ({resource_type}) lacks {TAG_KEY}"
    assert checked >= 3, "the check must have looked at the stack's taggable resources"


def test_the_boundary_collection_uses_the_devops_guru_key(templates: dict[str, dict[str, Any]]) -> None:
    template = Template.from_json(templates["DevOpsGuru"])
    template.has_resource_properties(
        "AWS::DevOpsGuru::ResourceCollection",
        {"ResourceCollectionFilter": {"Tags": [{"AppBoundaryKey": TAG_KEY, "TagValues": ["*"]}]}},
    )
    template.resource_count_is("AWS::DevOpsGuru::NotificationChannel", 1)
    template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()})


@pytest.mark.parametrize("name", ["ServerlessSample", "AnomalousLambda"])
def test_sample_functions_are_traced_with_lambda_insights(templates: dict[str, dict[str, Any]], name: str) -> None:
    template = templates[name]
    functions = Template.from_json(template).find_resources("AWS::Lambda::Function")
    assert functions
    for function in functions.values():
        props = function["Properties"]
        assert props["TracingConfig"] == {"Mode": "Active"}
        # The Lambda Insights extension (the serverless sample also has the Powertools layer: tests/test_powertools.py).
        (layer,) = [layer for layer in props["Layers"] if "Fn::FindInMap" in layer]
        map_name, _region, version_key = layer["Fn::FindInMap"]
        arn = template["Mappings"][map_name]["us-east-1"][version_key]
        assert arn.startswith("arn:aws:lambda:us-east-1:580247275435:layer:LambdaInsightsExtension:")


def test_anomalous_lambda_context_flags() -> None:
    stage = ObservabilityStage(new_app(), "Observability", injected_latency_ms=5000, provisioned_concurrency=2)
    template = Template.from_stack(_stack(stage, "AnomalousLambda"))
    template.has_resource_properties(
        "AWS::Lambda::Function", {"Environment": {"Variables": {"INJECTED_LATENCY_MS": "5000"}}}
    )
    template.has_resource_properties(
        "AWS::Lambda::Alias", {"ProvisionedConcurrencyConfig": {"ProvisionedConcurrentExecutions": 2}}
    )
    template.has_resource_properties("AWS::Events::Rule", {"ScheduleExpression": "rate(1 minute)"})


def test_memory_leak_rate_reaches_the_container() -> None:
    stage = ObservabilityStage(new_app(), "Observability", leak_mb_per_minute=20)
    template = Template.from_stack(_stack(stage, "ContainerInsightsEcs"))
    template.has_resource_properties(
        "AWS::ECS::TaskDefinition",
        {"ContainerDefinitions": [Match.object_like({"Command": Match.array_with(["20"])})]},
    )
    template.has_resource_properties(
        "AWS::ECS::Cluster", {"ClusterSettings": [{"Name": "containerInsights", "Value": "enhanced"}]}
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"injected_latency_ms": -1}, "injected_latency_ms must be from 0 to 25000, got -1"),
        ({"provisioned_concurrency": 101}, "provisioned_concurrency must be from 0 to 100, got 101"),
        ({"leak_mb_per_minute": 1000}, "leak_mb_per_minute must be from 0 to 100, got 1000"),
        ({"tag_key": "apps"}, 'tag_key must start with "devops-guru-", got "apps"'),
    ],
)
def test_bad_stage_options(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ObservabilityStage(new_app(), "Observability", **kwargs)


def test_the_eks_sample_alarms_are_in_its_composite_alarm(
    stage: ObservabilityStage, templates: dict[str, dict[str, Any]]
) -> None:
    assert stage.eks is not None and stage.eks.alarms
    (composite,) = (
        Template.from_json(templates["EksObservability"]).find_resources("AWS::CloudWatch::CompositeAlarm").values()
    )
    rule = composite["Properties"]["AlarmRule"]
    for alarm in stage.eks.alarms:
        assert f'ALARM("{alarm.node.default_child.alarm_name}")' in rule  # type: ignore[union-attr]


def test_include_eks_false_leaves_the_eks_sample_out() -> None:
    stage = ObservabilityStage(new_app(), "Observability", include_eks=False)
    assert stage.eks is None
    assert stage.node.try_find_child("EksObservability") is None
    assert "EksObservability" not in [stack.node.id for stack in stage.samples]
