"""Messaging and events: SQS queues, SNS topics, EventBridge rules."""

from __future__ import annotations

from typing import Any

from devops_blueprints._json_input import loads
from devops_blueprints.tf_import.errors import TfImportError
from devops_blueprints.tf_import.translators.base import Attrs, Translator

SQS_QUEUE = Translator(
    tf_types=("aws_sqs_queue",),
    cfn_type="AWS::SQS::Queue",
    identifier=lambda a: {"QueueUrl": a.first_of("url", "id", reason="the queue URL")},
    properties=lambda a: {"QueueName": a.req("name"), "FifoQueue": True if a.opt("fifo_queue") else None},
    label="SQS queue",
)

SNS_TOPIC = Translator(
    tf_types=("aws_sns_topic",),
    cfn_type="AWS::SNS::Topic",
    identifier=lambda a: {"TopicArn": a.first_of("arn", "id", reason="the topic ARN")},
    properties=lambda a: {"TopicName": a.req("name"), "FifoTopic": True if a.opt("fifo_topic") else None},
    label="SNS topic",
)


def _event_bus(attrs: Attrs) -> str | None:
    """The custom bus of a rule (name or ARN), ``None`` for the default bus."""
    bus = attrs.opt("event_bus_name", "default")
    return None if bus == "default" else str(bus)


def _rule_identifier(attrs: Attrs) -> dict[str, str]:
    # The schema's primaryIdentifier is Arn, whose resource part differs by bus:
    # rule/NAME on the default bus, rule/BUS/NAME on a custom bus.
    arn = str(attrs.req("arn", "the rule ARN"))
    name = attrs.req_str("name")
    bus = _event_bus(attrs)
    bus_name = bus.rsplit("/", 1)[-1] if bus else None
    expected = f":rule/{bus_name}/{name}" if bus_name else f":rule/{name}"
    if not arn.endswith(expected):
        raise TfImportError(
            f"{attrs.address}: attribute 'arn' is {arn!r}, which does not end with {expected!r} "
            f"for a rule on the {'custom bus ' + repr(bus_name) if bus_name else 'default bus'}"
        )
    return {"Arn": arn}


def _rule_properties(attrs: Attrs) -> dict[str, Any]:
    pattern = attrs.opt("event_pattern")
    schedule = attrs.opt("schedule_expression")
    if pattern is None and schedule is None:
        raise TfImportError(
            f"{attrs.address}: neither 'event_pattern' nor 'schedule_expression' is set; "
            "CloudFormation needs one of them to import AWS::Events::Rule"
        )
    state = attrs.opt("state")
    if state is None and attrs.opt("is_enabled") is not None:  # provider < 5.24
        state = "ENABLED" if attrs.opt("is_enabled") else "DISABLED"
    return {
        "Name": attrs.req("name"),
        "EventBusName": _event_bus(attrs),
        "EventPattern": loads(pattern, f"{attrs.address} event_pattern") if isinstance(pattern, str) else pattern,
        "ScheduleExpression": schedule,
        "State": state,
        "Description": attrs.opt("description"),
    }


EVENT_RULE = Translator(
    tf_types=("aws_cloudwatch_event_rule",),
    cfn_type="AWS::Events::Rule",
    identifier=_rule_identifier,
    properties=_rule_properties,
    label="EventBridge rule (default or custom bus)",
)
