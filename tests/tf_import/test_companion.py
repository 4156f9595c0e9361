"""`tf deploy --engine cloudwatch`: the CloudWatch engine's companion stack for imported resources, its
template (alarms addressed by the imported resources' physical names, cfn-lint clean), and its deployment
against moto's CloudFormation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from devops_blueprints.cli import main
from devops_blueprints.constructs.observability.cloudwatch_coverage import COVERAGE
from devops_blueprints.tf_import import TfImportError, load_state_file, translate
from devops_blueprints.tf_import.companion import companion_stack_name, companion_template
from tests.support.cdk import cfn_lint_errors
from tests.tf_import.helpers import FULL_STATE

STACK = "tf-orders"


@pytest.fixture(scope="module")
def translated() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    translation = translate(load_state_file(FULL_STATE), ["aws_sqs_queue", "aws_sns_topic", "aws_s3_bucket"])
    return translation.template, translation.resources_to_import


def _alarms(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Alarm"]


def test_every_covered_imported_resource_gets_its_alarms_by_physical_name(
    translated: tuple[dict[str, Any], list[dict[str, Any]]],
) -> None:
    template, _ = translated
    body, coverage = companion_template(template, STACK)
    alarms = _alarms(body)
    dimension_values = [
        d["Value"]
        for alarm in alarms
        for m in alarm["Properties"]["Metrics"]
        if "MetricStat" in m
        for d in m["MetricStat"]["Metric"]["Dimensions"]
    ]
    expected = 0
    for logical_id, resource in template["Resources"].items():
        coverage_of_type = COVERAGE.get(resource["Type"])
        if coverage_of_type is None:
            continue
        name = coverage_of_type.literal(resource["Properties"])
        assert name is not None, logical_id
        assert next(iter(name.values())) in dimension_values
        expected += len(coverage_of_type.alarms)
    assert len(alarms) == expected > 0
    assert coverage.uncovered.get("AWS::S3::Bucket")  # buckets are listed, not silently dropped
    (composite,) = [r for r in body["Resources"].values() if r["Type"] == "AWS::CloudWatch::CompositeAlarm"]
    assert composite["Properties"]["AlarmName"] == f"{STACK}-anomalous"
    assert "Rules" not in body and "Parameters" not in body  # deployable by boto3, no bootstrap check
    assert cfn_lint_errors(body) == []


def test_a_template_with_nothing_to_cover_is_one_clear_error() -> None:
    template = {"Resources": {"B": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "b"}}}}
    with pytest.raises(TfImportError, match="no resource of stack tf-orders is one the CloudWatch engine covers"):
        companion_template(template, STACK)


def _write_inputs(tmp_path: Path, template: dict[str, Any], resources: list[dict[str, Any]]) -> tuple[Path, Path]:
    t, r = tmp_path / "t.json", tmp_path / "r.json"
    t.write_text(json.dumps(template))
    r.write_text(json.dumps(resources))
    return t, r


def test_no_guru_with_the_cloudwatch_engine_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], translated: tuple[dict[str, Any], list[dict[str, Any]]]
) -> None:
    t, r = _write_inputs(tmp_path, *translated)
    code = main(["tf", "deploy", "--template", str(t), "--resources", str(r), "--engine", "cloudwatch", "--no-guru"])
    assert code == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "devops-blueprints: error: --no-guru applies to --engine devops-guru only"
    ]


def test_companion_stack_deploys_and_redeploys_against_moto(
    aws: Any, translated: tuple[dict[str, Any], list[dict[str, Any]]]
) -> None:
    from devops_blueprints.tf_import.companion import deploy_companion

    template, _ = translated
    body, _ = companion_template(template, STACK)
    cfn = boto3.client("cloudformation", region_name="us-east-1")
    messages: list[str] = []
    assert deploy_companion(cfn, body, STACK, poll_seconds=0, sleep=lambda _s: None, echo=messages.append) is True
    name = companion_stack_name(STACK)
    (stack,) = cfn.describe_stacks(StackName=name)["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    deployed = cfn.get_template(StackName=name)["TemplateBody"]
    deployed = json.loads(deployed) if isinstance(deployed, str) else deployed
    assert len(_alarms(deployed)) == len(_alarms(body))
    # tf deploy's change-set progress: the change set, each resource's event, then the summary line.
    assert messages[-1] == f"companion stack {name} created"
    assert any(m.startswith("change set tf-observability-") and m.endswith(": CREATE_COMPLETE") for m in messages)
    assert any("CREATE_COMPLETE" in m and m.startswith("  ") for m in messages)
    # The same template again: an UPDATE change set (moto may or may not report "no changes").
    deploy_companion(cfn, body, STACK, poll_seconds=0, sleep=lambda _s: None, echo=messages.append)
    assert cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] in {"CREATE_COMPLETE", "UPDATE_COMPLETE"}
