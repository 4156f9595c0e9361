"""The observability samples' Lambda handlers against moto's server mode."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from devops_blueprints.assets import load_lambda_module
from tests.support.powertools import LambdaContext, captured_logs

serverless = load_lambda_module("serverless_sample")
anomalous = load_lambda_module("anomalous_function")


@pytest.fixture
def resources(aws: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    dynamodb = boto3.client("dynamodb")
    dynamodb.create_table(
        TableName="orders",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    sns = boto3.client("sns")
    sqs = boto3.client("sqs")
    topic_arn = sns.create_topic(Name="results")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="results-listener")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    monkeypatch.setenv("TABLE_NAME", "orders")
    monkeypatch.setenv("RESULTS_TOPIC_ARN", topic_arn)
    monkeypatch.setattr(serverless, "_dynamodb", None)
    monkeypatch.setattr(serverless, "_sns", None)
    yield {"dynamodb": dynamodb, "sqs": sqs, "queue_url": queue_url}


def _record(message_id: str, body: str) -> dict[str, str]:
    return {"messageId": message_id, "body": body}


def test_orders_are_stored_and_announced_and_bad_messages_reported(resources: dict[str, Any]) -> None:
    event = {
        "Records": [
            _record("m1", json.dumps({"orderId": "o-1", "amount": 3})),
            _record("m2", "not json"),
            _record("m3", json.dumps({"orderId": ""})),
            _record("m4", json.dumps({"orderId": "o-2"})),
        ]
    }
    with captured_logs(serverless.logger) as logs:
        response = serverless.handler(event, LambdaContext(function_name="serverless-sample"))
    assert response == {"batchItemFailures": [{"itemIdentifier": "m2"}, {"itemIdentifier": "m3"}]}
    # One structured line per failed message, with the keys the hand-printed JSON line had.
    failures = [record for record in logs.records() if record["message"] == "message not processed"]
    assert [(record["messageId"], record["error"]) for record in failures] == [
        ("m2", "message body is not JSON: Expecting value at column 1"),
        ("m3", "message needs a non-empty string orderId, got ''"),
    ]
    assert {(record["level"], record["service"], record["function_name"]) for record in failures} == {
        ("ERROR", "serverless-sample", "serverless-sample")
    }

    items = resources["dynamodb"].scan(TableName="orders")["Items"]
    assert sorted(item["pk"]["S"] for item in items) == ["o-1", "o-2"]
    stored = next(item for item in items if item["pk"]["S"] == "o-1")
    assert json.loads(stored["payload"]["S"]) == {"amount": 3, "orderId": "o-1"}

    messages = resources["sqs"].receive_message(QueueUrl=resources["queue_url"], MaxNumberOfMessages=10)["Messages"]
    assert sorted(json.loads(m["Body"])["orderId"] for m in messages) == ["o-1", "o-2"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[1, 2]", "message body must be a JSON object, got list"),
        ("{", "message body is not JSON"),
        ('{"orderId": 5}', "message needs a non-empty string orderId, got 5"),
    ],
)
def test_bad_message_errors_name_the_problem(body: str, message: str) -> None:
    with pytest.raises(serverless.BadMessageError, match=message):
        serverless.parse_message(body)


def test_anomalous_function_sleeps_the_injected_latency(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INJECTED_LATENCY_MS", "30")
    result = anomalous.handler({}, None)
    assert result["injectedLatencyMs"] == 30
    assert result["elapsedMs"] >= 30


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("fast", "INJECTED_LATENCY_MS must be an integer number of milliseconds, got 'fast'"),
        ("-5", "INJECTED_LATENCY_MS must be between 0 and 900000, got -5"),
    ],
)
def test_anomalous_function_rejects_bad_configuration(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        anomalous.injected_latency_ms({"INJECTED_LATENCY_MS": raw})


# -- hostile messages (issue 11) -----------------------------------------------------------------------------

UNREADABLE = [
    ("m-nan", '{"orderId": "o", "x": NaN}', "message body is not JSON: NaN is not a JSON value"),
    ("m-deep", "[" * 50_000 + "]" * 50_000, "message body is not JSON this function can read: nested too deeply"),
    ("m-digits", '{"orderId": "o", "n": ' + "9" * 5000 + "}", "message body is not JSON this function can read"),
    ("m-big", json.dumps({"orderId": "o", "pad": "x" * 400_000}), "message body must be at most 307200 bytes"),
    ("m-key", json.dumps({"orderId": "k" * 2049}), "message orderId must be at most 2048 bytes, got 2049"),
    ("m-surrogate", '{"orderId": "\\ud800"}', "message orderId must be valid Unicode text, got '\\ud800'"),
    ("m-list", '["orderId"]', "message body must be a JSON object, got list"),
]


def test_hostile_messages_are_reported_and_the_rest_of_the_batch_is_stored(resources: dict[str, Any]) -> None:
    event = {
        "Records": [
            _record("m1", json.dumps({"orderId": "o-1"})),
            *(_record(message_id, body) for message_id, body, _ in UNREADABLE),
            {"messageId": "m-nobody"},
            {"messageId": "m-bytes", "body": {"orderId": "o-x"}},
            5,
            {"body": json.dumps({"orderId": "o-lost"})},
            {"messageId": ["m"], "body": "{}"},
            _record("m2", json.dumps({"orderId": "o-2"})),
        ]
    }

    with captured_logs(serverless.logger) as logs:
        response = serverless.handler(event, LambdaContext(function_name="serverless-sample"))

    reported = [message_id for message_id, _, _ in UNREADABLE] + ["m-nobody", "m-bytes"]
    assert response == {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in reported]}
    errors = {line["messageId"]: line["error"] for line in logs.records() if line["message"] == "message not processed"}
    for message_id, _, message in UNREADABLE:
        assert errors[message_id].startswith(message)
    assert errors["m-nobody"] == "message body must be a string, got NoneType"
    assert errors["m-bytes"] == "message body must be a string, got dict"
    skipped = [line for line in logs.records() if line["message"].startswith("record without messageId")]
    assert [(line["level"], line["position"]) for line in skipped] == [("ERROR", 10), ("ERROR", 11), ("ERROR", 12)]
    items = resources["dynamodb"].scan(TableName="orders")["Items"]
    assert sorted(item["pk"]["S"] for item in items) == ["o-1", "o-2"]


@pytest.mark.parametrize("event", [{"Records": "m1"}, {"Records": {"messageId": "m1"}}, "Records"])
def test_an_event_that_is_not_an_sqs_batch_is_refused(resources: dict[str, Any], event: Any) -> None:
    with pytest.raises(serverless.BadMessageError, match=r"^event must be an SQS batch"):
        serverless.handler(event, LambdaContext(function_name="serverless-sample"))
