"""SCP simulation throughput: 100,000 requests against the full catalog.

The catalog's twelve SCPs are attached where the article recommends; requests are spread over three
account paths (root -> Workloads -> account, root -> Sandbox -> account, root -> Suspended -> account)
so every catalog policy takes part. The figure is requests/s of the compiled, action-indexed
:class:`Simulator`; the baseline is :func:`reference_evaluate` (every statement interpreted per
request, wildcards matched character by character, nothing precompiled or indexed), measured in the
same run on a sample of the same requests. Decisions of both are checked to agree.
"""

from __future__ import annotations

import random
import time
from typing import Any

from devops_blueprints.guardrails import Level, Request, Simulator, catalog, reference_evaluate
from devops_blueprints.guardrails.iamdb import database
from devops_blueprints.guardrails.linter import lint_document

REQUESTS = 100_000
BASELINE_SAMPLE = 5_000
GOAL_PER_SECOND = 20_000
ACCOUNT = "111122223333"
PRINCIPALS = [
    f"arn:aws:iam::{ACCOUNT}:role/{name}"
    for name in ("Developer", "Admin-Role", "FinOps-Role", "OrganizationAccountAccessRole", "ci-deploy")
]
REGIONS = ["eu-west-1", "eu-central-1", "us-east-1", "ap-south-1", "us-west-2"]
OTHER_ACTIONS = [
    "s3:GetObject",
    "s3:PutObject",
    "s3:ListBucket",
    "ec2:RunInstances",
    "ec2:DescribeInstances",
    "ec2:TerminateInstances",
    "lambda:InvokeFunction",
    "lambda:CreateFunction",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "sqs:SendMessage",
    "sns:Publish",
    "kms:Decrypt",
    "sts:AssumeRole",
    "iam:CreateRole",
    "iam:PassRole",
    "iam:GetRole",
    "cloudwatch:GetMetricData",
    "cloudwatch:DeleteAlarms",
    "logs:PutLogEvents",
    "logs:PutRetentionPolicy",
    "config:StopConfigurationRecorder",
    "guardduty:GetFindings",
    "guardduty:DeleteDetector",
    "secretsmanager:GetSecretValue",
    "budgets:ModifyBudget",
    "budgets:ViewBudget",
    "ce:UpdateAnomalyMonitor",
    "ce:GetCostAndUsage",
    "organizations:LeaveOrganization",
]


def _paths() -> dict[str, list[Level]]:
    return {ou: catalog.path(ou, account=ACCOUNT) for ou in ("Workloads", "Sandbox", "Suspended")}


def _resource(action: str, rng: random.Random) -> str:
    service = action.split(":")[0]
    region = rng.choice(REGIONS)
    prefix = rng.choice(["Admin-", "admin-", "team-"])
    return {
        "s3": f"arn:aws:s3:::bucket-{rng.randrange(50)}/key-{rng.randrange(1000)}",
        "cloudwatch": f"arn:aws:cloudwatch:{region}:{ACCOUNT}:alarm:{prefix}{rng.randrange(100)}",
        "secretsmanager": f"arn:aws:secretsmanager:{region}:{ACCOUNT}:secret:{prefix}db-AbCdEf",
        "iam": f"arn:aws:iam::{ACCOUNT}:role/app-{rng.randrange(20)}",
        "ce": f"arn:aws:ce::{ACCOUNT}:anomalymonitor/m-{rng.randrange(10)}",
    }.get(service, "*")


def _requests(count: int, seed: int = 7) -> list[tuple[str, Request]]:
    rng = random.Random(seed)
    actions = sorted({*OTHER_ACTIONS, *(a for p in catalog.CATALOG.values() for a in _actions(p.render()))})
    paths = ["Workloads", "Workloads", "Workloads", "Sandbox", "Suspended"]
    result = []
    for _ in range(count):
        action = rng.choice(actions)
        context: dict[str, Any] = {}
        if action == "iam:PassRole" and rng.random() < 0.5:
            context["iam:ResourceTag/PassRoleApproved"] = rng.choice(["true", "false"])
        request = Request(action, _resource(action, rng), rng.choice(PRINCIPALS), rng.choice(REGIONS), context)
        result.append((rng.choice(paths), request))
    return result


def _actions(document: dict[str, Any]) -> list[str]:
    found: list[str] = []
    for statement in document["Statement"]:
        value = statement.get("Action", [])
        found.extend(a for a in ([value] if isinstance(value, str) else value) if "*" not in a)
    return found


def run() -> dict[str, float]:
    started = time.perf_counter()
    database()
    db_seconds = time.perf_counter() - started
    started = time.perf_counter()
    findings = [f for p in catalog.CATALOG.values() for f in lint_document(p.render(), p.name)]
    lint_seconds = time.perf_counter() - started
    assert not findings, findings

    paths = _paths()
    requests = _requests(REQUESTS)
    started = time.perf_counter()
    simulators = {name: Simulator(levels) for name, levels in paths.items()}
    compile_seconds = time.perf_counter() - started

    started = time.perf_counter()
    decisions = [simulators[path].evaluate(request).decision for path, request in requests]
    compiled_seconds = time.perf_counter() - started
    compiled_rate = REQUESTS / compiled_seconds

    sample = requests[:BASELINE_SAMPLE]
    started = time.perf_counter()
    baseline = [reference_evaluate(paths[path], request).decision for path, request in sample]
    baseline_seconds = time.perf_counter() - started
    baseline_rate = BASELINE_SAMPLE / baseline_seconds
    assert baseline == decisions[:BASELINE_SAMPLE], "compiled and reference decisions differ"

    denied = decisions.count("DENIED")
    figures = {
        "requests": float(REQUESTS),
        "denied_share": denied / REQUESTS,
        "requests_per_second": compiled_rate,
        "baseline_requests_per_second": baseline_rate,
        "speedup_vs_baseline": compiled_rate / baseline_rate,
        "goal_ratio": compiled_rate / GOAL_PER_SECOND,
        "iam_database_load_seconds": db_seconds,
        "catalog_lint_seconds": lint_seconds,
        "compile_seconds": compile_seconds,
    }
    print(
        f"  IAM definitions loaded and indexed in {db_seconds:.2f} s; catalog (12 SCPs) linted in {lint_seconds:.3f} s"
    )
    print(
        f"  compiled simulator: {REQUESTS:,} requests in {compiled_seconds:.2f} s = {compiled_rate:,.0f} requests/s "
        f"({denied / REQUESTS:.0%} denied)"
    )
    print(
        f"  reference evaluation (baseline, {BASELINE_SAMPLE:,} of the same requests): {baseline_rate:,.0f} requests/s"
    )
    print(
        f"  speed-up vs baseline: {compiled_rate / baseline_rate:.1f}x; "
        f"goal {GOAL_PER_SECOND:,}/s: {'met' if compiled_rate >= GOAL_PER_SECOND else 'NOT met'} "
        f"({compiled_rate / GOAL_PER_SECOND:.2f}x)"
    )
    return figures


if __name__ == "__main__":
    run()
