"""A CloudWatch investigation group (``AWS::AIOps::InvestigationGroup``) that CloudWatch alarms open investigations in.

How an alarm starts an investigation (CloudWatch user guide, "Configure an alarm to create investigations",
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Investigations-configure-alarms.html): the
alarm's ``AlarmActions`` holds the investigation group's ARN,
``arn:aws:aiops:REGION:ACCOUNT:investigation-group/ID``, optionally followed by ``#DEDUPE_STRING=VALUE`` so
that alarms with the same string add events to one investigation instead of opening one each. The group needs
a resource policy that lets the CloudWatch alarms service principal ``aiops.alarms.cloudwatch.amazonaws.com``
call ``aiops:CreateInvestigation`` and ``aiops:CreateInvestigationEvent`` for this account's alarms
(PutInvestigationGroupPolicy, https://docs.aws.amazon.com/cloudwatchinvestigations/latest/APIReference/
API_PutInvestigationGroupPolicy.html; in CloudFormation the ``InvestigationGroupPolicy`` property).

Encryption with a customer managed key, and the statements its key policy needs for the AI Operations service
and for CloudWatch alarms: "Encryption of investigation data" in
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Investigations-Security.html (the same page
recommends the AWS managed ``AIOpsAssistantPolicy`` for the group's role).

An account has one investigation group per region: two in one account/region of an app fail at synth.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import aws_cdk as cdk
import jsii
from aws_cdk import aws_aiops as aiops
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from devops_blueprints.constructs.app_boundary import DEFAULT_TAG_KEY
from devops_blueprints.constructs.observability._service_role import service_role

# AWS::AIOps::InvestigationGroup (resource schema): Name 1-512 characters of ``[-_A-Za-z0-9[](){}.: ]``,
# RetentionInDays 7-90, TagKeyBoundaries entries 1-200 characters of ``[\p{L}\p{Z}\p{N}_.:/=+\-@]``.
_NAME_PATTERN = re.compile(r"^[\-_A-Za-z0-9\[\]\(\)\{\}\.: ]{1,512}$")
RETENTION_DAYS_RANGE = (7, 90)
_TAG_KEY_PATTERN = re.compile(r"^[\w .:/=+\-@]{1,200}$")
# The alarm action's deduplication suffix is free text in the user guide; keep it to characters that need no
# escaping in an ARN fragment.
_DEDUPE_PATTERN = re.compile(r"^[A-Za-z0-9_.\-]{1,128}$")

_AIOPS_PRINCIPAL = "aiops.amazonaws.com"
_ALARMS_PRINCIPAL = "aiops.alarms.cloudwatch.amazonaws.com"
_ASSISTANT_POLICY = "AIOpsAssistantPolicy"
_DATA_KEY_ACTIONS = ["kms:Decrypt", "kms:GenerateDataKey"]
_REGISTRY_ID = "InvestigationGroupRegistry"


class _GroupRegistry(Construct):
    """Hidden child of the app root: the investigation group each account/region already has."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.claims: dict[str, str] = {}

    @staticmethod
    def claim(group: Construct) -> None:
        root = group.node.root
        registry = root.node.try_find_child(_REGISTRY_ID)
        if not isinstance(registry, _GroupRegistry):
            registry = _GroupRegistry(root, _REGISTRY_ID)  # type: ignore[arg-type]
        stack = cdk.Stack.of(group)
        account = "<any account>" if cdk.Token.is_unresolved(stack.account) else stack.account
        region = "<any region>" if cdk.Token.is_unresolved(stack.region) else stack.region
        env = f"{account}/{region}"
        previous = registry.claims.get(env)
        if previous is not None:
            raise ValueError(
                f"a second CloudWatch investigation group in {env}: {group.node.path} beside {previous}; an account "
                "has one investigation group per region (share the first one's alarm_action_arn)"
            )
        registry.claims[env] = group.node.path


class InvestigationGroup(Construct):
    """The account/region's CloudWatch investigation group, ready for alarms to open investigations in.

    Creates: the group, with a resource policy that lets CloudWatch alarms of this account create
    investigations and investigation events in it; a role for the group (trusted by ``aiops.amazonaws.com`` for
    this account's investigation groups only, with the AWS managed ``AIOpsAssistantPolicy``) unless ``role`` is
    given; a customer managed KMS key (rotation on) unless ``encryption_key`` is given. A key defined in this
    app gets the statements the AI Operations service and CloudWatch alarms need.

    Put :attr:`alarm_action_arn` in an alarm's actions (or ``alarm.add_alarm_action(group.alarm_action())``) and
    the alarm opens an investigation here when it enters ALARM.

    :param name: the group's name (1-512 characters: letters, digits, space and ``-_[](){}.:``).
    :param retention_days: how long investigations are kept, 7-90 days. Default: the service default.
    :param encryption_key: the customer managed key for investigation data. Default: a new key, rotation on.
    :param role: the role investigations use to read telemetry. Default: a new role as above.
    :param tag_key_boundaries: tag keys that define application boundaries for the investigations. Default:
        the application boundary's key (``DEFAULT_TAG_KEY``).
    :param cloudtrail_event_history: let investigations read CloudTrail change events. Default: True.
    :param removal_policy: applies to the group and a created key. Default: RETAIN.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        retention_days: int | None = None,
        encryption_key: kms.IKey | None = None,
        role: iam.IRole | None = None,
        tag_key_boundaries: Sequence[str] = (DEFAULT_TAG_KEY,),
        cloudtrail_event_history: bool = True,
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, construct_id)
        _validate_name(name)
        _validate_retention(retention_days)
        boundaries = _validated_tag_keys(tag_key_boundaries)
        _GroupRegistry.claim(self)

        stack = cdk.Stack.of(self)
        group_arns = f"arn:{stack.partition}:aiops:{stack.region}:{stack.account}:investigation-group/*"
        self.encryption_key: kms.IKey = encryption_key or kms.Key(
            self,
            "Key",
            description="Encrypts CloudWatch investigation data",
            enable_key_rotation=True,
            removal_policy=removal_policy,
        )
        _allow_investigations_to_use_key(self.encryption_key, group_arns)

        self.role: iam.IRole = role or service_role(
            self,
            "Role",
            service=_AIOPS_PRINCIPAL,
            source_arn=group_arns,  # the aws:SourceArn the user guide names for this principal
            managed_policy=_ASSISTANT_POLICY,
            description="Lets CloudWatch investigations read this account's telemetry",
            reason=(
                f"{_ASSISTANT_POLICY} is the read-only telemetry access the CloudWatch user guide recommends for "
                "the investigation group's role; AWS extends it as investigations learn new services"
            ),
        )

        alarms_may_investigate = iam.PolicyDocument(
            statements=[
                iam.PolicyStatement(
                    sid="AllowCloudWatchAlarmsToInvestigate",
                    principals=[iam.ServicePrincipal(_ALARMS_PRINCIPAL)],
                    actions=["aiops:CreateInvestigation", "aiops:CreateInvestigationEvent"],
                    resources=["*"],  # in a resource policy "*" means this group
                    conditions={
                        "StringEquals": {"aws:SourceAccount": stack.account},
                        "ArnLike": {
                            "aws:SourceArn": f"arn:{stack.partition}:cloudwatch:{stack.region}:{stack.account}:alarm:*"
                        },
                    },
                )
            ]
        )
        self.group = aiops.CfnInvestigationGroup(
            self,
            "Resource",
            name=name,
            retention_in_days=retention_days,
            role_arn=self.role.role_arn,
            encryption_config=aiops.CfnInvestigationGroup.EncryptionConfigMapProperty(
                encryption_configuration_type="CUSTOMER_MANAGED_KMS_KEY", kms_key_id=self.encryption_key.key_arn
            ),
            investigation_group_policy=stack.to_json_string(alarms_may_investigate.to_json()),
            is_cloud_trail_event_history_enabled=cloudtrail_event_history,
            tag_key_boundaries=boundaries or None,
        )
        self.group.apply_removal_policy(removal_policy)
        # The service checks the role and the key when the group is created.
        self.group.node.add_dependency(self.role)
        if isinstance(self.encryption_key, kms.Key):
            self.group.node.add_dependency(self.encryption_key)

    @property
    def investigation_group_arn(self) -> str:
        return self.group.attr_arn

    @property
    def alarm_action_arn(self) -> str:
        """What to put in a CloudWatch alarm's ``AlarmActions`` so the alarm opens an investigation here."""
        return self.group.attr_arn

    def alarm_action_arn_with_dedupe(self, dedupe_string: str) -> str:
        """:attr:`alarm_action_arn` with ``#DEDUPE_STRING=``: alarms sharing the string share one investigation."""
        if cdk.Token.is_unresolved(dedupe_string) or not _DEDUPE_PATTERN.match(dedupe_string or ""):
            raise ValueError(
                f"dedupe_string must be 1-128 characters of letters, digits, '_', '.', '-', got {dedupe_string!r}"
            )
        return f"{self.group.attr_arn}#DEDUPE_STRING={dedupe_string}"

    def alarm_action(self, dedupe_string: str | None = None) -> cloudwatch.IAlarmAction:
        """An alarm action for ``alarm.add_alarm_action()``; see :meth:`alarm_action_arn_with_dedupe`."""
        arn = self.alarm_action_arn if dedupe_string is None else self.alarm_action_arn_with_dedupe(dedupe_string)
        return _InvestigationAction(arn)


@jsii.implements(cloudwatch.IAlarmAction)
class _InvestigationAction:
    def __init__(self, arn: str) -> None:
        self._arn = arn

    def bind(self, scope: Construct, alarm: cloudwatch.IAlarm) -> cloudwatch.AlarmActionConfig:
        return cloudwatch.AlarmActionConfig(alarm_action_arn=self._arn)


def _validate_name(name: str) -> None:
    if cdk.Token.is_unresolved(name):
        return
    if not isinstance(name, str) or not _NAME_PATTERN.match(name):
        raise ValueError(
            "name must be 1-512 characters of letters, digits, spaces and -_[](){}.: "
            f"(AWS::AIOps::InvestigationGroup Name), got {name!r}"
        )


def _validate_retention(retention_days: int | None) -> None:
    if retention_days is None:
        return
    if (
        isinstance(retention_days, int | float)
        and not isinstance(retention_days, bool)
        and cdk.Token.is_unresolved(retention_days)
    ):
        return
    low, high = RETENTION_DAYS_RANGE
    if isinstance(retention_days, bool) or not isinstance(retention_days, int) or not low <= retention_days <= high:
        raise ValueError(f"retention_days must be a whole number of days from {low} to {high}, got {retention_days!r}")


def _validated_tag_keys(tag_keys: Sequence[str]) -> list[str]:
    if isinstance(tag_keys, str):
        raise ValueError(f"tag_key_boundaries must be a list of tag keys, got the string {tag_keys!r}")
    keys = list(tag_keys)
    for key in keys:
        if cdk.Token.is_unresolved(key):
            continue
        if not isinstance(key, str) or not _TAG_KEY_PATTERN.match(key):
            raise ValueError(
                f"tag_key_boundaries entries must be tag keys of 1-200 characters (letters, digits, spaces, "
                f"_.:/=+-@), got {key!r}"
            )
    if len(set(keys)) != len(keys):
        raise ValueError(f"tag_key_boundaries must not repeat a key, got {keys}")
    return keys


def _allow_investigations_to_use_key(key: kms.IKey, group_arns: str) -> None:
    """The key-policy statements of "Encryption of investigation data" for the two service principals (the
    statements for your own admin/operator/read-only roles are yours to add; the key's default policy already
    delegates to the account's IAM policies)."""
    stack = cdk.Stack.of(key)
    in_group = {"kms:EncryptionContext:aws:aiops:investigation-group-arn": group_arns}
    alarm_arns = f"arn:{stack.partition}:cloudwatch:{stack.region}:{stack.account}:alarm:*"
    statements: list[tuple[str, str, list[str], dict[str, str], str, dict[str, str] | None]] = [
        ("AllowAIOpsToDescribeTheKey", _AIOPS_PRINCIPAL, ["kms:DescribeKey"], {}, group_arns, None),
        ("AllowAIOpsToEncryptInvestigations", _AIOPS_PRINCIPAL, _DATA_KEY_ACTIONS, {}, group_arns, in_group),
        (
            "AllowCloudWatchAlarmsToOpenInvestigations",
            _ALARMS_PRINCIPAL,
            _DATA_KEY_ACTIONS,
            {"kms:ViaService": f"aiops.{stack.region}.amazonaws.com"},
            alarm_arns,
            in_group,
        ),
    ]
    for sid, principal, actions, equals, source_arn, context in statements:
        conditions: dict[str, object] = {
            "StringEquals": {"aws:SourceAccount": stack.account, **equals},
            "StringLike": {"aws:SourceArn": source_arn},
        }
        if context is not None:
            conditions["ArnLike"] = context
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid=sid,
                principals=[iam.ServicePrincipal(principal)],
                actions=actions,
                resources=["*"],  # in a key policy "*" means this key
                conditions=conditions,
            )
        )
