"""The sample tenant component stack (deployed by each deployment pipeline's ``ComponentStage``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from devops_blueprints.assets import lambda_handler_dir
from devops_blueprints.constructs.key_policies import logs_key
from devops_blueprints.constructs.tenants.feature_flags import FlagEnvironment, TenantFeatureFlags
from devops_blueprints.feature_flags.model import FeatureFlag, NumberAttribute, StringAttribute
from devops_blueprints.feature_flags.names import FlagNames

#: The sample component's flags (``lambda_src/tenant_component_api/feature_flag_reader.py`` reads them; its safe defaults are
#: these flags off). ``maintenance``: PUT answers 503 with ``message``; ``item-size-limit``: PUT refuses values
#: over ``kib`` KiB with 413.
COMPONENT_FLAGS = (
    FeatureFlag(
        key="maintenance",
        description="Refuse writes (503) with a message, e.g. during a data migration",
        attributes={"message": StringAttribute(pattern="^.{1,200}$", description="Shown to API callers")},
        values={"message": "Writes are paused for maintenance"},
    ),
    FeatureFlag(
        key="item-size-limit",
        description="A smaller item size limit than the API's 300 KiB",
        attributes={"kib": NumberAttribute(minimum=1, maximum=300, required=True)},
        values={"kib": 300},
    ),
)

_ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "caller": "$context.identity.caller",
    "requestTime": "$context.requestTime",
    "routeKey": "$context.routeKey",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "integrationError": "$context.integrationErrorMessage",
}


class TenantComponentStack(cdk.Stack):
    """HTTP API (IAM auth, access logs) -> Lambda (X-Ray) -> DynamoDB (customer key, PITR).

    :param feature_flags: flags the function reads through the AppConfig extension, in an application of this
        deployment with one environment (the deployment's id) rolled back by the function's error alarm; needs a
        concrete region. Default: no flags.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        deployment_id: str,
        deployment_type: str,
        feature_flags: Sequence[FeatureFlag] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        key = logs_key(self, "Encrypts the tenant component's data and logs")
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=key,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        function_logs = logs.LogGroup(
            self,
            "FunctionLogs",
            retention=logs.RetentionDays.ONE_MONTH,
            encryption_key=key,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        role = iam.Role(self, "FunctionRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        function_logs.grant_write(role)
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=lambda_.Runtime.PYTHON_3_14,
            handler="index.handler",
            code=lambda_.Code.from_asset(str(lambda_handler_dir("tenant_component_api"))),
            environment={
                "TABLE_NAME": self.table.table_name,
                "DEPLOYMENT_ID": deployment_id,
                "DEPLOYMENT_TYPE": deployment_type,
            },
            timeout=cdk.Duration.seconds(10),
            memory_size=256,
            tracing=lambda_.Tracing.ACTIVE,
            role=role,
            log_group=function_logs,
            description=f"Tenant component API of {deployment_type} deployment {deployment_id}",
        )
        self.table.grant_read_write_data(self.function)
        cdk.Validations.of(role).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level permissions",
            )
        )
        for action in ("kms:GenerateDataKey*", "kms:ReEncrypt*"):
            cdk.Validations.of(role).acknowledge(
                cdk.Acknowledgment(
                    id=f"AwsSolutions-IAM5[Action::{action}]",
                    reason="Table grant on the component's own key (the key ARN is the only resource)",
                )
            )

        self.api = apigw.HttpApi(
            self,
            "Api",
            description=f"Tenant component API ({deployment_type} {deployment_id})",
            default_authorizer=authorizers.HttpIamAuthorizer(),
            create_default_stage=False,
        )
        integration = integrations.HttpLambdaIntegration("Items", self.function)
        self.api.add_routes(
            path="/items/{key}", methods=[apigw.HttpMethod.GET, apigw.HttpMethod.PUT], integration=integration
        )
        access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            retention=logs.RetentionDays.ONE_YEAR,
            encryption_key=key,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        self.stage = apigw.HttpStage(
            self,
            "Stage",
            http_api=self.api,
            stage_name="$default",
            auto_deploy=True,
            access_log_settings=_AccessLogSettings(access_logs),
            throttle=apigw.ThrottleSettings(rate_limit=100, burst_limit=200),
        )
        cdk.CfnOutput(self, "ApiUrl", value=self.api.api_endpoint)

        self.feature_flags: TenantFeatureFlags | None = None
        if feature_flags is not None:
            # A flag rollout that makes the function fail rolls back: AppConfig watches this alarm while it deploys
            # and bakes (the alarm is in the environment's own account, as monitors must be).
            self.errors_alarm = cloudwatch.Alarm(
                self,
                "FunctionErrors",
                alarm_description=f"Errors of the {deployment_type} {deployment_id} component API; rolls back flags",
                metric=self.function.metric_errors(period=cdk.Duration.minutes(1), statistic="Sum"),
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            names = FlagNames(deployment_id)
            self.feature_flags = TenantFeatureFlags(
                self,
                "FeatureFlags",
                flags=feature_flags,
                environments=[FlagEnvironment(names.environment, alarms=[self.errors_alarm])],
                application_name=names.application,
                profile_name=names.profile,
                # The alarm is new (INSUFFICIENT_DATA would roll a deployment with the stack back): the first
                # deployment is `devops-blueprints flags deploy`; until then the function serves its defaults.
                initial_deployment=False,
            )
            self.feature_flags.add_reader(self.function, environment=names.environment)


@jsii.implements(apigw.IAccessLogSettings)
class _AccessLogSettings:
    """JSON access logs of an HTTP API stage into ``log_group``."""

    def __init__(self, log_group: logs.ILogGroup) -> None:
        self._destination = apigw.LogGroupLogDestination(log_group)

    @property
    def destination(self) -> apigw.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigateway.AccessLogFormat:
        return apigateway.AccessLogFormat.custom(json.dumps(_ACCESS_LOG_FORMAT))
