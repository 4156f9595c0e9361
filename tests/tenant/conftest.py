"""Fixtures for the tenant-deployment handlers: real tables, stream and CodeBuild projects on moto."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest

from devops_blueprints.assets import load_lambda_module

REPO_ROOT = Path(__file__).resolve().parents[2]
TABLE = "deployments"
IDEMPOTENCY_TABLE = "deployment-idempotency"
PROVISIONING_PROJECT = "deployment-provisioning"
DEPROVISIONING_PROJECT = "deployment-deprovisioning"


def load_lambda(function: str) -> ModuleType:
    """Import ``lambda_src/<function>/index.py`` as its own module, its folder on sys.path as in Lambda."""
    return load_lambda_module(function, siblings_importable=True)


class StreamTail:
    """Reads the table's stream on moto and returns new records as Lambda delivers them."""

    def __init__(self, stream_arn: str) -> None:
        self.arn = stream_arn
        self.client = boto3.client("dynamodbstreams")
        shard = self.client.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
        self.iterator: str | None = self.client.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]

    def new_records(self) -> list[dict[str, Any]]:
        assert self.iterator is not None
        response = self.client.get_records(ShardIterator=self.iterator)
        self.iterator = response.get("NextShardIterator")
        records = []
        for record in response["Records"]:
            record = copy.deepcopy(record)
            record["eventSourceARN"] = self.arn
            created = record["dynamodb"].get("ApproximateCreationDateTime")
            if created is not None:
                record["dynamodb"]["ApproximateCreationDateTime"] = int(created.timestamp())
            records.append(record)
        return records

    def event(self) -> dict[str, Any]:
        return {"Records": self.new_records()}


@dataclass
class Tenant:
    dynamodb: Any
    codebuild: Any
    stream: StreamTail
    start_build_requests: list[dict[str, Any]] = field(default_factory=list)
    stop_build_requests: list[dict[str, Any]] = field(default_factory=list)

    def put(self, item: dict[str, Any]) -> None:
        self.dynamodb.put_item(TableName=TABLE, Item=item)

    def get(self, deployment_id: str) -> dict[str, Any] | None:
        return self.dynamodb.get_item(TableName=TABLE, Key={"id": {"S": deployment_id}}, ConsistentRead=True).get(
            "Item"
        )

    def set(self, deployment_id: str, **values: dict[str, str]) -> None:
        """An operator's in-place edit: SET the given (typed) attributes, leave the others as they are."""
        self.dynamodb.update_item(
            TableName=TABLE,
            Key={"id": {"S": deployment_id}},
            UpdateExpression="SET " + ", ".join(f"#a{i} = :a{i}" for i in range(len(values))),
            ExpressionAttributeNames={f"#a{i}": name for i, name in enumerate(values)},
            ExpressionAttributeValues={f":a{i}": value for i, value in enumerate(values.values())},
        )

    def builds(self, project: str) -> list[str]:
        return list(self.codebuild.list_builds_for_project(projectName=project)["ids"])


def create_project(codebuild: Any, name: str) -> None:
    codebuild.create_project(
        name=name,
        source={"type": "S3", "location": "toolchain-bucket/source.zip"},
        artifacts={"type": "NO_ARTIFACTS"},
        environment={
            "type": "LINUX_CONTAINER",
            "image": "aws/codebuild/standard:7.0",
            "computeType": "BUILD_GENERAL1_SMALL",
        },
        serviceRole="arn:aws:iam::123456789012:role/codebuild",
    )


def create_deployment_table(dynamodb: Any) -> str:
    """The deployment table as DeploymentTable makes it (key ``id``, NEW_AND_OLD_IMAGES stream); the stream ARN."""
    table = dynamodb.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    return str(table["TableDescription"]["LatestStreamArn"])


@pytest.fixture
def deployment_table(aws: str) -> Any:
    """A DynamoDB client, with the deployment table created."""
    dynamodb = boto3.client("dynamodb")
    create_deployment_table(dynamodb)
    return dynamodb


@pytest.fixture
def tenant(aws: str) -> Iterator[Tenant]:
    dynamodb = boto3.client("dynamodb")
    stream_arn = create_deployment_table(dynamodb)
    dynamodb.create_table(
        TableName=IDEMPOTENCY_TABLE,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    codebuild = boto3.client("codebuild")
    create_project(codebuild, PROVISIONING_PROJECT)
    create_project(codebuild, DEPROVISIONING_PROJECT)
    env = Tenant(
        dynamodb=dynamodb,
        codebuild=codebuild,
        stream=StreamTail(stream_arn),
    )

    # moto keeps no environment overrides on its builds, so record the exact StartBuild requests as sent.
    def capture(params: dict[str, Any], **_: Any) -> None:
        env.start_build_requests.append(copy.deepcopy(params))

    codebuild.meta.events.register("provide-client-params.codebuild.StartBuild", capture)

    def capture_stop(params: dict[str, Any], **_: Any) -> None:
        env.stop_build_requests.append(copy.deepcopy(params))

    codebuild.meta.events.register("provide-client-params.codebuild.StopBuild", capture_stop)
    yield env
