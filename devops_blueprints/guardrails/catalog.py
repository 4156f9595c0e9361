"""The SCP catalog: the source article's policies ("Codify your best practices using service control
policies", AWS Cloud Operations blog) as named, parameterised policies with the attachment point the
article recommends.

Two of the article's policies are defective as published, and the shipped forms fix them:

* the CloudWatch policy names ``arn:aws:cloudwatch:::alarm:Admin-*`` — alarm ARNs always carry a
  region and an account, so an empty region and account never match and the policy protects nothing;
  the shipped form uses ``arn:aws:cloudwatch:*:*:alarm:Admin-*``;
* the Budgets and Cost Anomaly Detection policies compare ``aws:PrincipalAccount`` (a 12-digit
  account ID) with IAM role ARNs — never equal, so the exempt FinOps role is denied too; the shipped
  forms compare ``aws:PrincipalArn`` with ``ArnNotLike``.

:meth:`CatalogPolicy.published` returns the published forms so tests (and users) can see the linter
flag them (``arn-format``, ``condition-value-type``).

Every catalog policy denies at least what the article's policy denies for principals it does not
exempt, and is recommended where the article attaches it; the deliberate divergences (each named with
its reason) are listed in ``docs/guardrails-article-fidelity.md``, which the fidelity test reads.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from devops_blueprints.guardrails.model import Policy, full_aws_access, policy_from_document
from devops_blueprints.guardrails.simulator import Level

ROOT = "Root"
OU_NAMES = ("Security", "Infrastructure", "Workloads", "Sandbox", "Suspended", "PolicyStaging", "Exceptions")
VERSION = "2012-10-17"
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}|\*):role/[\w+=,.@*/-]+$")
_NAME_PREFIX = re.compile(r"^[\w+=,.@/-]{1,64}$")
_TAG = re.compile(r"^[\w .:/=+@-]{1,128}$")

Document = dict[str, Any]


def _doc(*statements: Mapping[str, Any]) -> Document:
    return {"Version": VERSION, "Statement": [dict(s) for s in statements]}


def _except_roles(role_arns: Sequence[str]) -> dict[str, Any]:
    return {"ArnNotLike": {"aws:PrincipalArn": list(role_arns)}}


# -- validators ----------------------------------------------------------------------------------


def _role_arns(name: str, value: Any) -> list[str]:
    items = [value] if isinstance(value, str) else list(value)
    if not items:
        raise ValueError(f"{name} must name at least one role ARN")
    for item in items:
        if not isinstance(item, str) or not _ROLE_ARN.match(item):
            raise ValueError(f"{name} must be IAM role ARNs like arn:aws:iam::*:role/Name, got {item!r}")
    return items


def _regions(name: str, value: Any) -> list[str]:
    items = [value] if isinstance(value, str) else list(value)
    if not items:
        raise ValueError(f"{name} must name at least one region")
    for item in items:
        if not isinstance(item, str) or not _REGION.match(item):
            raise ValueError(f"{name} must be region names like eu-west-1, got {item!r}")
    return items


def _pattern(regex: re.Pattern[str], what: str) -> Callable[[str, Any], str]:
    def validate(name: str, value: Any) -> str:
        if not isinstance(value, str) or not regex.match(value):
            raise ValueError(f"{name} must be {what}, got {value!r}")
        return value

    return validate


_prefix = _pattern(_NAME_PREFIX, "a resource name prefix (letters, digits and + = , . @ / - _)")
_tag = _pattern(_TAG, "a tag key or value (1-128 characters)")
_partition = _pattern(re.compile(r"^aws(-[a-z]+)*$"), "a partition such as aws or aws-us-gov")

# -- policy builders -----------------------------------------------------------------------------

CLOUDWATCH_ACTIONS = (
    "cloudwatch:DeleteAlarms",
    "cloudwatch:DeleteAnomalyDetector",
    "cloudwatch:DeleteDashboards",
    "cloudwatch:DisableAlarmActions",
    "cloudwatch:PutAnomalyDetector",
    "cloudwatch:PutDashboard",
    "cloudwatch:PutMetricAlarm",
    "cloudwatch:SetAlarmState",
)


def _cloudwatch(p: Mapping[str, Any], *, published: bool = False) -> Document:
    prefix, part = p["name_prefix"], p["partition"]
    alarm = f"arn:{part}:cloudwatch:::alarm:{prefix}*" if published else f"arn:{part}:cloudwatch:*:*:alarm:{prefix}*"
    resources = [alarm, f"arn:{part}:cloudwatch::*:dashboard/{prefix}*"]
    return _doc(
        {
            "Sid": "DenyChangesToAdminMonitors",
            "Effect": "Deny",
            "Action": list(CLOUDWATCH_ACTIONS),
            "Resource": resources,
        }
    )


LOG_ACTIONS = ("logs:DeleteLogGroup", "logs:DeleteRetentionPolicy", "logs:PutRetentionPolicy")


def _log_retention(p: Mapping[str, Any]) -> Document:
    return _doc(
        {
            "Sid": "DenyLogRetentionChanges",
            "Effect": "Deny",
            "Action": list(LOG_ACTIONS),
            "Resource": "*",
            "Condition": _except_roles(p["admin_role_arns"]),
        }
    )


# The article's list ("Config Rules, Conformance Packs, and Multi-Account Multi-Region data aggregation")
# without config:DeleteConfigSnapshot, which AWS Config does not have (see the fidelity page).
CONFIG_ACTIONS = (
    "config:DeleteAggregationAuthorization",
    "config:DeleteConfigRule",
    "config:DeleteConfigurationAggregator",
    "config:DeleteConfigurationRecorder",
    "config:DeleteConformancePack",
    "config:DeleteDeliveryChannel",
    "config:DeleteEvaluationResults",
    "config:DeleteOrganizationConfigRule",
    "config:DeleteResourceConfig",
    "config:DeleteRetentionConfiguration",
    "config:PutConfigurationAggregator",
    "config:PutConfigurationRecorder",
    "config:PutDeliveryChannel",
    "config:PutRetentionConfiguration",
    "config:StopConfigurationRecorder",
)


def _config(p: Mapping[str, Any]) -> Document:
    return _doc(
        {
            "Sid": "DenyConfigChanges",
            "Effect": "Deny",
            "Action": list(CONFIG_ACTIONS),
            "Resource": "*",
            "Condition": _except_roles(p["admin_role_arns"]),
        }
    )


def _leave_org(_p: Mapping[str, Any]) -> Document:
    return _doc(
        {
            "Sid": "DenyLeaveOrganization",
            "Effect": "Deny",
            "Action": "organizations:LeaveOrganization",
            "Resource": "*",
        }
    )


def _deny_all(_p: Mapping[str, Any]) -> Document:
    return _doc({"Sid": "DenyAll", "Effect": "Deny", "Action": "*", "Resource": "*"})


def _sandbox_iam(p: Mapping[str, Any]) -> Document:
    return _doc(
        {
            "Sid": "DenyIamExceptAdminRole",
            "Effect": "Deny",
            "Action": "iam:*",
            "Resource": "*",
            "Condition": _except_roles(p["admin_role_arns"]),
        }
    )


GLOBAL_SERVICE_ACTIONS = (
    "a4b:*",
    "acm:*",
    "aws-marketplace-management:*",
    "aws-marketplace:*",
    "aws-portal:*",
    "budgets:*",
    "ce:*",
    "chime:*",
    "cloudfront:*",
    "config:*",
    "cur:*",
    "directconnect:*",
    "ec2:DescribeRegions",
    "ec2:DescribeTransitGateways",
    "ec2:DescribeVpnGateways",
    "fms:*",
    "globalaccelerator:*",
    "health:*",
    "iam:*",
    "importexport:*",
    "kms:*",
    "networkmanager:*",
    "organizations:*",
    "pricing:*",
    "route53:*",
    "route53domains:*",
    "route53-recovery-cluster:*",
    "route53-recovery-control-config:*",
    "route53-recovery-readiness:*",
    "s3:GetAccountPublic*",
    "s3:ListAllMyBuckets",
    "s3:ListMultiRegionAccessPoints",
    "s3:PutAccountPublic*",
    "shield:*",
    "sts:*",
    "support:*",
    "trustedadvisor:*",
    "waf-regional:*",
    "waf:*",
    "wafv2:*",
    "wellarchitected:*",
)


def _regions_policy(p: Mapping[str, Any]) -> Document:
    return _doc(
        {
            "Sid": "DenyOutsideApprovedRegions",
            "Effect": "Deny",
            "NotAction": list(GLOBAL_SERVICE_ACTIONS),
            "Resource": "*",
            "Condition": {
                "StringNotEquals": {"aws:RequestedRegion": list(p["regions"])},
                **_except_roles(p["bypass_role_arns"]),
            },
        }
    )


def _passrole(p: Mapping[str, Any]) -> Document:
    return _doc(
        {
            "Sid": "DenyPassRoleWithoutTag",
            "Effect": "Deny",
            "Action": ["iam:GetRole", "iam:PassRole"],
            "Resource": f"arn:{p['partition']}:iam::*:role/*",
            "Condition": {"StringNotEquals": {f"iam:ResourceTag/{p['tag_key']}": p["tag_value"]}},
        }
    )


def _secrets(p: Mapping[str, Any]) -> Document:
    return _doc(
        {
            "Sid": "DenyAdminSecretsAccess",
            "Effect": "Deny",
            "Action": "secretsmanager:*",
            "Resource": f"arn:{p['partition']}:secretsmanager:*:*:secret:{p['name_prefix']}*",
            "Condition": _except_roles(p["admin_role_arns"]),
        },
        {
            # as the article: listing secrets (an action without resource types) is denied too
            "Sid": "DenyListingSecrets",
            "Effect": "Deny",
            "Action": "secretsmanager:ListSecrets",
            "Resource": "*",
            "Condition": _except_roles(p["admin_role_arns"]),
        },
    )


GUARDDUTY_ACTIONS = (
    "guardduty:AcceptAdministratorInvitation",
    "guardduty:AcceptInvitation",  # the older name of AcceptAdministratorInvitation, still in IAM
    "guardduty:ArchiveFindings",
    "guardduty:CreateDetector",
    "guardduty:CreateFilter",
    "guardduty:CreateIPSet",
    "guardduty:CreateMembers",
    "guardduty:CreatePublishingDestination",
    "guardduty:CreateSampleFindings",
    "guardduty:CreateThreatIntelSet",
    "guardduty:DeclineInvitations",
    "guardduty:DeleteDetector",
    "guardduty:DeleteFilter",
    "guardduty:DeleteInvitations",
    "guardduty:DeleteIPSet",
    "guardduty:DeleteMembers",
    "guardduty:DeletePublishingDestination",
    "guardduty:DeleteThreatIntelSet",
    "guardduty:DisassociateFromAdministratorAccount",
    "guardduty:DisassociateFromMasterAccount",  # the older name, still in IAM: the old API stays closed
    "guardduty:DisassociateMembers",
    "guardduty:InviteMembers",
    "guardduty:StartMonitoringMembers",
    "guardduty:StopMonitoringMembers",
    "guardduty:TagResource",
    "guardduty:UnarchiveFindings",
    "guardduty:UntagResource",
    "guardduty:UpdateDetector",
    "guardduty:UpdateFilter",
    "guardduty:UpdateFindingsFeedback",
    "guardduty:UpdateIPSet",
    "guardduty:UpdateMalwareScanSettings",
    "guardduty:UpdateMemberDetectors",
    "guardduty:UpdateOrganizationConfiguration",
    "guardduty:UpdatePublishingDestination",
    "guardduty:UpdateThreatIntelSet",
)


def _guardduty(p: Mapping[str, Any]) -> Document:
    return _doc(
        {
            "Sid": "DenyGuardDutyChanges",
            "Effect": "Deny",
            "Action": list(GUARDDUTY_ACTIONS),
            "Resource": "*",
            "Condition": _except_roles(p["admin_role_arns"]),
        }
    )


BUDGET_ACTIONS = (
    "budgets:CreateBudgetAction",
    "budgets:DeleteBudgetAction",
    "budgets:ExecuteBudgetAction",
    "budgets:ModifyBudget",
    "budgets:UpdateBudgetAction",
)
ANOMALY_ACTIONS = (
    "ce:CreateAnomalyMonitor",
    "ce:DeleteAnomalyMonitor",
    "ce:UpdateAnomalyMonitor",
    "ce:CreateAnomalySubscription",
    "ce:DeleteAnomalySubscription",
    "ce:UpdateAnomalySubscription",
)


def _finops(sid: str, actions: Sequence[str]) -> Callable[..., Document]:
    def build(p: Mapping[str, Any], *, published: bool = False) -> Document:
        roles = list(p["finops_role_arns"])
        condition = {"StringNotEquals": {"aws:PrincipalAccount": roles}} if published else _except_roles(roles)
        return _doc({"Sid": sid, "Effect": "Deny", "Action": list(actions), "Resource": "*", "Condition": condition})

    return build


# -- the catalog ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CatalogPolicy:
    """One catalog SCP: ``render(**overrides)`` gives the shipped document."""

    name: str
    title: str
    pillar: str
    attach_to: tuple[str, ...]
    defaults: Mapping[str, Any]
    validators: Mapping[str, Callable[[str, Any], Any]]
    builder: Callable[..., Document]
    published_defect: str | None = None
    description: str = field(default="")

    def parameters(self, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        overrides = dict(overrides or {})
        unknown = sorted(set(overrides) - set(self.defaults))
        if unknown:
            allowed = ", ".join(sorted(self.defaults)) or "none"
            raise ValueError(f"{self.name}: unknown parameter(s) {', '.join(unknown)}; allowed: {allowed}")
        values = {**self.defaults, **overrides}
        return {key: self.validators[key](f"{self.name}.{key}", value) for key, value in values.items()}

    def render(self, **overrides: Any) -> Document:
        return self.builder(self.parameters(overrides))

    def policy(self, **overrides: Any) -> Policy:
        return policy_from_document(self.render(**overrides), self.name)

    def published(self, **overrides: Any) -> Document:
        """The article's form as published (only for the policies with a published defect)."""
        if self.published_defect is None:
            raise ValueError(f"{self.name}: the published form has no known defect; use render()")
        return self.builder(self.parameters(overrides), published=True)


_ADMIN = {"admin_role_arns": ["arn:aws:iam::*:role/Admin-Role"]}
_ROLES = {"admin_role_arns": _role_arns}
_FINOPS = {"finops_role_arns": ["arn:aws:iam::*:role/FinOps-Role"]}

CATALOG: dict[str, CatalogPolicy] = {
    p.name: p
    for p in (
        CatalogPolicy(
            "protect-admin-cloudwatch",
            "Deny changes to administrator-issued CloudWatch alarms and dashboards (names starting with Admin-)",
            "Operational excellence",
            (ROOT,),
            {"name_prefix": "Admin-", "partition": "aws"},
            {"name_prefix": _prefix, "partition": _partition},
            _cloudwatch,
            "arn-format: arn:aws:cloudwatch:::alarm:Admin-* has an empty region and account",
        ),
        CatalogPolicy(
            "protect-log-retention",
            "Deny deleting log groups and changing CloudWatch Logs retention except by the admin role",
            "Operational excellence",
            (ROOT,),
            _ADMIN,
            _ROLES,
            _log_retention,
        ),
        CatalogPolicy(
            "protect-aws-config",
            "Deny stopping or changing AWS Config except by the admin role",
            "Operational excellence",
            (ROOT,),
            _ADMIN,
            _ROLES,
            _config,
        ),
        CatalogPolicy(
            "deny-leave-organization",
            "Deny member accounts leaving the organization",
            "Security",
            (ROOT,),
            {},
            {},
            _leave_org,
        ),
        CatalogPolicy(
            "deny-all-suspended",
            "Deny every action in suspended accounts",
            "Security",
            ("Suspended",),
            {},
            {},
            _deny_all,
        ),
        CatalogPolicy(
            "sandbox-iam-admin-only",
            "Deny IAM changes in sandbox accounts except by the admin role",
            "Security",
            ("Sandbox",),
            _ADMIN,
            _ROLES,
            _sandbox_iam,
        ),
        CatalogPolicy(
            "approved-regions",
            "Deny regional services outside the approved regions (global services and bypass roles exempt)",
            "Reliability",
            ("Workloads", "Sandbox"),
            {
                "regions": ["eu-west-1", "eu-central-1"],
                "bypass_role_arns": ["arn:aws:iam::*:role/OrganizationAccountAccessRole"],
            },
            {"regions": _regions, "bypass_role_arns": _role_arns},
            _regions_policy,
        ),
        CatalogPolicy(
            "deny-passrole-untagged",
            "Deny iam:PassRole and iam:GetRole for roles without the pass-role tag",
            "Security",
            (ROOT,),
            {"tag_key": "PassRoleApproved", "tag_value": "true", "partition": "aws"},
            {"tag_key": _tag, "tag_value": _tag, "partition": _partition},
            _passrole,
        ),
        CatalogPolicy(
            "protect-admin-secrets",
            "Deny access to administrator secrets (names starting with admin-) and listing secrets, "
            "except by the admin role",
            "Security",
            ("Workloads",),
            {"name_prefix": "admin-", "partition": "aws", **_ADMIN},
            {"name_prefix": _prefix, "partition": _partition, **_ROLES},
            _secrets,
        ),
        CatalogPolicy(
            "protect-guardduty",
            "Deny disabling or reconfiguring GuardDuty except by the admin role",
            "Security",
            (ROOT,),
            _ADMIN,
            _ROLES,
            _guardduty,
        ),
        CatalogPolicy(
            "protect-budget-actions",
            "Deny changes to AWS Budgets and budget actions except by the FinOps role",
            "Cost optimization",
            (ROOT,),
            _FINOPS,
            {"finops_role_arns": _role_arns},
            _finops("DenyBudgetChanges", BUDGET_ACTIONS),
            "condition-value-type: aws:PrincipalAccount compared with IAM role ARNs",
        ),
        CatalogPolicy(
            "protect-cost-anomaly-detection",
            "Deny changes to Cost Anomaly Detection monitors and subscriptions except by the FinOps role",
            "Cost optimization",
            (ROOT,),
            _FINOPS,
            {"finops_role_arns": _role_arns},
            _finops("DenyAnomalyDetectionChanges", ANOMALY_ACTIONS),
            "condition-value-type: aws:PrincipalAccount compared with IAM role ARNs",
        ),
    )
}


def get(name: str) -> CatalogPolicy:
    try:
        return CATALOG[name]
    except KeyError:
        raise ValueError(f"unknown catalog policy {name!r}; known: {', '.join(CATALOG)}") from None


def attachments(names: Sequence[str] | None = None) -> dict[str, list[str]]:
    """Recommended attachment point -> catalog policy names (every target the article names)."""
    result: dict[str, list[str]] = {}
    for name in names if names is not None else list(CATALOG):
        for target in get(name).attach_to:
            result.setdefault(target, []).append(name)
    return result


def path(
    ou: str,
    *,
    account: str = "Account",
    names: Sequence[str] | None = None,
    parameters: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[Level]:
    """The levels root -> ``ou`` -> account with the catalog SCPs attached where recommended (and
    FullAWSAccess at every level), ready for :class:`~devops_blueprints.guardrails.Simulator`."""
    if ou not in OU_NAMES:
        raise ValueError(f"ou must be one of {', '.join(OU_NAMES)}, got {ou!r}")
    targets = attachments(names)
    overrides = parameters or {}

    def level(target: str) -> Level:
        policies = [get(name).policy(**overrides.get(name, {})) for name in targets.get(target, [])]
        return Level(target, (full_aws_access(), *policies))

    return [level(ROOT), level(ou), Level(account, (full_aws_access(),))]
