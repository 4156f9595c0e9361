"""Every catalog SCP, simulated: requests it must deny and requests it must allow (GIVEN the policy
attached beside FullAWSAccess, WHEN a request is simulated, THEN the decision is as the article means)."""

from __future__ import annotations

import pytest

from devops_blueprints.guardrails import Request, Simulator, catalog, full_aws_access, lint_document
from devops_blueprints.guardrails.catalog import OU_NAMES, ROOT
from devops_blueprints.guardrails.model import policy_from_document

ACCOUNT = "111122223333"
DEV = f"arn:aws:iam::{ACCOUNT}:role/Developer"
ADMIN = f"arn:aws:iam::{ACCOUNT}:role/Admin-Role"
FINOPS = f"arn:aws:iam::{ACCOUNT}:role/FinOps-Role"
BYPASS = f"arn:aws:iam::{ACCOUNT}:role/OrganizationAccountAccessRole"
MONITOR = f"arn:aws:ce::{ACCOUNT}:anomalymonitor/0f6d1c5e-1111-2222-3333-444455556666"


def decide(name: str, request: Request, *, published: bool = False) -> str:
    entry = catalog.get(name)
    document = entry.published() if published else entry.render()
    policy = policy_from_document(document, name)
    return Simulator([[full_aws_access(), policy]]).evaluate(request).decision


CASES: list[tuple[str, Request, str]] = [
    # CloudWatch: administrator alarms and dashboards are protected, the developers' own are not.
    (
        "protect-admin-cloudwatch",
        Request("cloudwatch:DeleteAlarms", f"arn:aws:cloudwatch:eu-west-1:{ACCOUNT}:alarm:Admin-cpu", DEV),
        "DENIED",
    ),
    (
        "protect-admin-cloudwatch",
        Request("cloudwatch:PutDashboard", f"arn:aws:cloudwatch::{ACCOUNT}:dashboard/Admin-overview", DEV),
        "DENIED",
    ),
    (
        "protect-admin-cloudwatch",
        Request("cloudwatch:DeleteAlarms", f"arn:aws:cloudwatch:eu-west-1:{ACCOUNT}:alarm:team-cpu", DEV),
        "ALLOWED",
    ),
    (
        "protect-admin-cloudwatch",
        Request("cloudwatch:GetDashboard", f"arn:aws:cloudwatch::{ACCOUNT}:dashboard/Admin-overview", DEV),
        "ALLOWED",
    ),
    # CloudWatch Logs retention.
    ("protect-log-retention", Request("logs:PutRetentionPolicy", principal_arn=DEV), "DENIED"),
    ("protect-log-retention", Request("logs:DeleteRetentionPolicy", principal_arn=DEV), "DENIED"),
    ("protect-log-retention", Request("logs:DeleteLogGroup", principal_arn=DEV), "DENIED"),
    ("protect-log-retention", Request("logs:PutRetentionPolicy", principal_arn=ADMIN), "ALLOWED"),
    ("protect-log-retention", Request("logs:CreateLogGroup", principal_arn=DEV), "ALLOWED"),
    # AWS Config.
    ("protect-aws-config", Request("config:StopConfigurationRecorder", principal_arn=DEV), "DENIED"),
    ("protect-aws-config", Request("config:DeleteConfigRule", principal_arn=DEV), "DENIED"),
    ("protect-aws-config", Request("config:DeleteConformancePack", principal_arn=DEV), "DENIED"),
    ("protect-aws-config", Request("config:PutConfigurationAggregator", principal_arn=DEV), "DENIED"),
    ("protect-aws-config", Request("config:StopConfigurationRecorder", principal_arn=ADMIN), "ALLOWED"),
    ("protect-aws-config", Request("config:DescribeConfigRules", principal_arn=DEV), "ALLOWED"),
    # Leaving the organization.
    ("deny-leave-organization", Request("organizations:LeaveOrganization", principal_arn=ADMIN), "DENIED"),
    ("deny-leave-organization", Request("organizations:DescribeOrganization", principal_arn=DEV), "ALLOWED"),
    # Suspended OU: everything is denied, even for administrators.
    ("deny-all-suspended", Request("s3:GetObject", "arn:aws:s3:::bucket/key", ADMIN), "DENIED"),
    ("deny-all-suspended", Request("sts:GetCallerIdentity", principal_arn=BYPASS), "DENIED"),
    # Sandbox IAM: only the admin role may touch IAM.
    ("sandbox-iam-admin-only", Request("iam:CreateUser", principal_arn=DEV), "DENIED"),
    ("sandbox-iam-admin-only", Request("IAM:attachrolepolicy", principal_arn=DEV), "DENIED"),
    ("sandbox-iam-admin-only", Request("iam:CreateUser", principal_arn=ADMIN), "ALLOWED"),
    ("sandbox-iam-admin-only", Request("ec2:RunInstances", principal_arn=DEV), "ALLOWED"),
    # Approved regions: global services exempt through NotAction, bypass role exempt.
    ("approved-regions", Request("ec2:RunInstances", principal_arn=DEV, region="ap-south-1"), "DENIED"),
    ("approved-regions", Request("ec2:RunInstances", principal_arn=DEV, region="eu-west-1"), "ALLOWED"),
    ("approved-regions", Request("iam:CreateRole", principal_arn=DEV, region="ap-south-1"), "ALLOWED"),
    ("approved-regions", Request("iam:CreateRole", principal_arn=DEV, region="us-east-1"), "ALLOWED"),
    (
        "approved-regions",
        Request("s3:PutAccountPublicAccessBlock", principal_arn=DEV, region="ap-south-1"),
        "ALLOWED",
    ),
    ("approved-regions", Request("s3:CreateBucket", principal_arn=DEV, region="ap-south-1"), "DENIED"),
    ("approved-regions", Request("ec2:RunInstances", principal_arn=BYPASS, region="ap-south-1"), "ALLOWED"),
    # PassRole only for roles that carry the pass-role tag.
    ("deny-passrole-untagged", Request("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/app", DEV), "DENIED"),
    (
        "deny-passrole-untagged",
        Request(
            "iam:PassRole",
            f"arn:aws:iam::{ACCOUNT}:role/app",
            DEV,
            context={"iam:ResourceTag/PassRoleApproved": "false"},
        ),
        "DENIED",
    ),
    (
        "deny-passrole-untagged",
        Request(
            "iam:PassRole",
            f"arn:aws:iam::{ACCOUNT}:role/app",
            DEV,
            context={"iam:ResourceTag/PassRoleApproved": "true"},
        ),
        "ALLOWED",
    ),
    ("deny-passrole-untagged", Request("iam:GetRole", f"arn:aws:iam::{ACCOUNT}:role/app", DEV), "DENIED"),
    (
        "deny-passrole-untagged",
        Request(
            "iam:GetRole",
            f"arn:aws:iam::{ACCOUNT}:role/app",
            DEV,
            context={"iam:ResourceTag/PassRoleApproved": "true"},
        ),
        "ALLOWED",
    ),
    ("deny-passrole-untagged", Request("iam:ListRoles", principal_arn=DEV), "ALLOWED"),
    # Administrator secrets.
    (
        "protect-admin-secrets",
        Request(
            "secretsmanager:GetSecretValue",
            f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:admin-db-AbCdEf",
            DEV,
        ),
        "DENIED",
    ),
    (
        "protect-admin-secrets",
        Request(
            "secretsmanager:GetSecretValue",
            f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:admin-db-AbCdEf",
            ADMIN,
        ),
        "ALLOWED",
    ),
    (
        "protect-admin-secrets",
        Request(
            "secretsmanager:GetSecretValue",
            f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:app-db-AbCdEf",
            DEV,
        ),
        "ALLOWED",
    ),
    ("protect-admin-secrets", Request("secretsmanager:ListSecrets", principal_arn=DEV), "DENIED"),
    ("protect-admin-secrets", Request("secretsmanager:ListSecrets", principal_arn=ADMIN), "ALLOWED"),
    # GuardDuty.
    ("protect-guardduty", Request("guardduty:DeleteDetector", principal_arn=DEV), "DENIED"),
    ("protect-guardduty", Request("guardduty:UpdateDetector", principal_arn=DEV), "DENIED"),
    ("protect-guardduty", Request("guardduty:DisassociateFromMasterAccount", principal_arn=DEV), "DENIED"),
    ("protect-guardduty", Request("guardduty:DeleteDetector", principal_arn=ADMIN), "ALLOWED"),
    ("protect-guardduty", Request("guardduty:GetFindings", principal_arn=DEV), "ALLOWED"),
    # Budgets and budget actions: only the FinOps role.
    ("protect-budget-actions", Request("budgets:ExecuteBudgetAction", principal_arn=DEV), "DENIED"),
    ("protect-budget-actions", Request("budgets:ModifyBudget", principal_arn=DEV), "DENIED"),
    ("protect-budget-actions", Request("budgets:ModifyBudget", principal_arn=FINOPS), "ALLOWED"),
    ("protect-budget-actions", Request("budgets:ViewBudget", principal_arn=DEV), "ALLOWED"),
    # Cost Anomaly Detection: only the FinOps role.
    ("protect-cost-anomaly-detection", Request("ce:UpdateAnomalyMonitor", MONITOR, DEV), "DENIED"),
    ("protect-cost-anomaly-detection", Request("ce:DeleteAnomalySubscription", principal_arn=DEV), "DENIED"),
    ("protect-cost-anomaly-detection", Request("ce:UpdateAnomalyMonitor", MONITOR, FINOPS), "ALLOWED"),
    ("protect-cost-anomaly-detection", Request("ce:GetAnomalies", principal_arn=DEV), "ALLOWED"),
]


@pytest.mark.parametrize(("name", "request_", "expected"), CASES, ids=[f"{c[0]}-{c[1].action}-{c[2]}" for c in CASES])
def test_catalog_policy_decides_as_intended(name: str, request_: Request, expected: str) -> None:
    assert decide(name, request_) == expected


def test_every_catalog_policy_has_a_denied_and_an_allowed_case() -> None:
    for name in catalog.CATALOG:
        outcomes = {expected for case_name, _request, expected in CASES if case_name == name}
        if name == "deny-all-suspended":
            assert outcomes == {"DENIED"}
        else:
            assert outcomes == {"DENIED", "ALLOWED"}, name


def test_published_cloudwatch_policy_protects_nothing() -> None:
    # GIVEN the article's published CloudWatch SCP (empty region and account in the alarm ARN)
    request = Request("cloudwatch:DeleteAlarms", f"arn:aws:cloudwatch:eu-west-1:{ACCOUNT}:alarm:Admin-cpu", DEV)
    # THEN deleting an administrator alarm is not denied by it, but is by the shipped form
    assert decide("protect-admin-cloudwatch", request, published=True) == "ALLOWED"
    assert decide("protect-admin-cloudwatch", request) == "DENIED"


@pytest.mark.parametrize("name", ["protect-budget-actions", "protect-cost-anomaly-detection"])
def test_published_finops_policies_deny_the_finops_role_too(name: str) -> None:
    action = "ce:UpdateAnomalyMonitor" if "anomaly" in name else "budgets:ModifyBudget"
    resource = MONITOR if "anomaly" in name else "*"
    request = Request(action, resource, FINOPS)
    assert decide(name, request, published=True) == "DENIED"
    assert decide(name, request) == "ALLOWED"


def test_shipped_catalog_lints_clean_and_published_defects_are_flagged() -> None:
    for name, entry in catalog.CATALOG.items():
        assert [f for f in lint_document(entry.render(), name) if f.severity == "error"] == [], name
    cloudwatch = lint_document(catalog.get("protect-admin-cloudwatch").published())
    assert [(f.code, f.severity) for f in cloudwatch] == [("arn-format", "error")]
    assert "arn:aws:cloudwatch:::alarm:Admin-*" in cloudwatch[0].message
    for name in ("protect-budget-actions", "protect-cost-anomaly-detection"):
        findings = lint_document(catalog.get(name).published())
        assert {(f.code, f.severity) for f in findings} == {("condition-value-type", "error")}
        assert "aws:PrincipalAccount" in findings[0].message


def test_parameters_change_the_rendered_policy() -> None:
    entry = catalog.get("approved-regions")
    document = entry.render(regions=["ap-south-1"], bypass_role_arns=["arn:aws:iam::*:role/Platform"])
    policy = policy_from_document(document, "regions")
    simulator = Simulator([[full_aws_access(), policy]])
    assert simulator.evaluate(Request("ec2:RunInstances", principal_arn=DEV, region="ap-south-1")).allowed
    assert not simulator.evaluate(Request("ec2:RunInstances", principal_arn=DEV, region="eu-west-1")).allowed
    platform = f"arn:aws:iam::{ACCOUNT}:role/Platform"
    assert simulator.evaluate(Request("ec2:RunInstances", principal_arn=platform, region="eu-west-1")).allowed


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        (
            "approved-regions",
            {"regions": ["Ireland"]},
            r"approved-regions\.regions must be region names.*'Ireland'",
        ),
        (
            "approved-regions",
            {"region": ["eu-west-1"]},
            r"unknown parameter\(s\) region; allowed: bypass_role_arns, regions",
        ),
        (
            "protect-budget-actions",
            {"finops_role_arns": ["123456789012"]},
            r"must be IAM role ARNs.*'123456789012'",
        ),
        ("deny-passrole-untagged", {"tag_key": ""}, r"tag_key must be a tag key"),
    ],
)
def test_bad_parameters_are_rejected_with_the_parameter_named(name: str, params: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        catalog.get(name).render(**params)


def test_unknown_catalog_name_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown catalog policy 'nope'; known: protect-admin-cloudwatch"):
        catalog.get("nope")


def test_published_form_only_exists_for_defective_policies() -> None:
    with pytest.raises(ValueError, match="no known defect"):
        catalog.get("deny-leave-organization").published()


def test_attachment_points_are_root_or_known_ous() -> None:
    targets = catalog.attachments()
    assert set(targets) <= {ROOT, *OU_NAMES}
    assert "deny-all-suspended" in targets["Suspended"]
    assert "sandbox-iam-admin-only" in targets["Sandbox"]
    assert len(catalog.CATALOG) == 12


def test_recommended_paths_root_to_ou_to_account() -> None:
    workloads = Simulator(catalog.path("Workloads", account=ACCOUNT))
    security = Simulator(catalog.path("Security", account=ACCOUNT))
    suspended = Simulator(catalog.path("Suspended", account=ACCOUNT))
    far_away = Request("ec2:RunInstances", principal_arn=DEV, region="ap-south-1")
    # the region guardrail sits on Workloads (and Sandbox), not on Security
    assert workloads.evaluate(far_away).matched == (("approved-regions", "DenyOutsideApprovedRegions"),)
    assert security.evaluate(far_away).allowed
    # root policies apply on every path
    leave = Request("organizations:LeaveOrganization", principal_arn=ADMIN)
    assert security.evaluate(leave).matched == (("deny-leave-organization", "DenyLeaveOrganization"),)
    # Suspended denies everything, and root denies are reported beside it
    result = suspended.evaluate(leave)
    assert set(result.matched) == {
        ("deny-leave-organization", "DenyLeaveOrganization"),
        ("deny-all-suspended", "DenyAll"),
    }
    assert not suspended.evaluate(Request("s3:GetObject", "arn:aws:s3:::b/k", ADMIN, "eu-west-1")).allowed
    assert workloads.evaluate(Request("s3:GetObject", "arn:aws:s3:::b/k", DEV, "eu-west-1")).allowed


def test_path_parameters_and_bad_ou() -> None:
    levels = catalog.path("Workloads", parameters={"approved-regions": {"regions": ["ap-south-1"]}})
    assert Simulator(levels).evaluate(Request("ec2:RunInstances", principal_arn=DEV, region="ap-south-1")).allowed
    with pytest.raises(ValueError, match=r"ou must be one of Security, .*got 'Prod'"):
        catalog.path("Prod")
