"""Last in the session (file order): one update through a context value, then a destroy that keeps only retained data."""

from __future__ import annotations

from typing import Any

import pytest

from tests.deploy.conftest import LocalCloud
from tests.support.local_deploy import deploy, emulator

pytestmark = pytest.mark.deploy

ANOMALOUS = "Observability-AnomalousLambda"


def _function_of(local_cloud: LocalCloud, stack_name: str) -> str:
    functions = [
        r["PhysicalResourceId"]
        for r in emulator.stack_resources(local_cloud.endpoint, stack_name)
        if r["ResourceType"] == "AWS::Lambda::Function"
    ]
    assert len(functions) == 1, functions
    return functions[0]


def test_a_context_change_redeploys_as_an_update_in_place(local_cloud: LocalCloud) -> None:
    # GIVEN the deployed sample app WHEN `-c inject_latency_ms=250` is deployed
    function = _function_of(local_cloud, ANOMALOUS)
    lambda_ = local_cloud.client("lambda")
    before = lambda_.get_function_configuration(FunctionName=function)["Environment"]["Variables"]
    assert before["INJECTED_LATENCY_MS"] == "0"
    deploy.deploy(local_cloud.endpoint, local_cloud.state_dir, context={"inject_latency_ms": "250"}, quiet=True)
    # THEN that stack is updated, its function keeps its identity and has the new value; the others are untouched
    statuses = {s["StackName"]: s["StackStatus"] for s in emulator.live_stacks(local_cloud.endpoint)}
    assert statuses.pop(ANOMALOUS) == "UPDATE_COMPLETE"
    assert _function_of(local_cloud, ANOMALOUS) == function
    after = lambda_.get_function_configuration(FunctionName=function)["Environment"]["Variables"]
    assert after["INJECTED_LATENCY_MS"] == "250"
    assert set(statuses.values()) == {"CREATE_COMPLETE"}


def _existing(local_cloud: LocalCloud) -> dict[str, set[str]]:
    s3, dynamodb = local_cloud.client("s3"), local_cloud.client("dynamodb")
    lambda_, sqs, sns = local_cloud.client("lambda"), local_cloud.client("sqs"), local_cloud.client("sns")
    return {
        "AWS::S3::Bucket": {b["Name"] for b in s3.list_buckets()["Buckets"]},
        "AWS::DynamoDB::Table": set(dynamodb.list_tables()["TableNames"]),
        "AWS::Lambda::Function": {f["FunctionName"] for f in lambda_.list_functions()["Functions"]},
        "AWS::SQS::Queue": set(sqs.list_queues().get("QueueUrls", [])),
        "AWS::SNS::Topic": {t["TopicArn"] for t in sns.list_topics()["Topics"]},
    }


def test_destroy_removes_every_stack_and_keeps_only_the_retained_data(local_cloud: LocalCloud) -> None:
    templates = deploy.assembly_stacks(local_cloud.state_dir / "cdk.out")
    retained: dict[str, set[str]] = {}
    deleted: dict[str, set[str]] = {}
    for stack_name, template in templates.items():
        physical = {r["LogicalResourceId"]: r for r in emulator.stack_resources(local_cloud.endpoint, stack_name)}
        for logical_id, resource in template["Resources"].items():
            kind: Any = resource["Type"]
            if kind not in (
                "AWS::S3::Bucket",
                "AWS::DynamoDB::Table",
                "AWS::Lambda::Function",
                "AWS::SQS::Queue",
                "AWS::SNS::Topic",
            ):
                continue
            keep = resource.get("DeletionPolicy") in ("Retain", "RetainExceptOnCreate")
            (retained if keep else deleted).setdefault(kind, set()).add(physical[logical_id]["PhysicalResourceId"])
    assert retained.get("AWS::S3::Bucket") and retained.get("AWS::DynamoDB::Table")  # the data the app keeps
    assert deleted.get("AWS::Lambda::Function")
    # WHEN every stack is destroyed
    deploy.destroy(local_cloud.endpoint, local_cloud.state_dir, quiet=True)
    # THEN only the bootstrap stack is left, retained data still exists and nothing else of the stacks does
    assert [s["StackName"] for s in emulator.live_stacks(local_cloud.endpoint)] == ["CDKToolkit"]
    existing = _existing(local_cloud)
    for kind, names in retained.items():
        assert names <= existing[kind], (kind, sorted(names - existing[kind]))
    for kind, names in deleted.items():
        assert not names & existing[kind], (kind, sorted(names & existing[kind]))
