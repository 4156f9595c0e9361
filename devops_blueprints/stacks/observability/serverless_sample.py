"""Sample workload from the DevOps Guru articles: SQS -> Lambda -> DynamoDB, results to SNS."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from devops_blueprints.constructs.observability.observed_function import ObservedFunction
from devops_blueprints.constructs.powertools import add_powertools


class ServerlessSampleStack(cdk.Stack):
    """Orders arrive on an SQS queue (dead-letter queue after 5 receives), a traced function with Lambda
    Insights stores each in a DynamoDB table and announces it on an SNS topic. Everything at rest is
    encrypted with one customer-managed key of the stack.

    :param removal_policy: for the table and the key. Default: DESTROY (a sample; use RETAIN for data).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.DESTROY,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.key = kms.Key(
            self, "Key", enable_key_rotation=True, removal_policy=removal_policy, description="Serverless sample data"
        )
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.key,
            enforce_ssl=True,
            retention_period=cdk.Duration.days(14),
        )
        self.queue = sqs.Queue(
            self,
            "Orders",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.key,
            enforce_ssl=True,
            visibility_timeout=cdk.Duration.seconds(180),
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.dead_letter_queue, max_receive_count=5),
        )
        # Table (not TableV2): TableV2 cannot render a customer-managed key in an environment-agnostic stack.
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=self.key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=removal_policy,
        )
        self.results_topic = sns.Topic(self, "Results", master_key=self.key, enforce_ssl=True)
        self.processor = ObservedFunction(
            self,
            "Processor",
            handler="serverless_sample",
            environment={"TABLE_NAME": self.table.table_name, "RESULTS_TOPIC_ARN": self.results_topic.topic_arn},
            description="Stores orders from SQS in DynamoDB and announces them on SNS",
        )
        add_powertools(self.processor.function, service="serverless-sample")
        self.processor.function.add_event_source(
            sources.SqsEventSource(self.queue, batch_size=10, report_batch_item_failures=True)
        )
        self.table.grant_write_data(self.processor.function)
        self.results_topic.grant_publish(self.processor.function)
        role = self.processor.function.role
        if role is None:
            raise TypeError("the processor function has no role")
        for action in ("kms:GenerateDataKey*", "kms:ReEncrypt*"):
            cdk.Validations.of(role).acknowledge(
                cdk.Acknowledgment(
                    id=f"AwsSolutions-IAM5[Action::{action}]",
                    reason="Action family granted by grant_write_data/grant_publish on this stack's own key only",
                )
            )
