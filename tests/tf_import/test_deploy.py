"""`tf deploy`: IMPORT change set on a new or existing stack, progress, failure reasons, DevOps Guru.

moto (server mode, ``aws`` fixture) supports reading stacks and S3 but not IMPORT change sets nor
DevOps Guru, so those calls go through botocore's Stubber with the exact request parameters."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from devops_blueprints.cli import main
from devops_blueprints.tf_import import TfImportError, load_state_file, translate
from devops_blueprints.tf_import.deploy import deploy, load_inputs, plan_import
from devops_blueprints.tf_import.template import template_body
from tests.tf_import.helpers import FULL_STATE

STACK = "tf-orders"
STACK_ID = f"arn:aws:cloudformation:us-east-1:123456789012:stack/{STACK}/5b9f0a10-0000-4000-8000-000000000001"
CHANGE_SET = "tf-import-test"
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
DESCRIPTION = "Import Terraform-managed resources (devops-blueprints tf deploy)"


@pytest.fixture(scope="module")
def translated() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    translation = translate(load_state_file(FULL_STATE), ["aws_sqs_queue", "aws_s3_bucket", "aws_sns_topic"])
    return translation.template, translation.resources_to_import


def _client(service: str) -> Any:
    return boto3.client(service, region_name="us-east-1", endpoint_url="https://example.invalid")


@pytest.fixture
def cfn() -> Iterator[tuple[Any, Stubber]]:
    client = _client("cloudformation")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def guru() -> Iterator[tuple[Any, Stubber]]:
    client = _client("devops-guru")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def _stack(status: str) -> dict[str, Any]:
    return {"Stacks": [{"StackName": STACK, "StackId": STACK_ID, "CreationTime": NOW, "StackStatus": status}]}


def _event(event_id: str, logical_id: str, status: str, reason: str | None = None) -> dict[str, Any]:
    event = {
        "StackId": STACK_ID,
        "EventId": event_id,
        "StackName": STACK,
        "LogicalResourceId": logical_id,
        "Timestamp": NOW,
        "ResourceStatus": status,
    }
    if reason:
        event["ResourceStatusReason"] = reason
    return event


def _no_stack(stubber: Stubber) -> None:
    stubber.add_client_error(
        "describe_stacks",
        service_error_code="ValidationError",
        service_message=f"Stack with id {STACK} does not exist",
        http_status_code=400,
        expected_params={"StackName": STACK},
    )


def _change_set(stubber: Stubber, resources: list[dict[str, Any]], source: dict[str, str]) -> None:
    stubber.add_response(
        "create_change_set",
        {
            "Id": f"arn:aws:cloudformation:us-east-1:123456789012:changeSet/{CHANGE_SET}/1",
            "StackId": STACK_ID,
        },
        {
            "StackName": STACK,
            "ChangeSetName": CHANGE_SET,
            "ChangeSetType": "IMPORT",
            "ResourcesToImport": resources,
            "Description": DESCRIPTION,
            **source,
        },
    )


def _describe_change_set(stubber: Stubber, status: str, reason: str | None = None) -> None:
    response: dict[str, Any] = {"ChangeSetName": CHANGE_SET, "StackName": STACK, "Status": status}
    if reason:
        response["StatusReason"] = reason
    stubber.add_response("describe_change_set", response, {"StackName": STACK, "ChangeSetName": CHANGE_SET})


def _execute(stubber: Stubber, history: list[dict[str, Any]]) -> None:
    stubber.add_response("describe_stack_events", {"StackEvents": history}, {"StackName": STACK})
    stubber.add_response("execute_change_set", {}, {"StackName": STACK, "ChangeSetName": CHANGE_SET})


def _poll(stubber: Stubber, events: list[dict[str, Any]], status: str) -> None:
    stubber.add_response("describe_stack_events", {"StackEvents": events}, {"StackName": STACK})
    stubber.add_response("describe_stacks", _stack(status), {"StackName": STACK})


def _guru_add(stubber: Stubber) -> None:
    stubber.add_response(
        "update_resource_collection",
        {},
        {"Action": "ADD", "ResourceCollection": {"CloudFormation": {"StackNames": [STACK]}}},
    )


def _run(
    cfn_client: Any, guru_client: Any, template: dict[str, Any], resources: list[dict[str, Any]], **kw: Any
) -> Any:
    lines: list[str] = []
    result = deploy(
        cfn_client,
        guru_client,
        kw.pop("s3", None),
        template=template,
        resources=resources,
        stack_name=STACK,
        change_set_name=CHANGE_SET,
        poll_seconds=kw.pop("poll_seconds", 0),
        sleep=lambda _s: None,
        echo=lines.append,
        **kw,
    )
    return result, lines


def test_new_stack_is_created_by_an_import_change_set_then_added_to_devops_guru(
    cfn: tuple[Any, Stubber],
    guru: tuple[Any, Stubber],
    translated: tuple[dict[str, Any], list[dict[str, Any]]],
) -> None:
    template, resources = translated
    client, stub = cfn
    _no_stack(stub)
    _change_set(stub, resources, {"TemplateBody": template_body(template)})
    _describe_change_set(stub, "CREATE_PENDING")
    _describe_change_set(stub, "CREATE_COMPLETE")
    _execute(stub, [_event("e0", STACK, "REVIEW_IN_PROGRESS")])
    first = resources[0]["LogicalResourceId"]
    _poll(
        stub,
        [_event("e1", STACK, "IMPORT_IN_PROGRESS"), _event("e0", STACK, "REVIEW_IN_PROGRESS")],
        "IMPORT_IN_PROGRESS",
    )
    _poll(
        stub,
        [_event("e2", first, "IMPORT_COMPLETE"), _event("e1", STACK, "IMPORT_IN_PROGRESS")],
        "IMPORT_COMPLETE",
    )
    _guru_add(guru[1])

    result, lines = _run(client, guru[0], template, resources)

    assert result.imported == [r["LogicalResourceId"] for r in resources]
    assert result.guru_added is True
    assert f"  {first} IMPORT_COMPLETE" in lines  # progress, each event once
    assert sum(line.startswith(f"  {STACK} IMPORT_IN_PROGRESS") for line in lines) == 1
    assert not any("REVIEW_IN_PROGRESS" in line for line in lines)  # history is not progress
    assert lines[-1] == f"stack {STACK} added to the DevOps Guru resource collection"


def test_no_guru_leaves_devops_guru_alone(
    cfn: tuple[Any, Stubber], translated: tuple[dict[str, Any], list[dict[str, Any]]]
) -> None:
    template, resources = translated
    client, stub = cfn
    _no_stack(stub)
    _change_set(stub, resources, {"TemplateBody": template_body(template)})
    _describe_change_set(stub, "CREATE_COMPLETE")
    _execute(stub, [])
    _poll(stub, [], "IMPORT_COMPLETE")
    result, _ = _run(client, None, template, resources)
    assert result.guru_added is False


def test_change_set_failure_reports_cloudformations_reason(
    cfn: tuple[Any, Stubber], translated: tuple[dict[str, Any], list[dict[str, Any]]]
) -> None:
    template, resources = translated
    client, stub = cfn
    _no_stack(stub)
    _change_set(stub, resources, {"TemplateBody": template_body(template)})
    reason = "Resources [Artifacts7CD1B18F] is already managed by stack other-stack"
    _describe_change_set(stub, "FAILED", reason)
    with pytest.raises(TfImportError, match=re.escape(f"change set {CHANGE_SET} for stack {STACK} failed: {reason}")):
        _run(client, None, template, resources)


def test_import_rollback_reports_the_failed_resources_reasons(
    cfn: tuple[Any, Stubber], translated: tuple[dict[str, Any], list[dict[str, Any]]]
) -> None:
    template, resources = translated
    client, stub = cfn
    _no_stack(stub)
    _change_set(stub, resources, {"TemplateBody": template_body(template)})
    _describe_change_set(stub, "CREATE_COMPLETE")
    _execute(stub, [_event("old", "Old", "CREATE_FAILED", "an old failure, not this import's")])
    lid = resources[0]["LogicalResourceId"]
    failed = _event("f1", lid, "IMPORT_FAILED", "Resource handler returned message: Queue does not exist")
    _poll(stub, [_event("r1", STACK, "IMPORT_ROLLBACK_COMPLETE"), failed], "IMPORT_ROLLBACK_COMPLETE")
    with pytest.raises(TfImportError) as caught:
        _run(client, None, template, resources)
    message = str(caught.value)
    assert message == (
        f"import into stack {STACK} failed (IMPORT_ROLLBACK_COMPLETE): "
        f"{lid}: Resource handler returned message: Queue does not exist"
    )


def test_devops_guru_refusal_is_one_clear_error(
    cfn: tuple[Any, Stubber],
    guru: tuple[Any, Stubber],
    translated: tuple[dict[str, Any], list[dict[str, Any]]],
) -> None:
    template, resources = translated
    client, stub = cfn
    _no_stack(stub)
    _change_set(stub, resources, {"TemplateBody": template_body(template)})
    _describe_change_set(stub, "CREATE_COMPLETE")
    _execute(stub, [])
    _poll(stub, [], "IMPORT_COMPLETE")
    guru[1].add_client_error(
        "update_resource_collection",
        service_error_code="ValidationException",
        service_message="Cannot add stacks while the resource collection uses tags",
        http_status_code=400,
        expected_params={"Action": "ADD", "ResourceCollection": {"CloudFormation": {"StackNames": [STACK]}}},
    )
    with pytest.raises(
        TfImportError, match="ValidationException: Cannot add stacks while the resource collection uses"
    ):
        _run(client, guru[0], template, resources)


def test_big_template_goes_through_s3(
    aws: str, cfn: tuple[Any, Stubber], translated: tuple[dict[str, Any], list[dict[str, Any]]]
) -> None:
    template, resources = copy.deepcopy(translated[0]), translated[1]
    template["Description"] = "x" * 60_000  # over 51,200 bytes
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="tf-templates")
    body = template_body(template)
    key = f"imports/tf-import-{hashlib.sha256(body.encode()).hexdigest()[:16]}.json"
    client, stub = cfn
    _no_stack(stub)
    _change_set(stub, resources, {"TemplateURL": f"https://tf-templates.s3.us-east-1.amazonaws.com/{key}"})
    _describe_change_set(stub, "CREATE_COMPLETE")
    _execute(stub, [])
    _poll(stub, [], "IMPORT_COMPLETE")
    _run(client, None, template, resources, s3=s3, s3_path="s3://tf-templates/imports")
    assert json.loads(s3.get_object(Bucket="tf-templates", Key=key)["Body"].read()) == template


def test_big_template_without_s3_path_is_refused(
    cfn: tuple[Any, Stubber], translated: tuple[dict[str, Any], list[dict[str, Any]]]
) -> None:
    template, resources = copy.deepcopy(translated[0]), translated[1]
    template["Description"] = "x" * 60_000
    _no_stack(cfn[1])
    with pytest.raises(TfImportError, match=r"over CloudFormation's 51200-byte TemplateBody limit; pass --s3-path"):
        _run(cfn[0], None, template, resources)


def test_busy_stack_is_refused(
    cfn: tuple[Any, Stubber], translated: tuple[dict[str, Any], list[dict[str, Any]]]
) -> None:
    cfn[1].add_response("describe_stacks", _stack("UPDATE_IN_PROGRESS"), {"StackName": STACK})
    with pytest.raises(TfImportError, match=f"stack {STACK} is busy \\(UPDATE_IN_PROGRESS\\)"):
        _run(cfn[0], None, *translated)


# --- existing stacks: read from moto's CloudFormation -------------------------------------------


def _existing_stack(template: dict[str, Any], resources: list[dict[str, Any]], keep: list[int]) -> dict[str, Any]:
    """A stack template holding resources ``keep`` of ours (as a previous import left them)."""
    kept = {resources[i]["LogicalResourceId"]: template["Resources"][resources[i]["LogicalResourceId"]] for i in keep}
    return {"AWSTemplateFormatVersion": "2010-09-09", "Resources": kept}


def test_existing_stack_imports_only_what_is_new_and_keeps_its_template(
    aws: str, translated: tuple[dict[str, Any], list[dict[str, Any]]]
) -> None:
    template, resources = translated
    bucket_index = next(i for i, r in enumerate(resources) if r["ResourceType"] == "AWS::S3::Bucket")
    existing = _existing_stack(template, resources, [bucket_index])
    existing["Resources"]["Extra"] = {
        "Type": "AWS::SNS::Topic",
        "Properties": {"TopicName": "not-from-terraform"},
    }
    cfn = boto3.client("cloudformation")
    cfn.create_stack(StackName=STACK, TemplateBody=json.dumps(existing))

    plan = plan_import(cfn, STACK, template, resources)

    assert plan.stack_exists
    assert plan.already_in_stack == [resources[bucket_index]["LogicalResourceId"]]
    assert plan.to_import == [r for i, r in enumerate(resources) if i != bucket_index]
    # the merged template: the stack's own resources unchanged, plus the new ones
    assert plan.template["Resources"]["Extra"] == existing["Resources"]["Extra"]
    assert set(plan.template["Resources"]) == set(template["Resources"]) | {"Extra"}


def test_existing_stack_matches_a_resource_by_physical_id_under_another_logical_id(
    aws: str, translated: tuple[dict[str, Any], list[dict[str, Any]]]
) -> None:
    template, resources = translated
    bucket = next(r for r in resources if r["ResourceType"] == "AWS::S3::Bucket")
    existing = {
        "Resources": {
            "HandMadeName": {
                "Type": "AWS::S3::Bucket",
                "DeletionPolicy": "Retain",
                "Properties": {"BucketName": bucket["ResourceIdentifier"]["BucketName"]},
            }
        }
    }
    cfn = boto3.client("cloudformation")
    cfn.create_stack(StackName=STACK, TemplateBody=json.dumps(existing))
    plan = plan_import(cfn, STACK, template, resources)
    assert bucket["LogicalResourceId"] in plan.already_in_stack
    assert bucket not in plan.to_import
    assert bucket["LogicalResourceId"] not in plan.template["Resources"]


def test_logical_id_taken_by_another_type_is_refused(
    aws: str, translated: tuple[dict[str, Any], list[dict[str, Any]]]
) -> None:
    template, resources = translated
    lid = next(r["LogicalResourceId"] for r in resources if r["ResourceType"] == "AWS::SQS::Queue")
    cfn = boto3.client("cloudformation")
    existing = {"Resources": {lid: {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "t"}}}}
    cfn.create_stack(StackName=STACK, TemplateBody=json.dumps(existing))
    with pytest.raises(TfImportError, match=f"already has a AWS::SNS::Topic with logical id {lid}"):
        plan_import(cfn, STACK, template, resources)


def test_existing_stack_import_merges_templates_in_the_change_set(
    cfn: tuple[Any, Stubber], translated: tuple[dict[str, Any], list[dict[str, Any]]]
) -> None:
    # GIVEN a stack that already holds the first resource (read calls stubbed with moto-free responses)
    template, resources = translated
    client, stub = cfn
    existing = _existing_stack(template, resources, [0])
    first = resources[0]
    stub.add_response("describe_stacks", _stack("IMPORT_COMPLETE"), {"StackName": STACK})
    stub.add_response(
        "get_template",
        {"TemplateBody": json.dumps(existing)},
        {"StackName": STACK, "TemplateStage": "Original"},
    )
    stub.add_response(
        "list_stack_resources",
        {
            "StackResourceSummaries": [
                {
                    "LogicalResourceId": first["LogicalResourceId"],
                    "PhysicalResourceId": next(iter(first["ResourceIdentifier"].values())),
                    "ResourceType": first["ResourceType"],
                    "LastUpdatedTimestamp": NOW,
                    "ResourceStatus": "IMPORT_COMPLETE",
                }
            ]
        },
        {"StackName": STACK},
    )
    merged = {**existing, "Resources": dict(existing["Resources"])}
    for item in resources[1:]:
        merged["Resources"][item["LogicalResourceId"]] = template["Resources"][item["LogicalResourceId"]]
    _change_set(stub, resources[1:], {"TemplateBody": template_body(merged)})
    _describe_change_set(stub, "CREATE_COMPLETE")
    _execute(stub, [_event("old", STACK, "IMPORT_COMPLETE")])
    _poll(
        stub,
        [_event("new", STACK, "IMPORT_COMPLETE"), _event("old", STACK, "IMPORT_COMPLETE")],
        "IMPORT_COMPLETE",
    )

    result, lines = _run(client, None, template, resources)

    assert result.imported == [r["LogicalResourceId"] for r in resources[1:]]
    assert result.already_in_stack == [first["LogicalResourceId"]]
    assert lines[0] == f"already in stack {STACK}: 1 resource(s), left as they are"


def test_nothing_new_means_no_change_set_but_devops_guru_still_added(
    cfn: tuple[Any, Stubber],
    guru: tuple[Any, Stubber],
    translated: tuple[dict[str, Any], list[dict[str, Any]]],
) -> None:
    template, resources = translated
    client, stub = cfn
    stub.add_response("describe_stacks", _stack("IMPORT_COMPLETE"), {"StackName": STACK})
    stub.add_response(
        "get_template",
        {"TemplateBody": json.dumps(template)},
        {"StackName": STACK, "TemplateStage": "Original"},
    )
    stub.add_response("list_stack_resources", {"StackResourceSummaries": []}, {"StackName": STACK})
    _guru_add(guru[1])
    result, lines = _run(client, guru[0], template, resources)
    assert result.imported == []
    assert f"nothing new to import into stack {STACK}" in lines


# --- input files and the CLI -------------------------------------------------------------------


def _write_inputs(tmp_path: Path, template: Any, resources: Any) -> tuple[Path, Path]:
    t, r = tmp_path / "t.json", tmp_path / "r.json"
    t.write_text(json.dumps(template))
    r.write_text(json.dumps(resources))
    return t, r


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda t, r: (t, {"not": "a list"}), "r.json: expected a list, got an object .* ResourcesToImport list"),
        (
            lambda t, r: (t, [{"ResourceType": "AWS::SQS::Queue"}]),
            r"r.json: \[0\]: missing the required key \"LogicalResourceId\"",
        ),
        (lambda t, r: ({"Resources": {}}, r), "is not a resource of that type in --template"),
        (lambda t, r: ([], r), "t.json: expected an object, got a list .*expected a CloudFormation template"),
    ],
)
def test_bad_input_files(
    tmp_path: Path, translated: tuple[dict[str, Any], list[dict[str, Any]]], mutate: Any, expected: str
) -> None:
    t, r = _write_inputs(tmp_path, *mutate(*translated))
    with pytest.raises(TfImportError, match=expected):
        load_inputs(t, r)


def test_template_without_retain_is_refused(
    tmp_path: Path, translated: tuple[dict[str, Any], list[dict[str, Any]]]
) -> None:
    template = copy.deepcopy(translated[0])
    lid = translated[1][0]["LogicalResourceId"]
    template["Resources"][lid]["DeletionPolicy"] = "Delete"
    t, r = _write_inputs(tmp_path, template, translated[1])
    with pytest.raises(TfImportError, match=f"{lid} needs DeletionPolicy Retain"):
        load_inputs(t, r)


def test_cli_deploy_missing_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["tf", "deploy", "--template", str(tmp_path / "t.json"), "--resources", str(tmp_path / "r.json")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "t.json: no such file" in err


def test_cli_deploy_runs_the_import_with_real_clients_configured(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    cfn: tuple[Any, Stubber],
    guru: tuple[Any, Stubber],
    translated: tuple[dict[str, Any], list[dict[str, Any]]],
) -> None:
    template, resources = translated
    t, r = _write_inputs(tmp_path, template, resources)
    client, stub = cfn
    stub.add_response("describe_stacks", _stack("IMPORT_COMPLETE"), {"StackName": STACK})
    stub.add_response(
        "get_template",
        {"TemplateBody": json.dumps(template)},
        {"StackName": STACK, "TemplateStage": "Original"},
    )
    stub.add_response("list_stack_resources", {"StackResourceSummaries": []}, {"StackName": STACK})
    _guru_add(guru[1])
    clients = {"cloudformation": client, "devops-guru": guru[0]}
    monkeypatch.setattr(boto3, "client", lambda service, **_kw: clients[service])
    code = main(["tf", "deploy", "--template", str(t), "--resources", str(r), "--stack-name", STACK])
    out = capsys.readouterr().out
    assert code == 0
    assert out.strip() == f"stack {STACK}: 0 imported, {len(resources)} already there; added to DevOps Guru"


def test_more_than_500_resources_in_one_stack_is_refused(cfn: tuple[Any, Stubber]) -> None:
    resources: list[dict[str, Any]] = [
        {
            "ResourceType": "AWS::S3::Bucket",
            "LogicalResourceId": f"B{i}",
            "ResourceIdentifier": {"BucketName": f"b-{i}"},
        }
        for i in range(501)
    ]
    template = {
        "Resources": {
            r["LogicalResourceId"]: {
                "Type": "AWS::S3::Bucket",
                "DeletionPolicy": "Retain",
                "Properties": {"BucketName": r["ResourceIdentifier"]["BucketName"]},
            }
            for r in resources
        }
    }
    _no_stack(cfn[1])
    with pytest.raises(TfImportError, match="would hold 501 resources, over CloudFormation's 500 per stack"):
        _run(cfn[0], None, template, resources)


def test_existing_stack_with_a_yaml_template_is_refused(
    cfn: tuple[Any, Stubber], translated: tuple[dict[str, Any], list[dict[str, Any]]]
) -> None:
    client, stub = cfn
    stub.add_response("describe_stacks", _stack("UPDATE_COMPLETE"), {"StackName": STACK})
    stub.add_response(
        "get_template",
        {"TemplateBody": "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n"},
        {"StackName": STACK, "TemplateStage": "Original"},
    )
    stub.add_response("list_stack_resources", {"StackResourceSummaries": []}, {"StackName": STACK})
    with pytest.raises(TfImportError, match=f"stack {STACK} has a YAML template"):
        _run(client, None, *translated)


def test_waiting_gives_up_after_the_timeout(
    cfn: tuple[Any, Stubber], translated: tuple[dict[str, Any], list[dict[str, Any]]]
) -> None:
    template, resources = translated
    client, stub = cfn
    _no_stack(stub)
    _change_set(stub, resources, {"TemplateBody": template_body(template)})
    _describe_change_set(stub, "CREATE_IN_PROGRESS")
    _describe_change_set(stub, "CREATE_IN_PROGRESS")
    with pytest.raises(TfImportError, match=f"change set {CHANGE_SET}: still in progress after 5 s"):
        _run(client, None, template, resources, timeout_seconds=5, poll_seconds=5)
