"""Metric definitions taken from cdk-monitoring-constructs (PyPI ``cdk-monitoring-constructs``): the
CloudWatch engine builds on its per-service metric factories for the metric name and statistic of every
alarm where it has one, and writes by hand only what it lacks (see ``cloudwatch_coverage``).

The factories work on L2 objects that their users wire by hand; the engine finds L1 resources of any origin
with an aspect. So the factories are asked once per process, about stand-in resources in a detached app, and
only the metric name and statistic are kept: the engine then sets each resource's own dimensions. Loading the
library's jsii assembly costs about a second, so it happens lazily, on the first application the engine
builds, never on import.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

#: (factory class, metric method) -> what to pass the factory besides the MetricFactory, given a scope.
_ARN = "arn:aws:{service}:us-east-1:111111111111:{resource}"


def _lambda(scope: Any) -> dict[str, Any]:
    from aws_cdk import aws_lambda as lambda_

    return {"lambda_function": lambda_.Function.from_function_name(scope, "Function", "stand-in")}


def _sqs(scope: Any) -> dict[str, Any]:
    from aws_cdk import aws_sqs as sqs

    return {"queue": sqs.Queue.from_queue_arn(scope, "Queue", _ARN.format(service="sqs", resource="stand-in"))}


def _dynamodb(scope: Any) -> dict[str, Any]:
    from aws_cdk import aws_dynamodb as dynamodb

    return {"table": dynamodb.Table.from_table_name(scope, "Table", "stand-in")}


def _sns(scope: Any) -> dict[str, Any]:
    from aws_cdk import aws_sns as sns

    return {"topic": sns.Topic.from_topic_arn(scope, "Topic", _ARN.format(service="sns", resource="stand-in"))}


def _rest_api(scope: Any) -> dict[str, Any]:
    from aws_cdk import aws_apigateway as apigateway

    return {"api": apigateway.RestApi.from_rest_api_id(scope, "RestApi", "standin")}


def _http_api(scope: Any) -> dict[str, Any]:
    from aws_cdk import aws_apigatewayv2 as apigatewayv2

    return {"api": apigatewayv2.HttpApi.from_http_api_attributes(scope, "HttpApi", http_api_id="standin")}


def _state_machine(scope: Any) -> dict[str, Any]:
    from aws_cdk import aws_stepfunctions as sfn

    arn = _ARN.format(service="states", resource="stateMachine:stand-in")
    return {"state_machine": sfn.StateMachine.from_state_machine_arn(scope, "StateMachine", arn)}


def _kinesis(scope: Any) -> dict[str, Any]:
    return {"stream_name": "stand-in"}


_FACTORIES: dict[str, Callable[[Any], dict[str, Any]]] = {
    "LambdaFunctionMetricFactory": _lambda,
    "SqsQueueMetricFactory": _sqs,
    "DynamoTableMetricFactory": _dynamodb,
    "SnsTopicMetricFactory": _sns,
    "ApiGatewayMetricFactory": _rest_api,
    "ApiGatewayV2HttpApiMetricFactory": _http_api,
    "StepFunctionMetricFactory": _state_machine,
    "KinesisDataStreamMetricFactory": _kinesis,
}


@functools.cache
def metric_definition(factory: str, method: str) -> tuple[str, str]:
    """``(metric name, statistic)`` of ``<factory>.<method>()`` in cdk-monitoring-constructs."""
    metric = getattr(_factory(factory), method)()
    using = getattr(metric, "using_metrics", None)
    if using is not None and len(using) == 1:
        # An expression over one metric (FILL(readThrottles, 0), a per-second rate): the alarm takes the metric.
        metric = next(iter(using.values()))
    name, statistic = getattr(metric, "metric_name", None), getattr(metric, "statistic", None)
    if not isinstance(name, str) or not isinstance(statistic, str):
        raise TypeError(f"cdk-monitoring-constructs {factory}.{method}() is not a plain metric: {metric!r}")
    return name, statistic


@functools.cache
def _factory(name: str) -> Any:
    """One metric factory of the library, about a stand-in resource in a detached app."""
    import aws_cdk as cdk

    stand_ins = _metric_factory()
    return getattr(stand_ins.monitoring, name)(
        stand_ins.factory, **_FACTORIES[name](cdk.Stack(stand_ins.app, f"StandIn{name}"))
    )


@dataclasses.dataclass(frozen=True)
class _StandIns:
    monitoring: Any  # the cdk_monitoring_constructs module, imported on first use
    app: Any
    factory: Any


@functools.cache
def _metric_factory() -> _StandIns:
    """The library (loaded here, on first use), a detached app and the MetricFactory every factory shares."""
    import aws_cdk as cdk
    import cdk_monitoring_constructs as monitoring

    app = cdk.App()
    return _StandIns(monitoring, app, monitoring.MetricFactory(cdk.Stack(app, "StandIns")))
