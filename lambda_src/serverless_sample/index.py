"""Serverless sample: SQS messages -> DynamoDB items -> a result notification on SNS.

Environment: ``TABLE_NAME``, ``RESULTS_TOPIC_ARN``. Reports partial batch failures so one bad message
is retried (and finally dead-lettered) without redelivering the others.

Logs: structured JSON (Powertools ``Logger``, service ``serverless-sample``, with the Lambda context keys);
each failed message is one ``message not processed`` line at ERROR with its ``messageId`` and ``error``.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools import Logger

logger = Logger(service="serverless-sample")
_dynamodb = None
_sns = None


def _clients() -> tuple[Any, Any]:
    global _dynamodb, _sns
    if _dynamodb is None or _sns is None:
        _dynamodb = boto3.client("dynamodb")
        _sns = boto3.client("sns")
    return _dynamodb, _sns


class BadMessageError(ValueError):
    """A message body that is not a JSON object with a non-empty string ``orderId``."""


def parse_message(body: str) -> dict[str, Any]:
    try:
        document = json.loads(body)
    except json.JSONDecodeError as exc:
        raise BadMessageError(f"message body is not JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(document, dict):
        raise BadMessageError(f"message body must be a JSON object, got {type(document).__name__}")
    order_id = document.get("orderId")
    if not isinstance(order_id, str) or not order_id:
        raise BadMessageError(f"message needs a non-empty string orderId, got {order_id!r}")
    return document


def process_record(record: dict[str, Any], *, dynamodb: Any, sns: Any, table: str, topic_arn: str) -> str:
    """Store one message as an item and announce it; returns the order id."""
    document = parse_message(record["body"])
    order_id = str(document["orderId"])
    dynamodb.put_item(
        TableName=table,
        Item={
            "pk": {"S": order_id},
            "payload": {"S": json.dumps(document, sort_keys=True)},
            "receivedAt": {"S": datetime.now(UTC).isoformat()},
        },
    )
    sns.publish(TopicArn=topic_arn, Message=json.dumps({"orderId": order_id, "status": "STORED"}))
    return order_id


def process_batch(
    records: list[dict[str, Any]], *, dynamodb: Any, sns: Any, table: str, topic_arn: str
) -> dict[str, list[dict[str, str]]]:
    failures = []
    for record in records:
        try:
            process_record(record, dynamodb=dynamodb, sns=sns, table=table, topic_arn=topic_arn)
        except Exception as exc:
            logger.error("message not processed", extra={"messageId": record.get("messageId"), "error": str(exc)})
            failures.append({"itemIdentifier": str(record.get("messageId", ""))})
    return {"batchItemFailures": failures}


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
    dynamodb, sns = _clients()
    return process_batch(
        event.get("Records", []),
        dynamodb=dynamodb,
        sns=sns,
        table=os.environ["TABLE_NAME"],
        topic_arn=os.environ["RESULTS_TOPIC_ARN"],
    )
