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


# DynamoDB limits (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html): a partition
# key value is at most 2,048 bytes and an item at most 400 KB; the stored payload stays well under the latter.
MAX_ORDER_ID_BYTES = 2048
MAX_PAYLOAD_BYTES = 300 * 1024


def _reject_constant(name: str) -> None:
    raise BadMessageError(f"message body is not JSON: {name} is not a JSON value")


def parse_message(body: object) -> dict[str, Any]:
    if not isinstance(body, str):
        raise BadMessageError(f"message body must be a string, got {type(body).__name__}")
    if len(body.encode("utf-8", "surrogatepass")) > MAX_PAYLOAD_BYTES:
        raise BadMessageError(f"message body must be at most {MAX_PAYLOAD_BYTES} bytes")
    try:
        document = json.loads(body, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise BadMessageError(f"message body is not JSON: {exc.msg} at column {exc.colno}") from None
    except RecursionError:
        raise BadMessageError("message body is not JSON this function can read: nested too deeply") from None
    except BadMessageError:
        raise
    except ValueError as exc:  # an integer past Python's digit limit
        raise BadMessageError(f"message body is not JSON this function can read: {exc}") from None
    if not isinstance(document, dict):
        raise BadMessageError(f"message body must be a JSON object, got {type(document).__name__}")
    order_id = document.get("orderId")
    if not isinstance(order_id, str) or not order_id:
        raise BadMessageError(f"message needs a non-empty string orderId, got {_show(order_id)}")
    try:
        size = len(order_id.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate escape such as "\ud800"
        raise BadMessageError(f"message orderId must be valid Unicode text, got {_show(order_id)}") from None
    if size > MAX_ORDER_ID_BYTES:
        raise BadMessageError(f"message orderId must be at most {MAX_ORDER_ID_BYTES} bytes, got {size}")
    return document


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def process_record(record: dict[str, Any], *, dynamodb: Any, sns: Any, table: str, topic_arn: str) -> str:
    """Store one message as an item and announce it; returns the order id."""
    document = parse_message(record.get("body"))
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
    records: object, *, dynamodb: Any, sns: Any, table: str, topic_arn: str
) -> dict[str, list[dict[str, str]]]:
    """Process an SQS batch; a message that fails is reported by its ``messageId`` (SQS redelivers it, then
    moves it to the dead-letter queue). A record without a string ``messageId`` cannot be reported - an empty or
    unknown itemIdentifier fails the whole batch
    (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html) - and is never sent by SQS:
    it is logged at ERROR and skipped, and the rest of the batch goes on."""
    if not isinstance(records, list):
        raise BadMessageError(f'event must be an SQS batch {{"Records": [...]}}, got Records {_show(records)}')
    failures = []
    for position, record in enumerate(records):
        message_id = record.get("messageId") if isinstance(record, dict) else None
        if not isinstance(message_id, str) or not message_id:
            logger.error(
                "record without messageId skipped (cannot be reported or retried alone)",
                extra={"position": position, "record": _show(record)},
            )
            continue
        try:
            process_record(record, dynamodb=dynamodb, sns=sns, table=table, topic_arn=topic_arn)
        except Exception as exc:
            logger.error("message not processed", extra={"messageId": message_id, "error": str(exc)})
            failures.append({"itemIdentifier": message_id})
    return {"batchItemFailures": failures}


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
    dynamodb, sns = _clients()
    return process_batch(
        event.get("Records") if isinstance(event, dict) else event,
        dynamodb=dynamodb,
        sns=sns,
        table=os.environ["TABLE_NAME"],
        topic_arn=os.environ["RESULTS_TOPIC_ARN"],
    )
