"""Helpers for the tests of handlers that use Powertools: a Lambda context, their JSON log lines and their
embedded-metric-format (EMF) records. Import them as ``from tests.support.powertools import ...``."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class LambdaContext:
    """The attributes of the Lambda context object that ``Logger.inject_lambda_context`` reads."""

    function_name: str = "test-function"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    aws_request_id: str = "request-1"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@dataclass
class CapturedLogs:
    buffer: io.StringIO = field(default_factory=io.StringIO)

    def records(self) -> list[dict[str, Any]]:
        """Every JSON log line written so far, parsed (split on "\\n" only: a value may hold U+2028)."""
        return [json.loads(line) for line in self.buffer.getvalue().split("\n") if line.strip()]

    def messages(self) -> list[str]:
        return [str(record["message"]) for record in self.records()]


@contextmanager
def captured_logs(logger: Any) -> Iterator[CapturedLogs]:
    """Redirect a Powertools ``Logger``'s handler (bound to the ``sys.stdout`` of import time) to a buffer."""
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    captured = CapturedLogs()
    previous = handler.setStream(captured.buffer)
    try:
        yield captured
    finally:
        handler.setStream(previous)


def emf_records(stdout: str) -> list[dict[str, Any]]:
    """The EMF records among printed lines (Powertools ``Metrics`` prints one JSON object per flush)."""
    records = []
    for line in stdout.split("\n"):
        if line.startswith("{"):
            record = json.loads(line)
            if "_aws" in record:
                records.append(record)
    return records


def emitted_metrics(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{metric name: {"namespace", "unit", "dimensions", "value"}}`` of one EMF record, the way CloudWatch
    reads it: dimensions with their values, and a value given as a number or as a one-element list."""
    metrics: dict[str, dict[str, Any]] = {}
    for directive in record["_aws"]["CloudWatchMetrics"]:
        dimensions = [{name: record[name] for name in dimension_set} for dimension_set in directive["Dimensions"]]
        for metric in directive["Metrics"]:
            value = record[metric["Name"]]
            if isinstance(value, list) and len(value) == 1:
                value = value[0]
            metrics[metric["Name"]] = {
                "namespace": directive["Namespace"],
                "unit": metric.get("Unit"),
                "dimensions": dimensions,
                "value": value,
            }
    return metrics
