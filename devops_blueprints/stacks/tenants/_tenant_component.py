"""The sample tenant component stack (deployed by each deployment pipeline's ``ComponentStage``)."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from devops_blueprints.assets import lambda_handler_dir
from devops_blueprints.constructs.key_policies import logs_key

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
    """HTTP API (IAM auth, access logs) -> Lambda (X-Ray) -> DynamoDB (customer key, PITR)."""

    def __init__(
        self, scope: Construct, construct_id: str, *, deployment_id: str, deployment_type: str, **kwargs: Any
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
