"""A Python Lambda function set up for DevOps Guru to analyse: X-Ray tracing, Lambda Insights, logs."""

from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from devops_blueprints.assets import lambda_handler_dir

#: The runtime of every function of this library (the newest Python runtime aws-cdk-lib knows).
PYTHON_RUNTIME = lambda_.Runtime.PYTHON_3_14
#: The Lambda Insights extension version added to observed functions.
LAMBDA_INSIGHTS_VERSION = lambda_.LambdaInsightsVersion.VERSION_1_0_498_0


class ObservedFunction(Construct):
    """A Python function from ``lambda_src/<handler>/index.py`` with active X-Ray tracing, the CloudWatch
    Lambda Insights extension and a log group of its own.

    :param handler: the folder under ``lambda_src/`` that holds ``index.py`` with ``handler(event, context)``.
    :param environment: environment variables. Default: none.
    :param timeout: Default: 30 seconds.
    :param memory_size: MiB. Default: 256.
    :param log_retention: Default: one month.
    :param reserved_concurrent_executions: Default: unreserved.
    :param description: Default: none.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        handler: str,
        environment: Mapping[str, str] | None = None,
        timeout: cdk.Duration | None = None,
        memory_size: int = 256,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        reserved_concurrent_executions: int | None = None,
        description: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if not 128 <= memory_size <= 10240:
            raise ValueError(f"memory_size must be between 128 and 10240 MiB, got {memory_size}")
        self.log_group = logs.LogGroup(self, "Logs", retention=log_retention, removal_policy=cdk.RemovalPolicy.DESTROY)
        self.function = lambda_.Function(
            self,
            "Resource",
            runtime=PYTHON_RUNTIME,
            handler="index.handler",
            code=lambda_.Code.from_asset(str(lambda_handler_dir(handler))),
            environment=dict(environment or {}),
            timeout=timeout or cdk.Duration.seconds(30),
            memory_size=memory_size,
            tracing=lambda_.Tracing.ACTIVE,
            insights_version=LAMBDA_INSIGHTS_VERSION,
            log_group=self.log_group,
            reserved_concurrent_executions=reserved_concurrent_executions,
            description=description,
        )
        role = self.function.role
        if role is not None:
            # Lambda's own basic-execution and Insights managed policies: AWS maintains them for exactly
            # this purpose (logs of this function, the Insights extension's metrics).
            cdk.Validations.of(role).acknowledge(
                cdk.Acknowledgment(
                    id="AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
                    reason="AWS-managed least-privilege policy for the function's own log delivery",
                ),
                cdk.Acknowledgment(
                    id="AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/CloudWatchLambdaInsightsExecutionRolePolicy]",
                    reason="AWS-managed policy that the Lambda Insights extension requires",
                ),
                cdk.Acknowledgment(
                    id="AwsSolutions-IAM5[Resource::*]",
                    reason="X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level permissions",
                ),
            )

    @property
    def function_name(self) -> str:
        return self.function.function_name

    @property
    def function_arn(self) -> str:
        return self.function.function_arn
