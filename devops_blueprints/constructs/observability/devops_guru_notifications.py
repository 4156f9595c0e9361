"""DevOps Guru notifications: a KMS-encrypted SNS topic wired to an account's notification channel."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_devopsguru as devopsguru
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from devops_blueprints.constructs.observability.boundary import warn_devops_guru_end_of_support
from devops_blueprints.constructs.observability.encrypted_topic import notification_topic

#: Severities a notification filter accepts (AWS::DevOpsGuru::NotificationChannel NotificationFilterConfig).
SEVERITIES: tuple[str, ...] = ("LOW", "MEDIUM", "HIGH")
#: Message types a notification filter accepts.
MESSAGE_TYPES: tuple[str, ...] = (
    "NEW_INSIGHT",
    "CLOSED_INSIGHT",
    "NEW_ASSOCIATION",
    "SEVERITY_UPGRADED",
    "NEW_RECOMMENDATION",
)

# DevOps Guru publishes with a regional service principal ("region-id.devops-guru.amazonaws.com" in
# https://docs.aws.amazon.com/devops-guru/latest/userguide/sns-required-permissions.html); the KMS page
# (https://docs.aws.amazon.com/devops-guru/latest/userguide/sns-kms-permissions.html) names the global one.
# Both are granted so the key works whichever principal the service presents.
_GLOBAL_PRINCIPAL = "devops-guru.amazonaws.com"


def _regional_principal() -> str:
    return f"{cdk.Aws.REGION}.devops-guru.amazonaws.com"


def _validated(values: Sequence[str] | None, allowed: tuple[str, ...], prop: str) -> list[str] | None:
    if values is None:
        return None
    if isinstance(values, str):
        raise ValueError(f"{prop} must be a list of strings, got the string {values!r}")
    result = []
    for value in values:
        if cdk.Token.is_unresolved(value):
            result.append(value)
            continue
        if value not in allowed:
            raise ValueError(f"{prop} must contain only {', '.join(allowed)}, got {value!r}")
        result.append(value)
    if not result:
        raise ValueError(f"{prop} must not be empty (omit it to receive the DevOps Guru defaults)")
    return result


class DevOpsGuruNotifications(Construct):
    """Account-level DevOps Guru notifications (one notification channel per topic).

    Creates, unless given: a customer-managed KMS key (rotation on) whose policy lets DevOps Guru use it,
    and a standard SNS topic encrypted with it that only accepts TLS requests and lets DevOps Guru publish
    only on behalf of this account's notification channels (``aws:SourceAccount``/``aws:SourceArn``).
    Then registers the topic as an ``AWS::DevOpsGuru::NotificationChannel`` with optional filters.

    :param topic: an existing standard topic to notify instead of creating one. Default: a new topic.
        Its policy and key are yours to manage (see the DevOps Guru permission pages cited in the source).
    :param encryption_key: an existing KMS key for the new topic. Default: a new key with rotation on.
        Only valid without ``topic``. A key defined in this app gets the DevOps Guru statement added.
    :param severities: notify only for these severities (``LOW``, ``MEDIUM``, ``HIGH``).
        Default: DevOps Guru's default filter (``HIGH`` and ``MEDIUM``).
    :param message_types: notify only for these message types (see ``MESSAGE_TYPES``). Default: all.
    :param email_addresses: email subscriptions to add to the topic. Default: none.
    :param log_anomaly_detection: also turn on the account's CloudWatch log anomaly detection
        integration (``AWS::DevOpsGuru::LogAnomalyDetectionIntegration``, one per account/region).
        Default: False.
    :param removal_policy: what happens to the key when the stack is deleted. Default: RETAIN.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        topic: sns.ITopic | None = None,
        encryption_key: kms.IKey | None = None,
        severities: Sequence[str] | None = None,
        message_types: Sequence[str] | None = None,
        email_addresses: Sequence[str] = (),
        log_anomaly_detection: bool = False,
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, construct_id)
        severity_filter = _validated(severities, SEVERITIES, "severities")
        message_type_filter = _validated(message_types, MESSAGE_TYPES, "message_types")
        warn_devops_guru_end_of_support(self)

        def grant(new_topic: sns.ITopic, key: kms.IKey) -> None:
            self._allow_devops_guru_to_use_key(key)
            self._allow_devops_guru_to_publish(new_topic)

        self.encryption_key: kms.IKey | None
        self.topic: sns.ITopic
        self.encryption_key, self.topic = notification_topic(
            self,
            topic=topic,
            encryption_key=encryption_key,
            email_addresses=email_addresses,
            display_name="DevOps Guru insights",
            key_description="Encrypts DevOps Guru notifications",
            removal_policy=removal_policy,
            grant=grant,
        )

        filters = None
        if severity_filter is not None or message_type_filter is not None:
            filters = devopsguru.CfnNotificationChannel.NotificationFilterConfigProperty(
                severities=severity_filter, message_types=message_type_filter
            )
        self.notification_channel = devopsguru.CfnNotificationChannel(
            self,
            "Channel",
            config=devopsguru.CfnNotificationChannel.NotificationChannelConfigProperty(
                sns=devopsguru.CfnNotificationChannel.SnsChannelConfigProperty(topic_arn=self.topic.topic_arn),
                filters=filters,
            ),
        )
        # The channel must not be created before the topic policy that lets DevOps Guru publish.
        policy = self.topic.node.try_find_child("Policy")
        if policy is not None:
            self.notification_channel.node.add_dependency(policy)

        self.log_anomaly_detection: devopsguru.CfnLogAnomalyDetectionIntegration | None = None
        if log_anomaly_detection:
            self.log_anomaly_detection = devopsguru.CfnLogAnomalyDetectionIntegration(self, "LogAnomalyDetection")

    @property
    def topic_arn(self) -> str:
        return self.topic.topic_arn

    @staticmethod
    def _allow_devops_guru_to_use_key(key: kms.IKey) -> None:
        # https://docs.aws.amazon.com/devops-guru/latest/userguide/sns-kms-permissions.html
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowDevOpsGuruToUseTheKey",
                principals=[
                    iam.ServicePrincipal(_GLOBAL_PRINCIPAL),
                    iam.ServicePrincipal(_regional_principal()),
                ],
                actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                resources=["*"],  # in a key policy "*" means this key
            )
        )

    @staticmethod
    def _allow_devops_guru_to_publish(topic: sns.ITopic) -> None:
        # https://docs.aws.amazon.com/devops-guru/latest/userguide/setting-up-notifications.html
        # ("Permissions added to your Amazon SNS topic"): publish only for this account's channels.
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowDevOpsGuruToPublish",
                principals=[
                    iam.ServicePrincipal(_regional_principal()),
                    iam.ServicePrincipal(_GLOBAL_PRINCIPAL),
                ],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID},
                    "ArnLike": {
                        "aws:SourceArn": (
                            f"arn:{cdk.Aws.PARTITION}:devops-guru:{cdk.Aws.REGION}:{cdk.Aws.ACCOUNT_ID}:channel/*"
                        )
                    },
                },
            )
        )
