"""Sample workload: a function invoked every minute whose latency can be raised to provoke an insight."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from devops_blueprints.constructs.observability.observed_function import ObservedFunction

MAX_INJECTED_LATENCY_MS = 25_000
MAX_PROVISIONED_CONCURRENCY = 100


class AnomalousLambdaStack(cdk.Stack):
    """An EventBridge schedule invokes a traced function with Lambda Insights every minute.

    Deploy once healthy, then again with latency injected (``-c inject_latency_ms=5000`` in the sample
    app): DevOps Guru reports the change in duration as an anomaly and an insight.

    :param injected_latency_ms: milliseconds the function sleeps per invocation, 0..25000. Default: 0.
    :param provisioned_concurrency: provisioned concurrency on a ``live`` alias (0 = none). Default: 0.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        injected_latency_ms: int = 0,
        provisioned_concurrency: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        if not 0 <= injected_latency_ms <= MAX_INJECTED_LATENCY_MS:
            raise ValueError(
                f"injected_latency_ms must be from 0 to {MAX_INJECTED_LATENCY_MS}, got {injected_latency_ms}"
            )
        if not 0 <= provisioned_concurrency <= MAX_PROVISIONED_CONCURRENCY:
            raise ValueError(
                f"provisioned_concurrency must be from 0 to {MAX_PROVISIONED_CONCURRENCY}, "
                f"got {provisioned_concurrency}"
            )
        self.function = ObservedFunction(
            self,
            "Function",
            handler="anomalous_function",
            environment={"INJECTED_LATENCY_MS": str(injected_latency_ms)},
            timeout=cdk.Duration.seconds(30),
            description="Invoked every minute; sleeps INJECTED_LATENCY_MS to provoke a DevOps Guru insight",
        )
        target: lambda_.IFunction = self.function.function
        self.alias: lambda_.Alias | None = None
        if provisioned_concurrency:
            self.alias = lambda_.Alias(
                self,
                "Live",
                alias_name="live",
                version=self.function.function.current_version,
                provisioned_concurrent_executions=provisioned_concurrency,
            )
            target = self.alias
        self.schedule = events.Rule(
            self,
            "EveryMinute",
            schedule=events.Schedule.rate(cdk.Duration.minutes(1)),
            targets=[targets.LambdaFunction(target, retry_attempts=0)],
        )
