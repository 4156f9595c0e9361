"""What the CloudWatch engine watches: resource type -> metrics -> alarm kind.

Each :class:`AlarmSpec` is one alarm per resource of the type. ``anomaly`` alarms use a CloudWatch
anomaly-detection band (the model is trained from the metric's own history, so no threshold to guess) on the
metrics that drift — latency, duration, message and iterator age, CPU and memory. ``static`` alarms hold
where a threshold is the truth: an error rate, throttles, failed executions, a dead-letter queue that holds
anything. Metric names, statistics and dimensions are the services' own, from their CloudWatch metrics pages
(cited per type below).

Everything here is plain data, so the engine can build alarms as L1 ``AWS::CloudWatch::Alarm`` resources
(cheap at synth: one construct per alarm) and a test can enumerate the table.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, Literal

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch

AlarmKind = Literal["anomaly", "static"]

#: Comparison operators a static alarm may use (AWS::CloudWatch::Alarm ComparisonOperator).
STATIC_OPERATORS = frozenset(
    {"GreaterThanOrEqualToThreshold", "GreaterThanThreshold", "LessThanThreshold", "LessThanOrEqualToThreshold"}
)


@dataclasses.dataclass(frozen=True)
class MetricRef:
    """One metric of the resource: ``id`` names it inside a metric-math expression.

    Either ``monitoring`` names the cdk-monitoring-constructs metric factory and method the metric name and
    statistic come from, or ``metric_name``/``statistic`` are written here (where the library has none).
    """

    id: str
    metric_name: str | None = None
    statistic: str | None = None
    monitoring: tuple[str, str] | None = None

    def __post_init__(self) -> None:
        if (self.monitoring is None) == (self.metric_name is None or self.statistic is None):
            raise ValueError(f"metric {self.id}: give either monitoring or metric_name and statistic")

    def definition(self) -> tuple[str, str]:
        """``(metric name, statistic)``."""
        if self.monitoring is not None:
            from devops_blueprints.constructs.observability.monitoring_metrics import metric_definition

            return metric_definition(*self.monitoring)
        if self.metric_name is None or self.statistic is None:  # excluded by __post_init__
            raise ValueError(f"metric {self.id} has no definition")
        return self.metric_name, self.statistic


@dataclasses.dataclass(frozen=True)
class AlarmSpec:
    """One alarm per resource of a type.

    ``metrics`` is one metric, or several combined by ``expression`` (metric math over their ids). For
    ``static`` alarms ``threshold``/``operator`` apply; ``anomaly`` alarms alarm above the band of
    ``band_width`` standard deviations (both sides when ``both_sides``).
    """

    name: str
    kind: AlarmKind
    metrics: tuple[MetricRef, ...]
    description: str
    expression: str | None = None
    threshold: float | None = None
    operator: str = "GreaterThanThreshold"
    band_width: float = 2.0
    both_sides: bool = False
    period_seconds: int = 300
    evaluation_periods: int = 3
    datapoints_to_alarm: int = 2

    def __post_init__(self) -> None:
        if self.kind == "static" and self.threshold is None:
            raise ValueError(f"static alarm {self.name} needs a threshold")
        if len(self.metrics) > 1 and self.expression is None:
            raise ValueError(f"alarm {self.name} combines metrics and needs an expression")

    @property
    def metric_count(self) -> int:
        """Metrics CloudWatch bills for this alarm (an anomaly band counts as three)."""
        return len(self.metrics) * (3 if self.kind == "anomaly" else 1)

    def with_threshold(self, threshold: float) -> AlarmSpec:
        if self.kind != "static":
            raise ValueError(f"alarm {self.name} is an anomaly-detection alarm and takes no threshold")
        return dataclasses.replace(self, threshold=threshold)


def billed_metric_count(alarm: cloudwatch.CfnAlarm) -> int:
    """Metrics CloudWatch bills for an alarm made elsewhere (``CloudWatchEngine.add_alarms``), by the rule of
    :attr:`AlarmSpec.metric_count`: one per metric the alarm reads (a single-metric alarm: one; a metric-math
    alarm: each ``MetricStat`` of its ``Metrics``), three times that for an anomaly-detection alarm (its
    ``ThresholdMetricId`` names the band). An alarm whose metrics are known only at deploy time counts one."""
    queries = cdk.Stack.of(alarm).resolve(alarm.metrics)
    queries = queries if isinstance(queries, list) else []
    read = sum(1 for query in queries if isinstance(query, Mapping) and "metricStat" in query)
    return max(read, 1) * (3 if alarm.threshold_metric_id is not None else 1)


#: Reads the dimensions of one resource from its L1 construct: name -> value (tokens welcome).
DimensionReader = Callable[[cdk.CfnResource], Mapping[str, str]]


@dataclasses.dataclass(frozen=True)
class TypeCoverage:
    """The alarms of one CloudFormation resource type."""

    resource_type: str
    namespace: str
    dimensions: DimensionReader
    alarms: tuple[AlarmSpec, ...]
    #: The dimensions from a template's literal properties (a resource deployed in another stack, addressed
    #: by its physical name), or None when the properties do not name it.
    literal: Callable[[Mapping[str, Any]], Mapping[str, Any] | None] = lambda properties: None


def _ref(resource: cdk.CfnResource) -> str:
    return resource.ref


def _att(name: str) -> Callable[[cdk.CfnResource], str]:
    return lambda resource: resource.get_att(name).to_string()


def _single(dimension: str, reader: Callable[[cdk.CfnResource], str]) -> DimensionReader:
    return lambda resource: {dimension: reader(resource)}


def _ecs_service_dimensions(resource: cdk.CfnResource) -> Mapping[str, str]:
    cluster: Any = getattr(resource, "cluster", None)
    if cluster is None:
        cluster = "default"  # a service without Cluster runs in the account's default cluster
    elif not cdk.Token.is_unresolved(cluster) and "/" in cluster:
        cluster = cluster.rsplit("/", 1)[-1]  # a literal cluster ARN
    # A token is taken as the cluster's Ref, which is its name (what aws-cdk-lib's ecs.Cluster passes).
    return {"ClusterName": cluster, "ServiceName": resource.get_att("Name").to_string()}


def _event_rule_dimensions(resource: cdk.CfnResource) -> Mapping[str, str]:
    # Ref of a rule is its name on the default bus and "bus|rule" on a custom bus; custom-bus metrics carry
    # EventBusName as well (AWS::Events::Rule return values; EventBridge metrics page).
    bus: Any = getattr(resource, "event_bus_name", None)
    if bus is None or bus == "default":
        return {"RuleName": resource.ref}
    return {"EventBusName": bus, "RuleName": cdk.Fn.select(1, cdk.Fn.split("|", resource.ref))}


def _named(dimension: str, prop: str) -> Callable[[Mapping[str, Any]], Mapping[str, Any] | None]:
    def read(properties: Mapping[str, Any]) -> Mapping[str, Any] | None:
        value = properties.get(prop)
        return {dimension: value} if isinstance(value, str) and value else None

    return read


def _literal_ecs_service(properties: Mapping[str, Any]) -> Mapping[str, Any] | None:
    cluster, service = properties.get("Cluster", "default"), properties.get("ServiceName")
    if not isinstance(cluster, str) or not isinstance(service, str) or not service:
        return None
    return {"ClusterName": cluster.rsplit("/", 1)[-1], "ServiceName": service}


def _literal_state_machine(properties: Mapping[str, Any]) -> Mapping[str, Any] | None:
    name = properties.get("StateMachineName")
    if not isinstance(name, str) or not name:
        return None
    return {
        "StateMachineArn": cdk.Fn.sub(
            f"arn:${{AWS::Partition}}:states:${{AWS::Region}}:${{AWS::AccountId}}:stateMachine:{name}"
        )
    }


def _literal_rule(properties: Mapping[str, Any]) -> Mapping[str, Any] | None:
    name, bus = properties.get("Name"), properties.get("EventBusName", "default")
    if not isinstance(name, str) or not name or not isinstance(bus, str):
        return None
    return {"RuleName": name} if bus == "default" else {"EventBusName": bus.rsplit("/", 1)[-1], "RuleName": name}


def _m(metric_id: str, metric_name: str, statistic: str) -> MetricRef:
    """A metric written by hand (cdk-monitoring-constructs has no factory method for it)."""
    return MetricRef(metric_id, metric_name, statistic)


def _cmc(metric_id: str, factory: str, method: str) -> MetricRef:
    """A metric whose name and statistic come from cdk-monitoring-constructs' ``factory.method()``."""
    return MetricRef(metric_id, monitoring=(factory, method))


def _error_rate(name: str, factory: str, errors: str, total: str, threshold: float, description: str) -> AlarmSpec:
    """``100 * errors / total`` in percent, 0 when nothing happened."""
    return AlarmSpec(
        name=name,
        kind="static",
        metrics=(_cmc("errors", factory, errors), _cmc("total", factory, total)),
        expression="IF(total > 0, 100 * errors / total, 0)",
        threshold=threshold,
        description=description,
    )


def _above_zero(name: str, metric: MetricRef, description: str) -> AlarmSpec:
    return AlarmSpec(
        name=name,
        kind="static",
        metrics=(metric,),
        threshold=0,
        description=description,
        evaluation_periods=1,
        datapoints_to_alarm=1,
    )


def _drift(name: str, metric: MetricRef, description: str) -> AlarmSpec:
    return AlarmSpec(name=name, kind="anomaly", metrics=(metric,), description=description)


_LAMBDA = "LambdaFunctionMetricFactory"
_SQS = "SqsQueueMetricFactory"
_DYNAMODB = "DynamoTableMetricFactory"
_REST = "ApiGatewayMetricFactory"
_HTTP = "ApiGatewayV2HttpApiMetricFactory"
_STATES = "StepFunctionMetricFactory"
_KINESIS = "KinesisDataStreamMetricFactory"
_5XX = "More than 1% of requests returned 5xx"
_P90_LATENCY = "Latency (p90) left its usual band"

#: The engine's coverage, by CloudFormation type. Metric names and statistics come from cdk-monitoring-
#: constructs' metric factories (``_cmc``) where it has them; written by hand (``_m``): ECS service CPU and
#: memory, EventBridge FailedInvocations (the library has no factory method for them). Metric pages:
#: Lambda https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html
#: SQS https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html
#: DynamoDB https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/metrics-dimensions.html
#: SNS https://docs.aws.amazon.com/sns/latest/dg/sns-monitoring-using-cloudwatch.html
#: API Gateway REST https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-metrics-and-dimensions.html
#: API Gateway HTTP https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-metrics.html
#: ECS https://docs.aws.amazon.com/AmazonECS/latest/developerguide/available-metrics.html
#: Step Functions https://docs.aws.amazon.com/step-functions/latest/dg/procedure-cw-metrics.html
#: Kinesis https://docs.aws.amazon.com/streams/latest/dev/monitoring-with-cloudwatch.html
#: EventBridge https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-monitoring.html
COVERAGE: dict[str, TypeCoverage] = {
    coverage.resource_type: coverage
    for coverage in (
        TypeCoverage(
            "AWS::Lambda::Function",
            "AWS/Lambda",
            _single("FunctionName", _ref),
            (
                _error_rate(
                    "ErrorRate",
                    _LAMBDA,
                    "metric_fault_count",
                    "metric_invocation_count",
                    5,
                    "More than 5% of invocations failed",
                ),
                _above_zero("Throttles", _cmc("m", _LAMBDA, "metric_throttles_count"), "Invocations were throttled"),
                _drift(
                    "Duration", _cmc("m", _LAMBDA, "metric_latency_p90_in_millis"), "Duration (p90) left its usual band"
                ),
            ),
            literal=_named("FunctionName", "FunctionName"),
        ),
        TypeCoverage(
            "AWS::SQS::Queue",
            "AWS/SQS",
            _single("QueueName", _att("QueueName")),
            (
                _drift(
                    "OldestMessageAge",
                    _cmc("m", _SQS, "metric_approximate_age_of_oldest_message_in_seconds"),
                    "Messages wait longer than usual",
                ),
            ),
            literal=_named("QueueName", "QueueName"),
        ),
        TypeCoverage(
            "AWS::DynamoDB::Table",
            "AWS/DynamoDB",
            _single("TableName", _ref),
            (
                AlarmSpec(
                    name="Throttles",
                    kind="static",
                    metrics=(
                        _cmc("reads", _DYNAMODB, "metric_throttled_read_request_count"),
                        _cmc("writes", _DYNAMODB, "metric_throttled_write_request_count"),
                    ),
                    expression="FILL(reads, 0) + FILL(writes, 0)",
                    threshold=0,
                    evaluation_periods=1,
                    datapoints_to_alarm=1,
                    description="Reads or writes were throttled",
                ),
                _drift(
                    "ConsumedWrites",
                    _cmc("m", _DYNAMODB, "metric_consumed_write_capacity_units"),
                    "Write load left its usual band",
                ),
            ),
            literal=_named("TableName", "TableName"),
        ),
        TypeCoverage(
            "AWS::SNS::Topic",
            "AWS/SNS",
            _single("TopicName", _att("TopicName")),
            (
                _above_zero(
                    "FailedNotifications",
                    _cmc("m", "SnsTopicMetricFactory", "metric_number_of_notifications_failed"),
                    "Deliveries failed",
                ),
            ),
            literal=_named("TopicName", "TopicName"),
        ),
        TypeCoverage(
            "AWS::ApiGateway::RestApi",
            "AWS/ApiGateway",
            _single("ApiName", lambda resource: getattr(resource, "name", None) or resource.ref),
            (
                _error_rate("5xxRate", _REST, "metric5_xx_fault_count", "metric_invocation_count", 1, _5XX),
                _drift("Latency", _cmc("m", _REST, "metric_latency_p90_in_millis"), _P90_LATENCY),
            ),
            literal=_named("ApiName", "Name"),
        ),
        TypeCoverage(
            "AWS::ApiGatewayV2::Api",
            "AWS/ApiGateway",
            _single("ApiId", _ref),
            (
                _error_rate("5xxRate", _HTTP, "metric5xx_count", "metric_invocation_count", 1, _5XX),
                _drift("Latency", _cmc("m", _HTTP, "metric_latency_p90_in_millis"), _P90_LATENCY),
            ),
        ),
        TypeCoverage(
            "AWS::ECS::Service",
            "AWS/ECS",
            _ecs_service_dimensions,
            (
                _drift("Cpu", _m("m", "CPUUtilization", "Average"), "CPU utilization left its usual band"),
                _drift("Memory", _m("m", "MemoryUtilization", "Average"), "Memory utilization left its usual band"),
            ),
            literal=_literal_ecs_service,
        ),
        TypeCoverage(
            "AWS::StepFunctions::StateMachine",
            "AWS/States",
            _single("StateMachineArn", _ref),
            (
                _above_zero("FailedExecutions", _cmc("m", _STATES, "metric_executions_failed"), "Executions failed"),
                _above_zero(
                    "TimedOutExecutions", _cmc("m", _STATES, "metric_executions_timed_out"), "Executions timed out"
                ),
                _drift(
                    "ExecutionTime",
                    _cmc("m", _STATES, "metric_execution_time_p90_in_millis"),
                    "Execution time (p90) left its usual band",
                ),
            ),
            literal=_literal_state_machine,
        ),
        TypeCoverage(
            "AWS::Kinesis::Stream",
            "AWS/Kinesis",
            _single("StreamName", _ref),
            (
                _drift(
                    "IteratorAge",
                    _cmc("m", _KINESIS, "metric_get_records_iterator_age_max_ms"),
                    "Consumers fall behind",
                ),
                _above_zero(
                    "WriteThrottles",
                    _cmc("m", _KINESIS, "metric_write_provisioned_throughput_exceeded"),
                    "Writes were throttled",
                ),
            ),
            literal=_named("StreamName", "Name"),
        ),
        TypeCoverage(
            "AWS::Events::Rule",
            "AWS/Events",
            _event_rule_dimensions,
            (_above_zero("FailedInvocations", _m("m", "FailedInvocations", "Sum"), "Targets could not be invoked"),),
            literal=_literal_rule,
        ),
    )
}

#: Alarms added to queues that another queue names as its dead-letter queue.
DEAD_LETTER_ALARM = _above_zero(
    "DeadLetters",
    _cmc("m", _SQS, "metric_approximate_visible_message_count"),
    "Messages reached the dead-letter queue",
)

#: Types with no runtime health of their own to watch: configuration, permissions, wiring, or parts of a
#: covered resource (an API's stages and methods, a function's permissions and event source mappings).
#: Log groups are covered by the Logs anomaly detector, alarms and dashboards are the engine's own output.
PASSIVE_TYPE_PREFIXES: tuple[str, ...] = (
    "AWS::IAM::",
    "AWS::KMS::",
    "AWS::CloudWatch::",
    "AWS::Logs::",
    "AWS::CDK::",
    "AWS::CloudFormation::",
    "AWS::SSM::Parameter",
    "AWS::ApiGateway::",
    "AWS::ApiGatewayV2::",
    "AWS::AppConfig::",
    "Custom::",
)
PASSIVE_TYPES: frozenset[str] = frozenset(
    {
        "AWS::Lambda::Permission",
        "AWS::Lambda::EventSourceMapping",
        "AWS::Lambda::LayerVersion",
        "AWS::Lambda::Version",
        "AWS::Lambda::Alias",
        "AWS::Lambda::EventInvokeConfig",
        "AWS::SNS::Subscription",
        "AWS::SNS::TopicPolicy",
        "AWS::SQS::QueuePolicy",
        "AWS::S3::BucketPolicy",
        "AWS::ECS::TaskDefinition",
        "AWS::ECS::Cluster",
        "AWS::ECS::ClusterCapacityProviderAssociations",
        "AWS::EC2::VPC",
        "AWS::EC2::Subnet",
        "AWS::EC2::RouteTable",
        "AWS::EC2::Route",
        "AWS::EC2::SubnetRouteTableAssociation",
        "AWS::EC2::InternetGateway",
        "AWS::EC2::VPCGatewayAttachment",
        "AWS::EC2::SecurityGroup",
        "AWS::EC2::SecurityGroupIngress",
        "AWS::EC2::SecurityGroupEgress",
        "AWS::EC2::EIP",
        "AWS::EC2::FlowLog",
        "AWS::EC2::LaunchTemplate",
        "AWS::EC2::VPCEndpoint",
        "AWS::Events::EventBus",
        "AWS::Events::EventBusPolicy",
        "AWS::DevOpsGuru::ResourceCollection",
        "AWS::DevOpsGuru::NotificationChannel",
        "AWS::DevOpsGuru::LogAnomalyDetectionIntegration",
        "AWS::DevOpsAgent::AgentSpace",
        "AWS::DevOpsAgent::Association",
        "AWS::AIOps::InvestigationGroup",
        "AWS::Batch::JobDefinition",
        "AWS::Batch::SchedulingPolicy",
        "AWS::Organizations::Policy",
        "AWS::Organizations::OrganizationalUnit",
        "AWS::SecretsManager::Secret",
    }
)


def is_passive(resource_type: str) -> bool:
    """A type with nothing of its own to watch (checked after :data:`COVERAGE`)."""
    return resource_type in PASSIVE_TYPES or resource_type.startswith(PASSIVE_TYPE_PREFIXES)
