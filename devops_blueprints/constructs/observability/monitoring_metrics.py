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
    return _definitions()[(factory, method)]


@functools.cache
def _definitions() -> dict[tuple[str, str], tuple[str, str]]:
    from devops_blueprints.constructs.observability.cloudwatch_coverage import monitoring_constructs_methods

    return _ask(monitoring_constructs_methods())


def _ask(wanted: frozenset[tuple[str, str]]) -> dict[tuple[str, str], tuple[str, str]]:
    import aws_cdk as cdk
    import cdk_monitoring_constructs as monitoring

    stand_ins = cdk.App()
    stack = cdk.Stack(stand_ins, "StandIns")
    metric_factory = monitoring.MetricFactory(stack)
    factories: dict[str, Any] = {}
    definitions = {}
    for factory_name, method in sorted(wanted):
        factory = factories.get(factory_name)
        if factory is None:
            scope = cdk.Stack(stand_ins, f"StandIn{factory_name}")
            factory = factories[factory_name] = getattr(monitoring, factory_name)(
                metric_factory, **_FACTORIES[factory_name](scope)
            )
        metric = getattr(factory, method)()
        using = getattr(metric, "using_metrics", None)
        if using is not None and len(using) == 1:
            # A gap-filling expression over one metric (e.g. FILL(readThrottles, 0)): the metric is inside.
            metric = next(iter(using.values()))
        name, statistic = getattr(metric, "metric_name", None), getattr(metric, "statistic", None)
        if not isinstance(name, str) or not isinstance(statistic, str):
            raise TypeError(f"cdk-monitoring-constructs {factory_name}.{method}() is not a plain metric: {metric!r}")
        definitions[(factory_name, method)] = (name, statistic)
    return definitions
